// Unit tests for persistence/store_actor.hpp: every request of the store
// actor on a temp store, corrupt records as store_errc errors, copies.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <tuple>
#include <utility>

#include <caf/all.hpp>

#include "persistence/keys.hpp"
#include "persistence/store.hpp"
#include "persistence/store_actor.hpp"
#include "tests/unit/temp_dir.hpp"

using namespace skein::persistence;
namespace fs = std::filesystem;

namespace {

constexpr auto answer_within = std::chrono::seconds(10);

struct temp_dir : skein::test::temp_dir {
  temp_dir() : skein::test::temp_dir("skein-store-actor") {}
};

caf::actor_system_config& configure(caf::actor_system_config& cfg) {
  add_store_error_category(cfg);
  return cfg;
}

journal_record journal(std::uint64_t epoch, std::uint64_t last_seq) {
  journal_record r;
  r.client = "c1";
  r.kind_of_input = "message";
  r.payload = R"({"text":"hi"})";
  r.epoch = epoch;
  r.last_seq = last_seq;
  r.outputs = 1;
  return r;
}

snapshot_record snapshot(std::uint64_t seq, std::uint64_t journal_seq, std::uint64_t epoch) {
  snapshot_record s;
  s.seq = seq;
  s.journal_seq = journal_seq;
  s.epoch = epoch;
  s.state = "state-" + std::to_string(journal_seq);
  return s;
}

// A store, an actor system and the store actor reading it.
struct fixture {
  temp_dir tmp;
  store db{store_options{tmp.path / "db"}};
  caf::actor_system_config cfg;
  caf::actor_system sys{configure(cfg)};
  store_actor reader = spawn_store_actor(sys, db);

  ~fixture() {
    caf::anon_send_exit(reader, caf::exit_reason::user_shutdown);
    caf::scoped_actor self{sys};
    self->wait_for(reader);
  }

  // The answer to `msg...` as a tuple of its values, or the error.
  template <class... Rs, class... Ts>
  std::pair<std::tuple<Rs...>, caf::error> ask(Ts... msg) {
    caf::scoped_actor self{sys};
    std::pair<std::tuple<Rs...>, caf::error> out;
    self->request(reader, answer_within, msg...)
      .receive([&](Rs&... rs) { out.first = std::tuple<Rs...>(std::move(rs)...); },
               [&](caf::error& e) { out.second = std::move(e); });
    return out;
  }

  void write(const write_batch& b) { db.write(b); }
};

// "chat/a": snapshots at journal 2 and 4, journal 1..6, outbox 1..6, epoch 7.
void fill(fixture& f, const std::string& key) {
  write_batch b;
  b.put_snapshot(key, snapshot(2, 2, 1));
  b.put_snapshot(key, snapshot(4, 4, 2));
  for (std::uint64_t i = 1; i <= 6; ++i) {
    b.put_journal(key, i, journal(i <= 5 ? 2 : 3, i));
    b.put_outbox(key, i, outbox_record{i % 2 ? "" : "c1", "{\"n\":" + std::to_string(i) + "}"});
  }
  b.put_meta(epoch_meta_key(key), "7");
  f.write(b);
}

bool is_store_error(const caf::error& e, store_errc code) {
  return e && e.category() == store_category && e.code() == static_cast<std::uint8_t>(code);
}

}  // namespace

TEST_CASE("store actor answers load with the snapshots and the journal after the newest",
          "[store_actor]") {
  fixture f;
  fill(f, "chat/a");
  auto [v, err] = f.ask<session_records_ptr>(load_atom::value, std::string("chat/a"));
  REQUIRE_FALSE(err);
  auto& recs = *std::get<0>(v);
  REQUIRE(recs.snapshots.size() == 2);
  CHECK(recs.snapshots.front().journal_seq == 2);
  CHECK(recs.snapshots.back().journal_seq == 4);
  REQUIRE(recs.journal.size() == 2);
  CHECK(recs.journal.front().first == 5);
  CHECK(recs.journal.back().first == 6);
  CHECK(recs.journal.back().second == journal(3, 6));
  // The offline form reads the same.
  auto direct = load_session_records(f.db, "chat/a");
  CHECK(direct.snapshots == recs.snapshots);
  CHECK(direct.journal == recs.journal);
  // Without a snapshot: the whole journal; without records: nothing.
  write_batch b;
  b.put_journal("chat/b", 1, journal(1, 1));
  b.put_journal("chat/b", 2, journal(1, 2));
  f.write(b);
  auto [vb, errb] = f.ask<session_records_ptr>(load_atom::value, std::string("chat/b"));
  REQUIRE_FALSE(errb);
  CHECK(std::get<0>(vb)->snapshots.empty());
  CHECK(std::get<0>(vb)->journal.size() == 2);
  auto [vn, errn] = f.ask<session_records_ptr>(load_atom::value, std::string("chat/none"));
  REQUIRE_FALSE(errn);
  CHECK(std::get<0>(vn)->snapshots.empty());
  CHECK(std::get<0>(vn)->journal.empty());
}

TEST_CASE("store actor answers outbox from a seq and position and epoch", "[store_actor]") {
  fixture f;
  fill(f, "chat/a");
  auto [ov, oerr] = f.ask<outbox_ptr>(outbox_atom::value, std::string("chat/a"), std::uint64_t{4});
  REQUIRE_FALSE(oerr);
  auto& out = *std::get<0>(ov);
  REQUIRE(out.size() == 3);
  CHECK(out.front().first == 4);
  CHECK(out.front().second == outbox_record{"c1", "{\"n\":4}"});
  CHECK(out.back().first == 6);

  auto [pv, perr] = f.ask<std::uint64_t, std::uint64_t>(position_atom::value, std::string("chat/a"));
  REQUIRE_FALSE(perr);
  CHECK(pv == std::make_tuple(std::uint64_t{3}, std::uint64_t{6}));
  auto [pn, pnerr] = f.ask<std::uint64_t, std::uint64_t>(position_atom::value, std::string("chat/none"));
  REQUIRE_FALSE(pnerr);
  CHECK(pn == std::make_tuple(std::uint64_t{0}, std::uint64_t{0}));

  auto [ev, eerr] = f.ask<std::uint64_t>(epoch_atom::value, std::string("chat/a"));
  REQUIRE_FALSE(eerr);
  CHECK(std::get<0>(ev) == 7);
  auto [en, enerr] = f.ask<std::uint64_t>(epoch_atom::value, std::string("chat/none"));
  REQUIRE_FALSE(enerr);
  CHECK(std::get<0>(en) == 0);
}

TEST_CASE("a corrupt epoch record is corrupt_record and never 0", "[store_actor]") {
  fixture f;
  for (std::string bad : {"not a number", "", "12x", " 12", "-1", "99999999999999999999999"}) {
    write_batch b;
    b.put_meta(epoch_meta_key("chat/e"), bad);
    f.write(b);
    auto [v, err] = f.ask<std::uint64_t>(epoch_atom::value, std::string("chat/e"));
    INFO("stored epoch '" << bad << "'");
    REQUIRE(err);
    CHECK(is_store_error(err, store_errc::corrupt_record));
    CHECK_THAT(f.sys.render(err), Catch::StartsWith("store.corrupt_record: chat/e"));
  }
}

TEST_CASE("a corrupt journal record fails load with corrupt_record naming the key",
          "[store_actor]") {
  fixture f;
  fill(f, "chat/a");
  write_batch b;
  b.put_raw(column::journal, seq_key("chat/a", 5), "\xff");
  f.write(b);
  auto [v, err] = f.ask<session_records_ptr>(load_atom::value, std::string("chat/a"));
  REQUIRE(err);
  CHECK(is_store_error(err, store_errc::corrupt_record));
  CHECK_THAT(f.sys.render(err), Catch::Contains("chat/a#5"));
  // The copy reads every record too; position counts the bad one as none.
  auto [cv, cerr] = f.ask<std::string>(copy_atom::value, std::string("chat/a"), std::uint64_t{0});
  CHECK(is_store_error(cerr, store_errc::corrupt_record));
  auto [pv, perr] = f.ask<std::uint64_t, std::uint64_t>(position_atom::value, std::string("chat/a"));
  REQUIRE_FALSE(perr);
  CHECK(pv == std::make_tuple(std::uint64_t{2}, std::uint64_t{4}));
  // The outbox, another column, still reads.
  auto [ov, oerr] = f.ask<outbox_ptr>(outbox_atom::value, std::string("chat/a"), std::uint64_t{1});
  CHECK_FALSE(oerr);
}

TEST_CASE("a copy applied to a second store reproduces the records and the epoch",
          "[store_actor]") {
  fixture f;
  fill(f, "chat/a");
  fill(f, "chat/other");
  temp_dir tmp2;
  store second{store_options{tmp2.path / "db"}};
  // Stale records there are replaced, other sessions there stay.
  write_batch stale;
  stale.put_journal("chat/a", 9, journal(1, 9));
  stale.put_journal("chat/z", 1, journal(1, 1));
  second.write(stale);

  auto [v, err] = f.ask<std::string>(copy_atom::value, std::string("chat/a"), std::uint64_t{9});
  REQUIRE_FALSE(err);
  second.write(write_batch::decode(std::get<0>(v), "copy"));
  CHECK(second.load_snapshots("chat/a") == f.db.load_snapshots("chat/a"));
  CHECK(second.load_journal("chat/a") == f.db.load_journal("chat/a"));
  CHECK(second.load_outbox("chat/a") == f.db.load_outbox("chat/a"));
  CHECK(second.get_meta(epoch_meta_key("chat/a")) == std::optional<std::string>("9"));
  CHECK(second.load_journal("chat/z").size() == 1);
  CHECK(second.load_journal("chat/other").empty());

  // Epoch 0: no epoch record in the copy.
  temp_dir tmp3;
  store third{store_options{tmp3.path / "db"}};
  auto [v0, err0] = f.ask<std::string>(copy_atom::value, std::string("chat/a"), std::uint64_t{0});
  REQUIRE_FALSE(err0);
  third.write(write_batch::decode(std::get<0>(v0), "copy"));
  CHECK_FALSE(third.get_meta(epoch_meta_key("chat/a")));
  CHECK(third.load_journal("chat/a") == f.db.load_journal("chat/a"));
}

TEST_CASE("store errors render by name and match by code", "[store_actor]") {
  caf::actor_system_config cfg;
  caf::actor_system sys{configure(cfg)};
  auto err = make_error(store_errc::io_failure, "chat/a: disk gone");
  CHECK(err.category() == store_category);
  CHECK(is_store_error(err, store_errc::io_failure));
  CHECK(sys.render(err) == "store.io_failure: chat/a: disk gone");
}

TEST_CASE("a copy read without a store gives the records a load of the source gives",
          "[store_actor]") {
  fixture f;
  fill(f, "chat/a");
  fill(f, "chat/other");
  auto [v, err] = f.ask<std::string>(copy_atom::value, std::string("chat/a"), std::uint64_t{4});
  REQUIRE_FALSE(err);
  const auto copy = write_batch::decode(std::get<0>(v), "copy");
  const auto from_copy = session_records_in(copy, "chat/a");
  const auto from_store = load_session_records(f.db, "chat/a");
  REQUIRE_FALSE(from_store.snapshots.empty());
  CHECK(from_copy.snapshots == from_store.snapshots);
  CHECK(from_copy.journal == from_store.journal);
  // Another session's key in the batch is not read as this session's.
  CHECK(session_records_in(copy, "chat/other").snapshots.empty());
  write_batch bad;
  bad.put_raw(column::journal, seq_key("chat/a", 1), "not msgpack");
  CHECK_THROWS_AS(session_records_in(bad, "chat/a"), record_error);
}
