// The session actor's copy for a replica new to the set, read by the store
// actor while inputs go on: the replica gets the copy first, then every batch
// committed meanwhile, and (durability replicated) nothing is released before
// it acknowledged them; nor while the set is short of an up member that is
// not connected. The test plays the store actor, the replica's host and a
// connection.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/errors.hpp"
#include "actors/liveness.hpp"
#include "actors/metrics.hpp"
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
constexpr auto quiet = std::chrono::milliseconds(300);
const std::string key = "counter/p";

struct temp_dir : skein::test::temp_dir {
  temp_dir() : skein::test::temp_dir("skein-replicas") {}
};

using test::replicated;

// A store, its committer and an actor system, with a quorum lease held for
// the test (liveness is process-wide: stopped again at the end).
struct fixture : test::session_world {
  fixture() : session_world("skein-replicas") {
    registry.add<examples::counter>("counter");  // durability replicated
  }
  std::tuple<behaviour_registry&, persistence::store&, persistence::committer&, caf::actor_system&>
  parts() {
    return {registry, db, committer, sys};
  }
};

using test::join_and_add;

// A counter session (durability replicated, epoch 3, no poison guard: one
// batch per input) whose store reads go to `reads` and whose host is `host`.
caf::actor spawn_counter(caf::actor_system& sys, const behaviour_registry& registry,
                         persistence::committer& committer, const caf::actor& reads,
                         const caf::actor& host, std::shared_ptr<const cluster_view> view) {
  session_init init;
  init.key = key;
  init.id = "p";
  init.recovered = recover_session(persistence::session_records{}, registry, key);
  init.epoch = 3;
  init.options = registry.options("counter");
  // The batches below are those of unguarded inputs (one per input); the
  // poison guard's pending records are covered by the [poison] tests.
  init.options.poison_guard = false;
  init.committer = &committer;
  init.store = caf::actor_cast<persistence::store_actor>(reads);
  init.host = host;
  init.view = std::move(view);
  return spawn_session(sys, std::move(init));
}

}  // namespace

TEST_CASE("a new replica gets its copy then every batch committed while it was read",
          "[session][replicas]") {
  fixture f;
  auto [registry, db, committer, sys] = f.parts();
  caf::actor session;
  {
    caf::scoped_actor reads{sys}, replica{sys}, host{sys}, conn{sys};
    auto view = std::make_shared<cluster_view>();
    view->self = "a";
    view->up = view->alive = {"a", "r1"};
    view->hosts["r1"] = replica;
    view->replicas_of = [](const std::string&) { return std::vector<std::string>{"r1"}; };

    session = spawn_counter(sys, registry, committer, reads, host, view);

    // The copy for r1 is requested at once; it is answered after two inputs.
    caf::response_promise rp;
    reads->receive(
      [&](persistence::copy_atom, const std::string& k, std::uint64_t epoch) {
        CHECK(k == key);
        CHECK(epoch == 0);
        rp = reads->make_response_promise();
      },
      caf::after(answer_within) >> [&] { FAIL("no copy read"); });
    join_and_add(session, conn);
    // Nothing is released while r1 has not acknowledged (it has not even the copy).
    bool early = false;
    conn->receive([&](frame_atom, const std::string&) { early = true; },
                  [&](ack_atom, std::uint64_t, std::uint64_t, const std::string&) { early = true; },
                  caf::after(quiet) >> [] {});
    CHECK_FALSE(early);

    rp.deliver(db.session_copy(key).encode());  // what the store holds now (both inputs)
    std::vector<replicated> got;
    for (int i = 0; i < 3; ++i)
      replica->receive(
        [&](replicate_atom, const std::string& k, std::uint64_t epoch, const std::string& bytes,
            const caf::actor&, std::uint64_t id) {
          CHECK(k == key);
          CHECK(epoch == 3);
          got.push_back({id, persistence::write_batch::decode(bytes, "replicate")});
        },
        caf::after(answer_within) >> [&] { FAIL("replicate missing"); });
    REQUIRE(got.size() == 3);
    CHECK(got[0].id == 0);  // the copy (plus the state in memory) first
    CHECK(got[1].id == 1);  // then the open's batch
    CHECK(got[2].id == 2);  // then the add's batch
    // Applied in that order to a fresh store, the replica ends with the journal and a
    // snapshot at journal seq 2.
    temp_dir tmp2;
    persistence::store second{persistence::store_options{tmp2.path / "db"}};
    for (auto& r : got) second.write(r.batch);
    CHECK(second.load_journal(key).size() == 2);
    auto snap = second.load_snapshot(key);
    REQUIRE(snap);
    CHECK(snap->journal_seq == 2);
    CHECK(second.load_outbox(key) == db.load_outbox(key));

    for (auto& r : got)
      caf::anon_send(session, repl_ack_atom::value, std::string("r1"), r.id, std::string{});
    CHECK(test::received(conn, quiet) == std::vector<std::string>{R"({"seq":1,"data":{"value":0}})", "ack",
                                                          R"({"seq":2,"data":{"value":5}})"});
    test::stop_session(sys, session);
  }
}

TEST_CASE("outputs wait while the replica set is short of an up member that is not connected",
          "[session][replicas]") {
  // Three members up, R = 2: the session's replica is whichever of r1, r2
  // is connected. While neither is (their connections dropped, neither is
  // declared down), replicas_of names nobody: the batches are committed
  // here only, and with durability replicated their outputs must wait. Once
  // r1 is connected it gets the copy and the held batches, and its acks
  // release them. Before, they were released with the local copy alone.
  fixture f;
  auto [registry, db, committer, sys] = f.parts();
  caf::actor session;
  const auto held_before = metrics().batches_held_short.load();
  {
    caf::scoped_actor reads{sys}, replica{sys}, host{sys}, conn{sys};
    auto cut = std::make_shared<cluster_view>();
    cut->self = "a";
    cut->up = cut->alive = {"a", "r1", "r2"};
    cut->replicas = 2;
    cut->replicas_of = [](const std::string&) { return std::vector<std::string>{}; };

    session = spawn_counter(sys, registry, committer, reads, host, cut);

    join_and_add(session, conn);
    // Both batches commit locally (the store holds the journal) ... (polled
    // by an actor of its own: conn's mailbox keeps whatever is released)
    caf::scoped_actor poll{sys};
    for (int i = 0; i < 1000 && db.load_journal(key).size() < 2; ++i)
      poll->receive(caf::after(std::chrono::milliseconds(5)) >> [] {});
    REQUIRE(db.load_journal(key).size() == 2);
    // ... and nothing is released: no frame, no ack.
    bool early = false;
    conn->receive([&](frame_atom, const std::string&) { early = true; },
                  [&](ack_atom, std::uint64_t, std::uint64_t, const std::string&) { early = true; },
                  caf::after(quiet) >> [] {});
    CHECK_FALSE(early);
    CHECK(metrics().batches_held_short.load() - held_before == 2);

    // r1 is connected again: the set is whole.
    auto whole = std::make_shared<cluster_view>(*cut);
    whole->hosts["r1"] = replica;
    whole->replicas_of = [](const std::string&) { return std::vector<std::string>{"r1"}; };
    caf::anon_send(session, members_atom::value, std::shared_ptr<const cluster_view>(whole));
    reads->receive(
      [&](persistence::copy_atom, const std::string& k, std::uint64_t) {
        CHECK(k == key);
        reads->make_response_promise().deliver(db.session_copy(key).encode());
      },
      caf::after(answer_within) >> [&] { FAIL("no copy read for r1"); });
    std::vector<std::uint64_t> ids;
    for (int i = 0; i < 3; ++i)
      replica->receive(
        [&](replicate_atom, const std::string&, std::uint64_t, const std::string&,
            const caf::actor&, std::uint64_t id) { ids.push_back(id); },
        caf::after(answer_within) >> [&] { FAIL("replicate missing"); });
    CHECK(ids == std::vector<std::uint64_t>{0, 1, 2});  // the copy, then both held batches
    // Still held until r1 acknowledges them.
    conn->receive([&](frame_atom, const std::string&) { early = true; },
                  [&](ack_atom, std::uint64_t, std::uint64_t, const std::string&) { early = true; },
                  caf::after(quiet) >> [] {});
    CHECK_FALSE(early);
    for (auto id : ids)
      caf::anon_send(session, repl_ack_atom::value, std::string("r1"), id, std::string{});
    CHECK(test::received(conn, quiet) == std::vector<std::string>{R"({"seq":1,"data":{"value":0}})", "ack",
                                                          R"({"seq":2,"data":{"value":5}})"});
    test::stop_session(sys, session);
  }
}
