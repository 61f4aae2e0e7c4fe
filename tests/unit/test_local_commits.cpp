// A replicated batch's local commit seen without a `committed` message
// (actors/local_commits.hpp): the session reads it when the replica's ack
// comes, and when the acks come first it asks for the message, so no output
// is released before its local commit and none is stuck after it. The test
// plays the store actor's copy read, the replica's host and a connection,
// and holds the committer's thread in a callback to order the local commit
// after the acks.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/local_commits.hpp"
#include "actors/metrics.hpp"
#include "actors/recovery.hpp"
#include "actors/registry.hpp"
#include "actors/session.hpp"
#include "examples/counter/counter.hpp"
#include "persistence/committer.hpp"
#include "persistence/store.hpp"
#include "persistence/store_actor.hpp"
#include "tests/unit/session_test_support.hpp"

using namespace skein;

namespace {

constexpr auto answer_within = std::chrono::seconds(10);
constexpr auto quiet = std::chrono::milliseconds(300);
const std::string key = "counter/w";

const std::vector<std::string> opened_and_added{R"({"seq":1,"data":{"value":0}})", "ack",
                                                R"({"seq":2,"data":{"value":5}})"};

struct fixture : test::session_world {
  fixture() : session_world("skein-local-commits") {
    registry.add<examples::counter>("counter");  // durability replicated
  }
};

// A counter session (replicated, no poison guard: one batch per input) with
// one replica, r1, played by `replica`; its copy read is answered empty.
caf::actor spawn_counter(fixture& f, caf::scoped_actor& reads, caf::scoped_actor& replica,
                         caf::scoped_actor& host) {
  session_init init;
  init.key = key;
  init.id = "w";
  init.recovered = recover_session(persistence::session_records{}, f.registry, key);
  init.epoch = 1;
  init.options = f.registry.options("counter");
  init.options.poison_guard = false;
  init.committer = &f.committer;
  init.store = caf::actor_cast<persistence::store_actor>(reads);
  init.host = host;
  init.view = test::one_replica_view(replica);
  auto session = spawn_session(f.sys, std::move(init));
  reads->receive(
    [&](persistence::copy_atom, const std::string&, std::uint64_t) {
      reads->make_response_promise().deliver(f.db.session_copy(key).encode());
    },
    caf::after(answer_within) >> [&] { FAIL("no copy read for r1"); });
  return session;
}

// The ids of the next n replicate messages r1 gets (the copy is id 0).
std::vector<std::uint64_t> replicated_ids(caf::scoped_actor& replica, int n) {
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < n; ++i)
    replica->receive(
      [&](replicate_atom, const std::string&, std::uint64_t, const std::string&, const caf::actor&,
          std::uint64_t id) { ids.push_back(id); },
      caf::after(answer_within) >> [&] { FAIL("replicate missing"); });
  return ids;
}

void ack_all(const caf::actor& session, const std::vector<std::uint64_t>& ids) {
  for (auto id : ids)
    caf::anon_send(session, repl_ack_atom::value, std::string("r1"), id, std::string{});
}

}  // namespace

TEST_CASE("local_commits: a completion tells only a session that asked", "[local_commits]") {
  local_commits lc;
  CHECK_FALSE(lc.completed(1));  // nobody waits: no message
  CHECK(lc.done.load() == 1);
  lc.notify.store(true);
  CHECK(lc.completed(2));        // asked: one message ...
  CHECK_FALSE(lc.completed(3));  // ... and only one
  CHECK(lc.done.load() == 3);
}

TEST_CASE("a replicated batch committed before its ack is released by the ack, with no message",
          "[session][local_commits]") {
  fixture f;
  caf::scoped_actor reads{f.sys}, replica{f.sys}, host{f.sys}, conn{f.sys}, poll{f.sys};
  const auto unposted_before = metrics().local_commits_unposted.load();
  auto session = spawn_counter(f, reads, replica, host);
  test::join_and_add(session, conn);
  auto ids = replicated_ids(replica, 3);
  REQUIRE(ids == std::vector<std::uint64_t>{0, 1, 2});
  // Both batches are on disk here before r1 acknowledges anything ...
  for (int i = 0; i < 1000 && f.db.load_journal(key).size() < 2; ++i)
    poll->receive(caf::after(std::chrono::milliseconds(5)) >> [] {});
  REQUIRE(f.db.load_journal(key).size() == 2);
  CHECK(test::nothing_received(conn, quiet));  // ... and nothing leaves without r1
  // Neither local commit was posted to the session: it learns of them now.
  CHECK(metrics().local_commits_unposted.load() - unposted_before == 2);
  ack_all(session, ids);
  CHECK(test::received(conn, quiet) == opened_and_added);
  test::stop_session(f.sys, session);
}

TEST_CASE("a replicated batch acknowledged before its local commit waits for it, then goes",
          "[session][local_commits]") {
  fixture f;
  caf::scoped_actor reads{f.sys}, replica{f.sys}, host{f.sys}, conn{f.sys};
  auto session = spawn_counter(f, reads, replica, host);
  // Hold the committer's thread in a callback: the session's batches queue
  // behind it, not written.
  std::promise<void> go;
  auto held = go.get_future().share();
  std::promise<void> holding;
  f.committer.submit(persistence::write_batch{}, [held, &holding](const std::string&) {
    holding.set_value();
    held.wait();
  });
  holding.get_future().wait();
  test::join_and_add(session, conn);
  auto ids = replicated_ids(replica, 3);
  REQUIRE(ids == std::vector<std::uint64_t>{0, 1, 2});
  ack_all(session, ids);
  // r1 holds both batches, this node none yet: nothing may leave.
  CHECK(test::nothing_received(conn, quiet));
  CHECK(f.db.load_journal(key).empty());
  // The local commits complete: the session asked to be told, and releases.
  go.set_value();
  CHECK(test::received(conn, quiet) == opened_and_added);
  CHECK(f.db.load_journal(key).size() == 2);
  test::stop_session(f.sys, session);
}
