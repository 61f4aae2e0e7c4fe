// The replica actor: what this node stores on behalf of sessions that live
// elsewhere, and the fencing epochs that keep an old activation from writing
// after a newer one started (DESIGN.md: Persistence, Migration).
//
// - replicate: a session's batch, written (through the committer) if its
//   epoch is not below the highest epoch known for the key; the answer goes
//   to the session as (repl_ack_atom, node, id, error).
// - fence: records a new activation's epoch durably. An epoch at or below the
//   known one is refused with skein_error::fenced: the activation that chose
//   it raced a newer (or an equally numbered) one and must not start. A
//   local activation of an older epoch is told to stop (via the directory).
// - fetch: a full copy of a session with its epoch (for an activation that
//   found the freshest copy here).
// - claim / epoch: the local facts an activation asks for.
// Epochs are cached per key; a miss asks the store actor, and every request
// for that key waits in arrival order until it answers, so a fence never
// overtakes a replicate of the same key.
//
// Errors: skein_error::fenced, unrecoverable (a corrupt epoch record; the key
// is named), store_failure (a read or write failed).
#pragma once

#include <caf/actor.hpp>

#include "persistence/store_actor.hpp"
#include "runtime/protocols.hpp"

namespace skein {
namespace persistence { class committer; }

struct replica_init {
  std::string self;                       // this node's name (in repl acks)
  persistence::store_actor store;         // reads
  persistence::committer* committer = nullptr;  // writes; outlives the actor
  bool unsafe_skip_fencing = false;       // TEST ONLY: accept every epoch
  caf::actor lane;                        // acks go through it (runtime/lane.hpp); null: directly
};

replica_actor spawn_replica(caf::actor_system& sys, replica_init init);

}  // namespace skein
