// The session actor: the one live activation of a session `kind/id`.
//
// It owns the behaviour instance, the set of connected clients (connection
// actors on any node), the session's event seq and its output gate: the
// frames produced by an input are sent only after the input's checkpoint is
// committed by the node's group committer. Inputs keep being handled while
// earlier commits are in flight, so the gate adds latency, not a bound on
// throughput.
//
// Protocol: see actors/atoms.hpp. A client whose connection actor goes down
// (its node died, its stream closed) is treated as closed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "actors/instance.hpp"

namespace skein::persistence { class committer; }

namespace skein {

struct session_init {
  std::string key;                              // "kind/id"
  std::string id;                               // the id part
  std::shared_ptr<behaviour_instance> logic;    // restored from the newest checkpoint
  std::uint64_t seq = 0;                        // seq of the last event emitted
  std::uint64_t epoch = 0;                      // this activation's epoch
  persistence::committer* committer = nullptr;  // outlives the actor (node-owned)
};

/// Spawns a session actor. Thread-safe.
caf::actor spawn_session(caf::actor_system& sys, session_init init);

/// The server frame `{"seq":seq,"data":data}` as JSON text.
std::string make_frame(std::uint64_t seq, const json& data);

}  // namespace skein
