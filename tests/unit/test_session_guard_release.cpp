// The poison guard's early release (actors/session_gate.cpp, run_input): an
// input journaled as pending with its time and seed has its ack and frames
// sent once that record is durable on every replica, before its handled
// record is; and the next owner, after a crash that lost the handled
// records, runs the pending inputs to the very same outputs. The test plays
// the replica's host (it acknowledges the batches it chooses) and the
// connection, and crashes the activation by killing it.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/metrics.hpp"
#include "actors/recovery.hpp"
#include "actors/registry.hpp"
#include "actors/session.hpp"
#include "persistence/committer.hpp"
#include "persistence/store.hpp"
#include "persistence/store_actor.hpp"
#include "tests/unit/session_test_support.hpp"
#include "tests/unit/temp_dir.hpp"

using namespace skein;

namespace {

constexpr auto answer_within = std::chrono::seconds(10);
constexpr auto quiet = std::chrono::milliseconds(300);
const std::string key = "dice/g";

// A behaviour whose outputs depend on its time and its random values: each
// open and each message broadcasts a fresh roll and the time it was given.
struct dice_state {
  std::uint64_t rolls = 0;
  MSGPACK_DEFINE(rolls);
};

struct dice {
  using state_type = dice_state;
  static kind_options options() {
    kind_options o;
    o.durable = durability::replicated;  // poison guard on by default
    return o;
  }
  void on_open(context<dice_state>& ctx, const client& c) {
    ctx.send(c, {{"roll", ctx.random()}, {"now", ctx.now()}});
  }
  void on_message(context<dice_state>& ctx, const client&, const json&) {
    ++ctx.state().rolls;
    ctx.broadcast({{"roll", ctx.random()}, {"now", ctx.now()}, {"n", ctx.state().rolls}});
  }
  void on_close(context<dice_state>&, const client&) {}
};

struct temp_dir : skein::test::temp_dir {
  temp_dir() : skein::test::temp_dir("skein-guard-release") {}
};

using test::replicated;

struct fixture : test::session_world {
  fixture() : session_world("skein-guard-release") { registry.add<dice>("dice"); }
};

caf::actor spawn_dice(fixture& f, persistence::committer& committer, const caf::actor& reads,
                      const caf::actor& host, const caf::actor& replica,
                      recovered_session recovered, std::uint64_t epoch,
                      std::uint32_t handled_linger_ms = 0) {
  session_init init;
  init.key = key;
  init.id = "g";
  init.recovered = std::move(recovered);
  init.epoch = epoch;
  init.options = f.registry.options("dice");
  REQUIRE(init.options.poison_guard);
  init.options.handled_linger_ms = handled_linger_ms;
  init.committer = &committer;
  init.store = caf::actor_cast<persistence::store_actor>(reads);
  init.host = host;
  init.view = test::one_replica_view(replica);
  return spawn_session(f.sys, std::move(init));
}

// The copy read for the new replica r1, answered with what `db` holds.
void answer_copy(caf::scoped_actor& reads, persistence::store& db) {
  reads->receive(
    [&](persistence::copy_atom, const std::string& k, std::uint64_t) {
      CHECK(k == key);
      reads->make_response_promise().deliver(db.session_copy(key).encode());
    },
    caf::after(answer_within) >> [&] { FAIL("no copy read"); });
}

replicated next_batch(caf::scoped_actor& replica) {
  replicated r;
  replica->receive(
    [&](replicate_atom, const std::string& k, std::uint64_t, const std::string& bytes,
        const caf::actor&, std::uint64_t id) {
      CHECK(k == key);
      r = {id, persistence::write_batch::decode(bytes, "replicate")};
    },
    caf::after(answer_within) >> [&] { FAIL("replicate missing"); });
  return r;
}

// The journal records a batch writes (applied to a scratch store).
std::vector<std::pair<std::uint64_t, persistence::journal_record>>
journal_of(const persistence::write_batch& b) {
  temp_dir t;
  persistence::store s{persistence::store_options{t.path / "db"}};
  s.write(b);
  return s.load_journal(key);
}

// Kills the session when the scope ends, a failed REQUIRE included (the
// actor system would otherwise wait for it forever).
struct killer {
  caf::actor_system& sys;
  caf::actor session;
  ~killer() {
    if (session) test::stop_session(sys, session);
  }
};

}  // namespace

TEST_CASE("with the poison guard, outputs leave once the pending record is durable and a "
          "crash before the handled one reproduces them",
          "[session][poison]") {
  fixture f;
  std::vector<std::string> first_frames;
  std::vector<replicated> on_replica;  // what r1 acknowledged: all it holds
  {
    caf::scoped_actor reads{f.sys}, replica{f.sys}, host{f.sys}, conn{f.sys};
    auto session = spawn_dice(f, f.committer, reads, host, replica,
                              recover_session(persistence::session_records{}, f.registry, key), 3);
    killer k{f.sys, session};
    answer_copy(reads, f.db);
    auto copy = next_batch(replica);
    CHECK(copy.id == 0);
    caf::anon_send(session, repl_ack_atom::value, std::string("r1"), copy.id, std::string{});
    on_replica.push_back(std::move(copy));

    caf::anon_send(session, join_atom::value, std::string("c1"), std::string("{}"),
                   caf::actor{conn}, std::uint64_t{0}, false, std::uint64_t{7}, std::uint64_t{1},
                   std::string{});
    caf::anon_send(session, message_atom::value, std::string("c1"), std::uint64_t{7},
                   std::uint64_t{1}, std::uint64_t{0}, std::string(R"({"roll":true})"),
                   caf::actor{conn});
    // Both inputs are admitted as pending, each with its time and one seed.
    for (int i = 0; i < 2; ++i) {
      auto p = next_batch(replica);
      auto j = journal_of(p.batch);
      REQUIRE(j.size() == 1);
      CHECK(j[0].first == static_cast<std::uint64_t>(i + 1));
      CHECK(j[0].second.status == persistence::input_status::pending);
      CHECK(j[0].second.random.size() == 1);
      CHECK(j[0].second.time_ms > 0);
      on_replica.push_back(std::move(p));
    }
    // Nothing leaves before r1 holds the pending records.
    bool early = false;
    conn->receive([&](frame_atom, const std::string&) { early = true; },
                  [&](ack_atom, std::uint64_t, std::uint64_t, const std::string&) { early = true; },
                  caf::after(quiet) >> [] {});
    CHECK_FALSE(early);
    for (std::size_t i = 1; i < on_replica.size(); ++i)
      caf::anon_send(session, repl_ack_atom::value, std::string("r1"), on_replica[i].id,
                     std::string{});
    // The handled batches reach r1, which never acknowledges them; the open's
    // frame, the message's ack and its frame leave all the same.
    for (int i = 0; i < 2; ++i) {
      auto h = next_batch(replica);
      auto j = journal_of(h.batch);
      REQUIRE(j.size() == 1);
      CHECK(j[0].second.status == persistence::input_status::applied);
    }
    first_frames = test::received(conn, quiet);
    REQUIRE(first_frames.size() == 3);
    CHECK(first_frames[1] == "ack");
    CHECK(first_frames[0].find(R"("seq":1)") != std::string::npos);
    CHECK(first_frames[2].find(R"("seq":2)") != std::string::npos);
  }  // the crash (killer): r1 never acknowledged the handled records

  // The next owner recovers from r1's copy: two pending inputs, no outbox.
  temp_dir t2;
  persistence::store r1{persistence::store_options{t2.path / "db"}};
  for (auto& b : on_replica) r1.write(b.batch);
  CHECK(r1.load_outbox(key).empty());
  persistence::session_records records;
  records.journal = r1.load_journal(key);
  auto recovered = recover_session(records, f.registry, key);
  REQUIRE(recovered.pending.size() == 2);

  // The next owner: its own store and committer.
  temp_dir t3;
  persistence::store db2{persistence::store_options{t3.path / "db"}};
  persistence::committer committer2{db2};
  caf::scoped_actor reads{f.sys}, replica{f.sys}, host{f.sys};
  auto session = spawn_dice(f, committer2, reads, host, replica, std::move(recovered), 4);
  killer k{f.sys, session};
  answer_copy(reads, db2);
  // The pending inputs run again; their handled batches go to the replica.
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(next_batch(replica).id);
  for (auto id : ids) caf::anon_send(session, repl_ack_atom::value, std::string("r1"), id, std::string{});
  caf::scoped_actor poll{f.sys};
  for (int i = 0; i < 1000 && db2.load_outbox(key).size() < 2; ++i)
    poll->receive(caf::after(std::chrono::milliseconds(5)) >> [] {});
  auto outbox = db2.load_outbox(key);
  REQUIRE(outbox.size() == 2);
  // The same events under the same seqs: what the client saw before the crash.
  CHECK(R"({"seq":1,"data":)" + outbox[0].second.data + "}" == first_frames[0]);
  CHECK(R"({"seq":2,"data":)" + outbox[1].second.data + "}" == first_frames[2]);
}

namespace {

// Joins client c1 on `conn` and answers the copy read and its batch: the
// open's pending record is the next batch r1 receives.
void start(fixture& f, const caf::actor& session, caf::scoped_actor& reads,
           caf::scoped_actor& replica, caf::scoped_actor& conn) {
  answer_copy(reads, f.db);
  auto copy = next_batch(replica);
  REQUIRE(copy.id == 0);
  caf::anon_send(session, repl_ack_atom::value, std::string("r1"), copy.id, std::string{});
  caf::anon_send(session, join_atom::value, std::string("c1"), std::string("{}"),
                 caf::actor{conn}, std::uint64_t{0}, false, std::uint64_t{7}, std::uint64_t{1},
                 std::string{});
}

// A fresh session whose handled records linger for `ms`.
caf::actor spawn_lingering(fixture& f, caf::scoped_actor& reads, caf::scoped_actor& host,
                           caf::scoped_actor& replica, std::uint32_t ms) {
  return spawn_dice(f, f.committer, reads, host, replica,
                    recover_session(persistence::session_records{}, f.registry, key), 3, ms);
}

void roll(const caf::actor& session, caf::scoped_actor& conn, std::uint64_t cseq) {
  caf::anon_send(session, message_atom::value, std::string("c1"), std::uint64_t{7}, cseq,
                 std::uint64_t{0}, std::string(R"({"roll":true})"), caf::actor{conn});
}

void ack(const caf::actor& session, const replicated& r) {
  caf::anon_send(session, repl_ack_atom::value, std::string("r1"), r.id, std::string{});
}

}  // namespace

TEST_CASE("a handled record lingers and goes with the next input's pending record, in one "
          "replicate message",
          "[session][poison]") {
  fixture f;
  caf::scoped_actor reads{f.sys}, replica{f.sys}, host{f.sys}, conn{f.sys};
  const auto coalesced = metrics().handled_coalesced.load();
  // The linger never ends within the test: only a next batch writes it.
  auto session = spawn_lingering(f, reads, host, replica, 600000);
  killer k{f.sys, session};
  start(f, session, reads, replica, conn);
  auto open = next_batch(replica);
  auto j = journal_of(open.batch);
  REQUIRE(j.size() == 1);
  CHECK(j[0].second.status == persistence::input_status::pending);
  ack(session, open);
  REQUIRE(test::received(conn, quiet).size() == 1);  // the open's frame left
  // Its handled record waits: nothing more reaches r1.
  CHECK(test::nothing_received(replica, quiet));
  // The next input's pending batch carries it: journal 1 applied, 2 pending.
  roll(session, conn, 1);
  auto both = next_batch(replica);
  j = journal_of(both.batch);
  REQUIRE(j.size() == 2);
  CHECK(j[0].first == 1);
  CHECK(j[0].second.status == persistence::input_status::applied);
  CHECK(j[1].first == 2);
  CHECK(j[1].second.status == persistence::input_status::pending);
  CHECK(metrics().handled_coalesced.load() == coalesced + 1);
  ack(session, both);
  auto out = test::received(conn, quiet);
  REQUIRE(out.size() == 2);  // the message's ack and frame
  CHECK(out[0] == "ack");
  // The local store holds the same: 1 applied, 2 pending (its handled
  // record lingers in turn).
  auto local = f.db.load_journal(key);
  REQUIRE(local.size() == 2);
  CHECK(local[0].second.status == persistence::input_status::applied);
  CHECK(local[1].second.status == persistence::input_status::pending);
}

TEST_CASE("a lingering handled record is written on its own once handled_linger_ms passes",
          "[session][poison]") {
  fixture f;
  caf::scoped_actor reads{f.sys}, replica{f.sys}, host{f.sys}, conn{f.sys};
  const auto coalesced = metrics().handled_coalesced.load();
  const auto lingered = metrics().handled_lingered.load();
  auto session = spawn_lingering(f, reads, host, replica, 50);
  killer k{f.sys, session};
  start(f, session, reads, replica, conn);
  auto open = next_batch(replica);
  ack(session, open);
  // No other input comes: the handled record goes alone after 50 ms.
  auto handled = next_batch(replica);
  auto j = journal_of(handled.batch);
  REQUIRE(j.size() == 1);
  CHECK(j[0].first == 1);
  CHECK(j[0].second.status == persistence::input_status::applied);
  caf::scoped_actor poll{f.sys};
  for (int i = 0; i < 1000 && f.db.load_outbox(key).empty(); ++i)
    poll->receive(caf::after(std::chrono::milliseconds(5)) >> [] {});
  CHECK(f.db.load_outbox(key).size() == 1);
  CHECK(f.db.load_journal(key).at(0).second.status == persistence::input_status::applied);
  // Counted as lingered, not as carried by a next batch.
  CHECK(metrics().handled_lingered.load() == lingered + 1);
  CHECK(metrics().handled_coalesced.load() == coalesced);
}

