// The session actor's copy for a replica new to the set, read by the store
// actor while inputs go on: the replica gets the copy first, then every batch
// committed meanwhile, and (durability replicated) nothing is released before
// it acknowledged them. The test plays the store actor, the replica's host
// and a connection.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <caf/all.hpp>

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

caf::actor_system_config& configure(caf::actor_system_config& cfg) {
  add_error_category(cfg);
  persistence::add_store_error_category(cfg);
  return cfg;
}

// One replicate message as the replica's host receives it.
struct replicated {
  std::uint64_t id = 0;
  persistence::write_batch batch;
};

}  // namespace

TEST_CASE("a new replica gets its copy then every batch committed while it was read",
          "[session][replicas]") {
  liveness::start(std::chrono::seconds(60));
  liveness::set_lease_until(std::chrono::steady_clock::now() + std::chrono::hours(1));
  temp_dir tmp;
  behaviour_registry registry;
  registry.add<examples::counter>("counter");  // durability replicated
  persistence::store db{persistence::store_options{tmp.path / "db"}};
  persistence::committer committer{db};
  caf::actor_system_config cfg;
  caf::actor_system sys{configure(cfg)};
  caf::actor session;
  {
    caf::scoped_actor reads{sys}, replica{sys}, host{sys}, conn{sys};
    auto view = std::make_shared<cluster_view>();
    view->self = "a";
    view->up = view->alive = {"a", "r1"};
    view->hosts["r1"] = replica;
    view->replicas_of = [](const std::string&) { return std::vector<std::string>{"r1"}; };

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
    init.view = view;
    session = spawn_session(sys, std::move(init));

    // The copy for r1 is requested at once; it is answered after two inputs.
    caf::response_promise rp;
    reads->receive(
      [&](persistence::copy_atom, const std::string& k, std::uint64_t epoch) {
        CHECK(k == key);
        CHECK(epoch == 0);
        rp = reads->make_response_promise();
      },
      caf::after(answer_within) >> [&] { FAIL("no copy read"); });
    caf::anon_send(session, join_atom::value, std::string("c1"), std::string("{}"),
                   caf::actor{conn}, std::uint64_t{0}, false, std::uint64_t{7}, std::uint64_t{1},
                   std::string{});
    caf::anon_send(session, message_atom::value, std::string("c1"), std::uint64_t{7},
                   std::uint64_t{1}, std::uint64_t{0}, std::string(R"({"op":"add","by":5})"),
                   caf::actor{conn});
    // Nothing is released while r1 has not acknowledged (it has not even the copy).
    bool early = false;
    conn->receive([&](caf::message&) { early = true; }, caf::after(quiet) >> [] {});
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
    std::vector<std::string> out;
    for (bool more = true; more;)
      conn->receive([&](frame_atom, const std::string& f) { out.push_back(f); },
                    [&](ack_atom, std::uint64_t, std::uint64_t, const std::string&) {
                      out.push_back("ack");
                    },
                    caf::after(quiet) >> [&] { more = false; });
    CHECK(out == std::vector<std::string>{R"({"seq":1,"data":{"value":0}})", "ack",
                                          R"({"seq":2,"data":{"value":5}})"});
    caf::anon_send_exit(session, caf::exit_reason::kill);
    caf::scoped_actor waiter{sys};
    waiter->wait_for(session);
  }
  liveness::stop();
}
