// The session host: one actor per node that keeps the membership view,
// answers "where is session kind/id?", activates, hands off and replicates
// sessions (DESIGN.md: Addressing, Placement, Migration, Persistence).
//
// Membership. A node starts `joining` with a new incarnation (its start time
// in ms), dials its seeds one at a time and exchanges views with `hello`.
// Without seeds it forms a cluster at once; with seeds it forms one alone only
// if it is the first seed and none answered for `seed_timeout`. It is `up` once
// it is connected to every member it knows to be alive. Of every other pair
// the member with the smaller name dials (CAF 0.17 breaks when two nodes dial
// each other at once). Every `heartbeat_interval` each node sends its full
// view to every connected peer (gossip doubles as the application
// heartbeat). Safety before liveness (runtime/quorum.hpp): a lost connection
// or `failure_timeout` of silence only makes a member *suspected*; it is
// declared down once a quorum of the members has suspected it for the lease
// time. A node activates and releases only while it holds a quorum lease;
// losing it stops every activation, and after `failure_timeout + 2 * lease`
// without one the node rejoins (never forming a cluster alone). A node that
// finds itself declared down, or that notices
// it was paused (SIGSTOP) for longer than `failure_timeout`, stops every local
// session without releasing anything and rejoins as a new incarnation.
//
// Placement: HRW over the `up` members; replica set: the next R-1 of the same
// ranking. Activation at the owner first asks every connected member with
// `claim` whether it holds a live activation (then it is handed off to us) or
// a fresher copy (then it is fetched), bumps the epoch above every answer and
// fences the replica set with it; the session starts once that epoch is
// durable locally and every replica answered the fence (any failure fails the
// activation). When the view changes, every local
// activation whose owner changed is handed off to the new owner (rebalance;
// drain is the same with this node excluded from placement).
//
// Errors returned to requesters are skein_error values (actors/errors.hpp)
// with a reason text: malformed_key, unknown_kind, unrecoverable (naming the
// key; also a corrupt epoch record), owner_unreachable, rejoining,
// handoff_timeout, store_failure, fetch_failed, fence_failed, fenced (an
// adopt below the known epoch), no_member, name_conflict.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "actors/cluster_view.hpp"
#include "persistence/store_actor.hpp"
#include "runtime/membership.hpp"

namespace skein {
class behaviour_registry;
namespace persistence { class store; class committer; }

/// Counters the host publishes for other threads (HTTP handlers).
struct host_status {
  std::atomic<int> peers{0};            // other members alive in the view
  std::atomic<int> peers_connected{0};  // of those, connected
  std::atomic<int> active_sessions{0};
  std::atomic<int> state{0};            // this node's member_state
};

struct host_init {
  member_info self;                          // name, addresses, incarnation
  std::vector<std::pair<std::string, std::uint16_t>> seeds;  // cluster addresses
  int replicas = 2;
  std::chrono::milliseconds heartbeat_interval{500};
  std::chrono::milliseconds failure_timeout{3000};
  std::chrono::milliseconds seed_timeout{2000};
  /// Quorum lease (runtime/quorum.hpp); must be below failure_timeout.
  std::chrono::milliseconds lease{1500};
  const behaviour_registry* registry = nullptr;
  persistence::store* store = nullptr;
  persistence::store_actor store_reader;  // the store actor over `store`, for the sessions
  persistence::committer* committer = nullptr;
  std::shared_ptr<host_status> status;
  /// Called once (from the host's thread) when this node has drained.
  std::function<void()> on_drained;
  /// TEST ONLY (tests/nemesis checks its checker with it): every node
  /// activates a session where it is asked, without claims, and replicas
  /// accept writes and fences of any epoch: split brain on purpose.
  bool unsafe_skip_fencing = false;
};

/// Spawns the host. Messages: see actors/atoms.hpp; plus (status_atom) ->
/// string JSON {node, url, state, members:[{name,url,state,connected,
/// sessions,self}], sessions:[keys]}. An exit message stops every local
/// session with it.
caf::actor spawn_session_host(caf::actor_system& sys, host_init init);

}  // namespace skein
