// The directory actor: where each session lives, and moving it there.
//
// Placement: HRW over the `up` members (runtime/placement.hpp), unless an
// admin `move` pinned the session elsewhere (the HRW owner records the
// override). A resolve at a node that is not the owner is delegated to the
// owner's directory (at most 3 hops); the owner answers the requester with
// the session's handle directly.
//
// Activation at the owner (runtime/activation.cpp): ask every connected
// member's directory with `claim` whether it holds a live activation (then it
// is handed off to us) or a fresher copy (then its replica is fetched); an
// unanswered claim fails the activation (the freshest copy may be there).
// Then read the session's records from the store actor, recover, choose an
// epoch above every epoch seen, and fence: the local replica and every
// replica of the session record that epoch durably, refusing it if they know
// an equal or newer one. The session starts once every fence succeeded.
//
// Rebalance and drain (runtime/handoff.cpp): when the view changes, every
// local activation whose owner changed is handed off to the new owner, at
// most 16 at once so that bulk state never queues in front of heartbeats on
// BASP; a drain is the same with this node out of the placement set.
//
// Nothing here waits on the disk: reads go to the store actor, writes to the
// committer, and each answer comes back as a message.
//
// Errors returned to requesters are skein_error values (actors/errors.hpp)
// with a reason: malformed_key, unknown_kind, unrecoverable, owner_unreachable,
// rejoining, no_quorum, handoff_timeout, store_failure, fetch_failed,
// fence_failed, fenced, no_member.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <caf/fwd.hpp>

#include "persistence/store_actor.hpp"
#include "runtime/protocols.hpp"

namespace skein {

class behaviour_registry;
struct host_status;
namespace persistence { class committer; }

struct directory_init {
  std::string self;                              // this node's name
  std::string url;                               // this node's HTTP base URL
  const behaviour_registry* registry = nullptr;  // outlives the actor
  persistence::store_actor store;                // reads
  persistence::committer* committer = nullptr;   // writes; outlives the actor
  replica_actor replica;                         // this node's
  caf::actor lane;                               // this node's (runtime/lane.hpp); may be null
  std::shared_ptr<host_status> status;
  std::function<void()> on_drained;              // called once, on the actor's thread
  bool unsafe_skip_fencing = false;              // TEST ONLY (host_init)
  /// Activations this node holds at most (0: no cap). At the cap, a new
  /// activation first asks the sessions idle longest (no client; see
  /// session_counters::idle_since_ms) to passivate, 1 % of the cap at a
  /// time, and proceeds; with none idle it fails with skein_error::overloaded.
  std::size_t max_sessions = 0;
};

directory_actor spawn_directory(caf::actor_system& sys, directory_init init);

}  // namespace skein
