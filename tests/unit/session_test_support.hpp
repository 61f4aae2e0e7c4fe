// What the tests that drive a session actor by hand share: the actor system
// configuration its messages need, and the process-wide liveness state a
// release needs (a running pause watchdog and a held quorum lease).
//
// Thread-safety: liveness is process-wide, so one held_lease at a time
// (Catch2 runs test cases one after another).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/cluster_view.hpp"
#include "actors/errors.hpp"
#include "actors/liveness.hpp"
#include "actors/registry.hpp"
#include "persistence/committer.hpp"
#include "persistence/store.hpp"
#include "persistence/store_actor.hpp"
#include "persistence/write_batch.hpp"
#include "tests/unit/temp_dir.hpp"

namespace skein::test {

/// Adds skein's error categories to `cfg`; returns it.
inline caf::actor_system_config& configure_for_sessions(caf::actor_system_config& cfg) {
  add_error_category(cfg);
  persistence::add_store_error_category(cfg);
  return cfg;
}

/// Starts the pause watchdog and holds the quorum lease for an hour; stops
/// the watchdog when it goes.
struct held_lease {
  held_lease() {
    liveness::start(std::chrono::seconds(60));
    liveness::set_lease_until(std::chrono::steady_clock::now() + std::chrono::hours(1));
  }
  ~held_lease() { liveness::stop(); }
  held_lease(const held_lease&) = delete;
  held_lease& operator=(const held_lease&) = delete;
};

/// A store in a directory of its own, its committer, an actor system and a
/// held lease: what a hand-driven session runs on. Register kinds in
/// `registry` before spawning.
struct session_world {
  held_lease lease;
  temp_dir tmp;
  behaviour_registry registry;
  persistence::store db;
  persistence::committer committer;
  caf::actor_system_config cfg;
  caf::actor_system sys;
  explicit session_world(const std::string& prefix)
      : tmp(prefix),
        db(persistence::store_options{tmp.path / "db"}),
        committer(db),
        sys(configure_for_sessions(cfg)) {}
};

/// One replicate message as a replica's host receives it: its commit id and
/// the batch.
struct replicated {
  std::uint64_t id = 0;
  persistence::write_batch batch;
};

/// What `conn` receives until nothing came for `quiet`: each frame's text,
/// and "ack" for each ack.
inline std::vector<std::string> received(caf::scoped_actor& conn, caf::timespan quiet) {
  std::vector<std::string> out;
  for (bool more = true; more;)
    conn->receive([&](frame_atom, const std::string& f) { out.push_back(f); },
                  [&](ack_atom, std::uint64_t, std::uint64_t, const std::string&) {
                    out.push_back("ack");
                  },
                  caf::after(quiet) >> [&] { more = false; });
  return out;
}

/// True when nothing at all reaches `who` within `quiet` (a message that
/// does arrive is taken out of its mailbox and answered with nothing).
inline bool nothing_received(caf::scoped_actor& who, caf::timespan quiet) {
  bool got = false;
  who->receive(caf::others >> [&](caf::message_view&) -> caf::result<caf::message> {
                 got = true;
                 return caf::message{};
               },
               caf::after(quiet) >> [] {});
  return !got;
}

/// A view from node "a" whose every session has one replica, "r1", played
/// by `replica`.
inline std::shared_ptr<cluster_view> one_replica_view(const caf::actor& replica) {
  auto view = std::make_shared<cluster_view>();
  view->self = "a";
  view->up = view->alive = {"a", "r1"};
  view->hosts["r1"] = replica;
  view->replicas_of = [](const std::string&) { return std::vector<std::string>{"r1"}; };
  return view;
}

/// Client c1 joins `session` on `conn` (token 7) and sends a counter's
/// add of 5 (cseq 1): two inputs.
inline void join_and_add(const caf::actor& session, caf::scoped_actor& conn) {
  caf::anon_send(session, join_atom::value, std::string("c1"), std::string("{}"),
                 caf::actor{conn}, std::uint64_t{0}, false, std::uint64_t{7}, std::uint64_t{1},
                 std::string{});
  caf::anon_send(session, message_atom::value, std::string("c1"), std::uint64_t{7},
                 std::uint64_t{1}, std::uint64_t{0}, std::string(R"({"op":"add","by":5})"),
                 caf::actor{conn});
}

/// Kills `session` and waits until it is gone.
inline void stop_session(caf::actor_system& sys, const caf::actor& session) {
  caf::anon_send_exit(session, caf::exit_reason::kill);
  caf::scoped_actor waiter{sys};
  waiter->wait_for(session);
}

}  // namespace skein::test
