// A node's session host: three actors with one job each, wired together
// (runtime/protocols.hpp has their typed protocols):
//   membership (runtime/membership_actor.hpp)  who is in the cluster; leases
//   directory  (runtime/directory.hpp)         where sessions live; activation,
//                                              handoff, rebalance, drain, admin
//   replica    (runtime/replica.hpp)           epochs, replicated batches, copies
// The membership actor is what a node publishes on its cluster port; net/
// and connections talk to the directory.
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
#include "runtime/protocols.hpp"

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
  persistence::store_actor store;                // reads (the store actor)
  persistence::committer* committer = nullptr;  // writes; outlives the actors
  std::shared_ptr<host_status> status;
  /// Called once (from the host's thread) when this node has drained.
  std::function<void()> on_drained;
  /// TEST ONLY (tests/nemesis checks its checker with it): every node
  /// activates a session where it is asked, without claims, and replicas
  /// accept writes and fences of any epoch: split brain on purpose.
  bool unsafe_skip_fencing = false;
  bool lane = true;  // spawn the outbound lane (runtime/lane.hpp)
  /// Dial peers through the openssl manager (mutual TLS; node.cpp publishes
  /// through it too).
  bool cluster_tls = false;
  /// Activations this node holds (0: no cap). See directory_init.
  std::size_t max_sessions = 0;
  /// The membership the store recorded last (membership_init::last_view).
  std::string last_view;
};

/// The three actors of one node's host.
struct host_actors {
  membership_actor membership;  // publish this on the cluster port
  directory_actor directory;    // resolve, admin, status (node::host())
  replica_actor replica;
  caf::actor lane;              // hidden; node.cpp stops it after every other actor
};

/// Spawns and wires the three actors. Stop them with stop_session_host.
host_actors spawn_session_host(caf::actor_system& sys, host_init init);

/// Sends every actor an exit with `reason`, membership first (no more
/// gossip), then the directory (its sessions write final snapshots), then
/// the replica. Does not wait.
void stop_session_host(const host_actors& h, caf::exit_reason reason);

}  // namespace skein
