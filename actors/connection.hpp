// The connection actor: one per client stream, on the node where its TCP
// connection ends. It resolves the session through the local session host,
// joins it, forwards the client's messages to it by actor handle (wherever
// the session lives) and hands the session's frames to the transport.
//
// Inputs that arrive before the session is resolved are buffered (at most
// `max_pending`; beyond that the stream is closed with 1008). If the session
// actor goes down the stream is closed with 1012 so the client reconnects.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "actors/transport.hpp"

namespace skein {

struct connection_init {
  std::string session_key;                  // "kind/id"
  std::string client_id;                    // unique per stream
  std::string params_json;                  // JSON object of the URL's query parameters
  std::shared_ptr<transport> out;           // the stream's outbound side
  caf::actor host;                          // the local session host
  std::chrono::milliseconds resolve_timeout{5000};
  std::size_t max_pending = 1024;           // inputs buffered before resolution
};

/// Spawns a connection actor. Thread-safe. Send it (message_atom, text) per
/// inbound frame and (leave_atom) once when the stream has closed.
caf::actor spawn_connection(caf::actor_system& sys, connection_init init);

}  // namespace skein
