// The session actor's resume while its outbox is read by the store actor:
// frames committed and released between the request and the answer reach the
// resuming connection once and in seq order; a failed read gives a reset.
// The test plays the store actor (it holds the outbox read until it chooses
// to answer) and the connections.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/atoms.hpp"
#include "actors/errors.hpp"
#include "actors/liveness.hpp"
#include "actors/recovery.hpp"
#include "actors/registry.hpp"
#include "actors/session.hpp"
#include "examples/counter/counter.hpp"
#include "persistence/committer.hpp"
#include "persistence/store.hpp"
#include "persistence/store_actor.hpp"
#include "tests/unit/session_test_support.hpp"
#include "tests/unit/temp_dir.hpp"

using namespace skein;
namespace fs = std::filesystem;

namespace {

constexpr auto answer_within = std::chrono::seconds(10);
const std::string key = "counter/r";

struct temp_dir : skein::test::temp_dir {
  temp_dir() : skein::test::temp_dir("skein-resume") {}
};

std::uint64_t seq_of(const std::string& frame) {
  return nlohmann::json::parse(frame).at("seq").get<std::uint64_t>();
}

// A session of kind counter whose store actor is `reads` (the test).
struct fixture {
  temp_dir tmp;
  behaviour_registry registry;
  persistence::store db{persistence::store_options{tmp.path / "db"}};
  persistence::committer committer{db};
  caf::actor_system_config cfg;
  caf::actor_system sys{test::configure_for_sessions(cfg)};
  caf::scoped_actor reads{sys};  // plays the store actor
  caf::scoped_actor host{sys};   // plays the session host
  caf::actor host_actor;         // or this one, if the test made it (make_host)
  caf::actor session;

  // `tune` changes the kind's options; `records` are what the session
  // recovers from (they must be in db too for what they leave behind).
  explicit fixture(std::function<void(kind_options&)> tune = {},
                   const persistence::session_records& records = {},
                   std::vector<std::pair<std::uint64_t, persistence::outbox_record>> recent = {},
                   std::function<caf::actor(caf::actor_system&)> make_host = {}) {
    // Releases need a running pause watchdog and a held lease.
    liveness::start(std::chrono::seconds(60));
    liveness::set_lease_until(std::chrono::steady_clock::now() + std::chrono::hours(1));
    registry.add<examples::counter>("counter");
    session_init init;
    init.key = key;
    init.id = "r";
    init.recovered = recover_session(records, registry, key);
    if (!records.journal.empty() || !records.snapshots.empty()) {
      persistence::write_batch b;
      for (auto& s : records.snapshots) b.put_snapshot(key, s);
      for (auto& [seq, rec] : records.journal) {
        b.put_journal(key, seq, rec);
        b.put_outbox(key, seq, persistence::outbox_record{"", "{}"});
      }
      db.write(b);
    }
    init.epoch = 1;
    init.options = registry.options("counter");
    if (tune) tune(init.options);
    init.recent = std::move(recent);
    init.committer = &committer;
    init.store = caf::actor_cast<persistence::store_actor>(reads);
    if (make_host) host_actor = make_host(sys);
    init.host = host_actor ? host_actor : caf::actor{host};
    session = spawn_session(sys, std::move(init));
  }
  ~fixture() {
    caf::anon_send_exit(session, caf::exit_reason::kill);
    caf::scoped_actor waiter{sys};
    waiter->wait_for(session);
    liveness::stop();
  }

  void join(caf::scoped_actor& conn, const std::string& client, std::uint64_t token,
            std::uint64_t last_seq, bool resume) {
    caf::anon_send(session, join_atom::value, client, std::string("{}"),
                   caf::actor{conn}, last_seq, resume, token, std::uint64_t{1}, std::string{});
  }

  void add(caf::scoped_actor& conn, const std::string& client, std::uint64_t token,
           std::uint64_t cseq) {
    caf::anon_send(session, message_atom::value, client, token, cseq, std::uint64_t{0},
                   std::string(R"({"op":"add","by":1})"), caf::actor{conn});
  }

  // What the session sends `conn` until `until` is true or nothing comes
  // for `quiet`: frames (their seqs) and acks (as 1000000 + cseq).
  static std::vector<std::uint64_t> collect(caf::scoped_actor& conn, std::function<bool(const std::vector<std::uint64_t>&)> until,
                                            std::chrono::milliseconds quiet = std::chrono::milliseconds(300)) {
    std::vector<std::uint64_t> got;
    bool done = false;
    while (!done && !until(got)) {
      conn->receive(
        [&](frame_atom, const std::string& frame) { got.push_back(seq_of(frame)); },
        [&](ack_atom, std::uint64_t cseq, std::uint64_t, const std::string&) {
          got.push_back(1000000 + cseq);
        },
        caf::after(quiet) >> [&] { done = true; });
    }
    return got;
  }

  // True once every batch submitted to the committer before now is written.
  void await_commits() {
    std::promise<void> done;
    committer.submit(persistence::write_batch{}, [&](const std::string&) { done.set_value(); });
    REQUIRE(done.get_future().wait_for(answer_within) == std::future_status::ready);
  }

  // Nothing reaches the store actor (the test) for `quiet`. A catch-all
  // (`others`): a handler taking caf::message& matches no store request, and
  // this check could not fail before stop 47.
  void expect_no_store_request(std::chrono::milliseconds quiet = std::chrono::milliseconds(300)) {
    CHECK(test::nothing_received(reads, quiet));
  }

  // The outbox read the session sends to its store actor: its from_seq.
  caf::response_promise await_outbox_read(std::uint64_t& from) {
    caf::response_promise rp;
    reads->receive(
      [&](persistence::outbox_atom, const std::string& k, std::uint64_t f) {
        CHECK(k == key);
        from = f;
        rp = reads->make_response_promise();
      },
      caf::after(answer_within) >> [&] { FAIL("no outbox read"); });
    return rp;
  }
};

auto count_of(std::size_t n) {
  return [n](const std::vector<std::uint64_t>& got) { return got.size() >= n; };
}

}  // namespace

TEST_CASE("a resume while frames are committed gets every missed frame once and in order",
          "[session][resume]") {
  // Every handled record is written at once here (what a resume does while
  // one lingers: a test case below).
  fixture f([](kind_options& o) { o.handled_linger_ms = 0; });
  caf::scoped_actor c1{f.sys}, c2{f.sys}, c2b{f.sys};
  f.join(c1, "c1", 11, 0, false);  // seq 1: c1's open
  f.join(c2, "c2", 22, 0, false);  // seq 2: c2's open
  for (std::uint64_t i = 1; i <= 5; ++i) f.add(c1, "c1", 11, i);  // seqs 3..7
  // c1: its open, 5 acks and 5 frames.
  auto c1_got = fixture::collect(c1, count_of(11));
  REQUIRE(c1_got.size() == 11);
  auto c2_got = fixture::collect(c2, count_of(6));
  REQUIRE(c2_got == std::vector<std::uint64_t>{2, 3, 4, 5, 6, 7});

  // c2 comes back on a new connection having seen up to 4: 5..7 are in the
  // outbox only; the read is held while 8..10 (c1) and 11 (c2b's own input)
  // are committed and released.
  f.join(c2b, "c2", 23, 4, true);
  std::uint64_t from = 0;
  auto rp = f.await_outbox_read(from);
  CHECK(from == 5);
  for (std::uint64_t i = 6; i <= 8; ++i) f.add(c1, "c1", 11, i);
  f.add(c2b, "c2", 23, 1);
  auto c1_more = fixture::collect(c1, count_of(7));  // 3 acks, frames 8..11
  REQUIRE(c1_more.size() == 7);
  CHECK(c1_more.back() == 11);
  // Nothing reaches c2b before the answer.
  CHECK(fixture::collect(c2b, count_of(1), std::chrono::milliseconds(200)).empty());
  // The answer holds everything committed by now, 5..11.
  auto stored = f.db.load_outbox(key, from);
  REQUIRE(stored.size() == 7);
  rp.deliver(persistence::outbox_ptr{
    std::make_shared<const std::vector<std::pair<std::uint64_t, persistence::outbox_record>>>(
      std::move(stored))});
  auto c2b_got = fixture::collect(c2b, [](auto&) { return false; });
  // Frames 5..11 once each in order; the ack of its input before its frame.
  CHECK(c2b_got == std::vector<std::uint64_t>{5, 6, 7, 8, 9, 10, 1000001, 11});
  // From now on frames go straight to it.
  f.add(c1, "c1", 11, 9);
  CHECK(fixture::collect(c2b, count_of(1)) == std::vector<std::uint64_t>{12});
}

TEST_CASE("a resume whose outbox read fails gets a reset and keeps its acks",
          "[session][resume]") {
  fixture f;
  caf::scoped_actor c1{f.sys}, c2{f.sys}, c2b{f.sys};
  f.join(c1, "c1", 11, 0, false);                                    // seq 1
  f.join(c2, "c2", 22, 0, false);                                    // seq 2
  for (std::uint64_t i = 1; i <= 3; ++i) f.add(c1, "c1", 11, i);     // seqs 3..5
  REQUIRE(fixture::collect(c1, count_of(7)).size() == 7);
  REQUIRE(fixture::collect(c2, count_of(4)).size() == 4);
  f.join(c2b, "c2", 23, 2, true);
  std::uint64_t from = 0;
  auto rp = f.await_outbox_read(from);
  f.add(c2b, "c2", 23, 1);  // seq 6, its ack is held
  REQUIRE(fixture::collect(c1, count_of(1)) == std::vector<std::uint64_t>{6});
  rp.deliver(persistence::make_error(persistence::store_errc::io_failure, key + ": disk gone"));
  // The held ack, then the reset open's frames (reset, value): nothing older.
  auto got = fixture::collect(c2b, [](auto&) { return false; });
  CHECK(got == std::vector<std::uint64_t>{1000001, 7, 8});
}

TEST_CASE("a resume whose client leaves before the read answers sends it nothing",
          "[session][resume]") {
  fixture f;
  caf::scoped_actor c1{f.sys}, c2{f.sys}, c2b{f.sys};
  f.join(c1, "c1", 11, 0, false);
  f.join(c2, "c2", 22, 0, false);
  f.add(c1, "c1", 11, 1);
  REQUIRE(fixture::collect(c1, count_of(3)).size() == 3);
  REQUIRE(fixture::collect(c2, count_of(2)).size() == 2);
  f.join(c2b, "c2", 23, 1, true);
  std::uint64_t from = 0;
  auto rp = f.await_outbox_read(from);
  caf::anon_send(f.session, leave_atom::value, std::string("c2"), std::uint64_t{23},
                 std::uint64_t{1}, caf::actor{c2b});
  f.add(c1, "c1", 11, 2);
  REQUIRE(fixture::collect(c1, count_of(2)).size() == 2);
  auto stored = f.db.load_outbox(key, from);
  rp.deliver(persistence::outbox_ptr{
    std::make_shared<const std::vector<std::pair<std::uint64_t, persistence::outbox_record>>>(
      std::move(stored))});
  CHECK(fixture::collect(c2b, [](auto&) { return false; }).empty());
}

TEST_CASE("durability async: a resume reads the outbox once the frames it missed are written",
          "[session][resume][durability]") {
  // With async the frames go out before their batches are written: a read
  // sent at the join could miss the newest ones and give a reset the
  // client did not need (seen in bench migrate before stop 45).
  fixture f([](kind_options& o) { o.durable = durability::async; });
  caf::scoped_actor c1{f.sys}, c2{f.sys}, c2b{f.sys};
  f.join(c1, "c1", 11, 0, false);                                 // seq 1
  f.join(c2, "c2", 22, 0, false);                                 // seq 2
  for (std::uint64_t i = 1; i <= 3; ++i) f.add(c1, "c1", 11, i);  // seqs 3..5
  REQUIRE(fixture::collect(c2, count_of(4)) == std::vector<std::uint64_t>{2, 3, 4, 5});
  f.await_commits();
  // The commit thread is held: 6 and 7 go out but are not written.
  std::promise<void> go;
  auto held = go.get_future().share();
  f.committer.submit(persistence::write_batch{}, [held](const std::string&) { held.wait(); });
  for (std::uint64_t i = 4; i <= 5; ++i) f.add(c1, "c1", 11, i);  // seqs 6, 7
  REQUIRE(fixture::collect(c2, count_of(2)) == std::vector<std::uint64_t>{6, 7});
  // c2 comes back having seen up to 5: no read while 6 and 7 are unwritten.
  f.join(c2b, "c2", 23, 5, true);
  f.expect_no_store_request();
  go.set_value();
  std::uint64_t from = 0;
  auto rp = f.await_outbox_read(from);
  CHECK(from == 6);
  auto stored = f.db.load_outbox(key, from);
  REQUIRE(stored.size() == 2);
  rp.deliver(persistence::outbox_ptr{
    std::make_shared<const std::vector<std::pair<std::uint64_t, persistence::outbox_record>>>(
      std::move(stored))});
  // 6 and 7, no reset (a reset would be 8 and 9: its frames).
  CHECK(fixture::collect(c2b, [](auto&) { return false; }) == std::vector<std::uint64_t>{6, 7});
}

TEST_CASE("with the poison guard, a resume while a handled record lingers gets the frames "
          "already sent",
          "[session][resume][poison]") {
  // The guard releases an input's frames once its pending record is
  // durable; its handled record (with the outbox events) may linger for
  // the next batch (handled_linger_ms), here for longer than the test.
  fixture f([](kind_options& o) { o.handled_linger_ms = 600000; });
  caf::scoped_actor c1{f.sys}, c2{f.sys}, c2b{f.sys};
  f.join(c1, "c1", 11, 0, false);  // seq 1
  f.join(c2, "c2", 22, 0, false);  // seq 2
  f.add(c1, "c1", 11, 1);          // seq 3
  REQUIRE(fixture::collect(c2, count_of(2)) == std::vector<std::uint64_t>{2, 3});
  f.await_commits();
  REQUIRE(f.db.load_outbox(key, 3).empty());  // seq 3's record lingers
  // c2 comes back having seen up to 2. The read is sent at once and the
  // store does not hold 3 (nothing was written for a read: a full disk
  // would refuse it); the session serves 3 from what lingers.
  f.join(c2b, "c2", 23, 2, true);
  std::uint64_t from = 0;
  auto rp = f.await_outbox_read(from);
  CHECK(from == 3);
  auto stored = f.db.load_outbox(key, from);
  CHECK(stored.empty());
  rp.deliver(persistence::outbox_ptr{
    std::make_shared<const std::vector<std::pair<std::uint64_t, persistence::outbox_record>>>(
      std::move(stored))});
  // 3, no reset (a reset would be its frames 4 and 5).
  CHECK(fixture::collect(c2b, [](auto&) { return false; }) == std::vector<std::uint64_t>{3});
}

TEST_CASE("with the poison guard, a handoff writes a lingering handled record before it reads "
          "the copy it ships",
          "[session][poison]") {
  fixture f([](kind_options& o) { o.handled_linger_ms = 600000; });
  caf::scoped_actor c1{f.sys}, target{f.sys};
  f.join(c1, "c1", 11, 0, false);  // seq 1
  f.add(c1, "c1", 11, 1);          // seq 2
  REQUIRE(fixture::collect(c1, count_of(3)).size() == 3);
  f.await_commits();
  REQUIRE(f.db.load_outbox(key, 2).empty());  // seq 2's record lingers
  caf::anon_send(f.session, handoff_atom::value, caf::actor{target}, std::string("n2"), false);
  std::size_t outbox_at_read = 0;
  std::optional<persistence::input_status> last_status;
  f.reads->receive(
    [&](persistence::copy_atom, const std::string& k, std::uint64_t) {
      CHECK(k == key);
      outbox_at_read = f.db.load_outbox(key, 0).size();
      auto j = f.db.load_journal(key, 0);
      if (!j.empty()) last_status = j.back().second.status;
      f.reads->make_response_promise().deliver(f.db.session_copy(key).encode());
    },
    caf::after(answer_within) >> [] { FAIL("no copy read"); });
  // The copy read sees both events and the message's applied record.
  CHECK(outbox_at_read == 2);
  CHECK(last_status == persistence::input_status::applied);
  target->receive(
    [&](adopt_atom, const std::string&, std::uint64_t, const std::string&, const std::string&,
        bool) {
      target->make_response_promise().deliver(caf::make_error(caf::sec::request_receiver_down));
    },
    caf::after(answer_within) >> [] { FAIL("no adopt"); });
}

TEST_CASE("handled_linger_ms is a kind option, off by default", "[session][poison]") {
  kind_options o;
  CHECK(o.handled_linger_ms == 0);
  set_kind_option(o, "handled_linger_ms", "1000");
  CHECK(o.handled_linger_ms == 1000);
  CHECK_THROWS_AS(set_kind_option(o, "handled_linger_ms", "-1"), std::invalid_argument);
  CHECK_THROWS_AS(set_kind_option(o, "handled_linger_ms", "1s"), std::invalid_argument);
}

// -- durability none: nothing written, resumes from memory --------------------

namespace {

void none_level(kind_options& o) { o.durable = durability::none; }

}  // namespace

TEST_CASE("durability is a kind option with four levels", "[durability]") {
  kind_options o;
  CHECK(o.durable == durability::local);
  for (auto [name, level] : {std::pair{"none", durability::none}, {"async", durability::async},
                             {"local", durability::local}, {"replicated", durability::replicated}}) {
    set_kind_option(o, "durability", name);
    CHECK(o.durable == level);
  }
  CHECK(releases_at_once(durability::none));
  CHECK(releases_at_once(durability::async));
  CHECK_FALSE(releases_at_once(durability::local));
  CHECK_THROWS_WITH(set_kind_option(o, "durability", "sync"),
                    Catch::Contains("none|async|local|replicated"));
}

TEST_CASE("durability none writes nothing and serves a resume from the events in memory",
          "[session][resume][durability]") {
  fixture f(none_level);
  caf::scoped_actor c1{f.sys}, c2{f.sys}, c2b{f.sys};
  f.join(c1, "c1", 11, 0, false);                                 // seq 1
  f.join(c2, "c2", 22, 0, false);                                 // seq 2
  for (std::uint64_t i = 1; i <= 5; ++i) f.add(c1, "c1", 11, i);  // seqs 3..7
  REQUIRE(fixture::collect(c1, count_of(11)).size() == 11);
  REQUIRE(fixture::collect(c2, count_of(6)) == std::vector<std::uint64_t>{2, 3, 4, 5, 6, 7});
  // c2 comes back having seen up to 4: 5..7 come at once, from memory, with
  // no read of the store, then its own input's ack and frame.
  f.join(c2b, "c2", 23, 4, true);
  f.add(c2b, "c2", 23, 1);  // seq 8
  CHECK(fixture::collect(c2b, count_of(5)) == std::vector<std::uint64_t>{5, 6, 7, 1000001, 8});
  f.expect_no_store_request();
  // Not one record of the session reached the store.
  f.await_commits();
  CHECK(f.db.load_journal(key, 0).empty());
  CHECK(f.db.load_outbox(key, 0).empty());
  CHECK(f.db.load_snapshots(key).empty());
}

TEST_CASE("durability none: a resume older than the events kept in memory gets a reset",
          "[session][resume][durability]") {
  fixture f([](kind_options& o) {
    o.durable = durability::none;
    o.outbox_keep = 3;
  });
  caf::scoped_actor c1{f.sys}, c2{f.sys}, c2b{f.sys};
  f.join(c1, "c1", 11, 0, false);                                 // seq 1
  f.join(c2, "c2", 22, 0, false);                                 // seq 2
  for (std::uint64_t i = 1; i <= 4; ++i) f.add(c1, "c1", 11, i);  // seqs 3..6; 4..6 kept
  REQUIRE(fixture::collect(c2, count_of(5)).size() == 5);
  // 3 is gone from memory: a reset (the reset frame, then the value) above 6.
  f.join(c2b, "c2", 23, 2, true);
  CHECK(fixture::collect(c2b, [](auto&) { return false; }) == std::vector<std::uint64_t>{7, 8});
  // The oldest kept event (4) is enough for a client that saw 3.
  caf::scoped_actor c2c{f.sys};
  f.add(c1, "c1", 11, 5);  // seq 9; kept: 7, 8, 9
  f.join(c2c, "c2", 24, 6, true);
  CHECK(fixture::collect(c2c, [](auto&) { return false; }) == std::vector<std::uint64_t>{7, 8, 9});
}

TEST_CASE("a client that saw more events than the session has gets a reset above its last seq",
          "[session][resume][durability]") {
  // As after a crash that lost the state (durability none or async), or a
  // failover to a replica that missed the tail (local): its connection
  // drops every frame at or below its last seq, so frames from seq 1 again
  // would be lost to it without a word.
  SECTION("durability local") {
    fixture f;
    caf::scoped_actor c{f.sys};
    f.join(c, "c", 11, 50, true);
    CHECK(fixture::collect(c, [](auto&) { return false; }) == std::vector<std::uint64_t>{51, 52});
    // The jump is journaled with the reset: a recovery goes on above it.
    f.await_commits();
    auto j = f.db.load_journal(key, 0);
    REQUIRE_FALSE(j.empty());
    CHECK(j.back().second.last_seq == 52);
  }
  SECTION("durability none") {
    fixture f(none_level);
    caf::scoped_actor c{f.sys};
    f.join(c, "c", 11, 50, true);
    CHECK(fixture::collect(c, [](auto&) { return false; }) == std::vector<std::uint64_t>{51, 52});
  }
}

TEST_CASE("durability none erases the records it was activated from",
          "[session][durability]") {
  // A handoff's copy or records of an earlier durability of the kind: the
  // state comes over, and a later activation must not go back to them.
  persistence::session_records records;
  {
    // A local-level session with an open and two adds (seqs 1..3).
    fixture first;
    caf::scoped_actor c{first.sys};
    first.join(c, "c", 11, 0, false);
    for (std::uint64_t i = 1; i <= 2; ++i) first.add(c, "c", 11, i);
    REQUIRE(fixture::collect(c, count_of(5)).size() == 5);
    first.await_commits();
    records.journal = first.db.load_journal(key, 0);
    REQUIRE(records.journal.size() == 3);
  }
  fixture f(none_level, records);
  caf::scoped_actor c{f.sys};
  f.join(c, "c", 11, 3, true);  // up to date: nothing to send
  f.add(c, "c", 11, 3);
  std::vector<std::string> frames;
  std::uint64_t acked = 0;
  while (frames.empty())
    c->receive([&](frame_atom, const std::string& fr) { frames.push_back(fr); },
               [&](ack_atom, std::uint64_t cseq, std::uint64_t, const std::string&) { acked = cseq; },
               caf::after(answer_within) >> [&] { FAIL("no frame"); });
  CHECK(acked == 3);
  auto j = nlohmann::json::parse(frames.front());
  CHECK(j.at("seq") == 4);
  CHECK(j.at("data").at("value") == 3);  // 1 + 1 recovered, + 1
  f.await_commits();
  CHECK(f.db.load_journal(key, 0).empty());
  CHECK(f.db.load_outbox(key, 0).empty());
}

TEST_CASE("durability none: a handoff ships the state and the kept events; the successor serves a resume from them",
          "[session][resume][durability]") {
  std::string bytes;
  {
    fixture f(none_level);
    caf::scoped_actor c1{f.sys}, target{f.sys};
    f.join(c1, "c1", 11, 0, false);                                 // seq 1
    for (std::uint64_t i = 1; i <= 3; ++i) f.add(c1, "c1", 11, i);  // seqs 2..4
    REQUIRE(fixture::collect(c1, count_of(7)).size() == 7);
    caf::anon_send(f.session, handoff_atom::value, caf::actor{target}, std::string("n2"), false);
    target->receive(
      [&](adopt_atom, const std::string& k, std::uint64_t, const std::string& b, const std::string&,
          bool) {
        CHECK(k == key);
        bytes = b;
        target->make_response_promise().deliver(caf::make_error(caf::sec::request_receiver_down));
      },
      caf::after(answer_within) >> [] { FAIL("no adopt"); });
    f.expect_no_store_request();  // the copy came from memory
  }
  auto copy = persistence::write_batch::decode(bytes, key);
  auto kept = kept_events(copy, key);
  REQUIRE(kept.size() == 4);
  CHECK(kept.front().first == 1);
  CHECK(kept.back().first == 4);
  persistence::session_records records;
  for (const auto& p : copy.puts())
    if (p.column == persistence::column::snapshots)
      records.snapshots.push_back(persistence::decode_snapshot(p.value, "copy"));
  REQUIRE(records.snapshots.size() == 1);
  CHECK(records.snapshots.front().seq == 4);
  // The successor, as the target's host starts it: a client that had seen
  // only seq 2 when it was moved gets 3 and 4 from memory, no reset.
  fixture g(none_level, records, std::move(kept));
  caf::scoped_actor c1b{g.sys};
  g.join(c1b, "c1", 12, 2, true);
  CHECK(fixture::collect(c1b, [](auto&) { return false; }) == std::vector<std::uint64_t>{3, 4});
  g.expect_no_store_request();
}

TEST_CASE("durability none: an adopt refused before fencing leaves the session serving with its state; a later handoff ships it",
          "[session][durability][handoff]") {
  // A target that had no quorum lease yet refused the copy: before stop 46
  // the session stopped, and its whole state (kept nowhere else) was lost.
  fixture f(none_level);
  caf::scoped_actor c1{f.sys}, target{f.sys};
  f.join(c1, "c1", 11, 0, false);                                 // seq 1
  for (std::uint64_t i = 1; i <= 3; ++i) f.add(c1, "c1", 11, i);  // seqs 2..4
  REQUIRE(fixture::collect(c1, count_of(7)).size() == 7);
  auto offer = [&](caf::error answer) {
    std::string bytes;
    caf::anon_send(f.session, handoff_atom::value, caf::actor{target}, std::string("n2"), false);
    target->receive(
      [&](adopt_atom, const std::string& k, std::uint64_t, const std::string& b, const std::string&,
          bool) {
        CHECK(k == key);
        bytes = b;
        target->make_response_promise().deliver(std::move(answer));
      },
      caf::after(answer_within) >> [] { FAIL("no adopt"); });
    return bytes;
  };
  auto handed = [&] {
    bool ok = true;
    f.host->receive([&](handed_atom, const std::string& k, bool o) { CHECK(k == key); ok = o; },
                    caf::after(answer_within) >> [] { FAIL("no handed"); });
    return ok;
  };
  offer(make_error(skein_error::handoff_refused, "this node holds no quorum lease yet"));
  CHECK_FALSE(handed());  // the host retries later
  // Still serving, with its state: the next add makes 4.
  f.add(c1, "c1", 11, 4);
  std::vector<std::string> frames;
  while (frames.empty())
    c1->receive([&](frame_atom, const std::string& fr) { frames.push_back(fr); },
                [&](ack_atom, std::uint64_t, std::uint64_t, const std::string&) {},
                caf::after(answer_within) >> [&] { FAIL("no frame after the refused adopt"); });
  auto j = nlohmann::json::parse(frames.front());
  CHECK(j.at("seq") == 5);
  CHECK(j.at("data").at("value") == 4);
  // The retry ships all of it.
  auto bytes = offer(caf::make_error(caf::sec::request_receiver_down));
  auto copy = persistence::write_batch::decode(bytes, key);
  std::size_t snapshots = 0;
  for (const auto& p : copy.puts())
    if (p.column == persistence::column::snapshots) {
      ++snapshots;
      CHECK(persistence::decode_snapshot(p.value, "copy").seq == 5);
    }
  CHECK(snapshots == 1);
  // Any other failure may follow a fence of a newer epoch: the session stops.
  auto waiter = std::make_unique<caf::scoped_actor>(f.sys);
  (*waiter)->monitor(f.session);
  bool down = false;
  (*waiter)->receive([&](caf::down_msg&) { down = true; },
                     caf::after(answer_within) >> [] {});
  CHECK(down);
}

TEST_CASE("a handed-off session's forwarder quits when its node's directory stops, not after its linger",
          "[session][handoff]") {
  // A forwarder lingers 5 s for connections that still reach it; it is no
  // longer one of the directory's sessions, which the directory stops when
  // the node does. Before stop 48 every forwarder held a drained node's
  // exit for its linger (5 to 10 s after the drain), while the node was
  // still a member to its peers.
  fixture f(none_level, {}, {}, [](caf::actor_system& sys) {
    return sys.spawn([](caf::event_based_actor* self) -> caf::behavior {
      // A directory that hears and ignores (caf::drop would answer each
      // message with an error, which the session does not expect).
      self->set_default_handler(
        [](caf::scheduled_actor*, caf::message_view&) -> caf::result<caf::message> {
          return caf::message{};
        });
      return {[](tick_atom) {}};
    });
  });
  auto directory = f.host_actor;
  caf::scoped_actor c1{f.sys}, target{f.sys}, successor{f.sys};
  f.join(c1, "c1", 11, 0, false);
  REQUIRE(fixture::collect(c1, count_of(1)).size() == 1);
  caf::anon_send(f.session, handoff_atom::value, caf::actor{target}, std::string("n2"), false);
  target->receive(
    [&](adopt_atom, const std::string&, std::uint64_t, const std::string&, const std::string&, bool) {
      target->make_response_promise().deliver(caf::actor{successor});
    },
    caf::after(answer_within) >> [] { FAIL("no adopt"); });
  // Forwarding now: the client hears where the session went.
  bool moved = false;
  c1->receive([&](moved_atom, caf::actor&) { moved = true; },
              caf::after(answer_within) >> [] {});
  REQUIRE(moved);
  caf::scoped_actor waiter{f.sys};
  waiter->monitor(f.session);
  caf::anon_send_exit(directory, caf::exit_reason::user_shutdown);
  bool down = false;
  waiter->receive([&](caf::down_msg&) { down = true; },
                  caf::after(std::chrono::seconds(2)) >> [] {});
  CHECK(down);
}
