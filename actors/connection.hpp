// The connection actor: one per client stream, on the node where its TCP
// connection ends. It resolves the session through the local session host,
// joins it, forwards the client's messages to it by actor handle (wherever
// the session lives) and hands the session's frames to the transport.
//
// With `welcome`, the first frame it writes is `{"seq":0,"data":{"type":
// "welcome","client":ID,"node":NAME}}` (seq 0: not a session event). Every client message gets
// the next client seq (cseq) so the session applies them in order exactly
// once across a handoff. It tracks the highest event seq delivered; when the
// session says `moved` or goes down (crash), it re-resolves and re-attaches
// with that seq, and the session sends what the client missed. If the
// activation dies instead (crash, freeze, fencing) messages in flight may be
// lost: the stream is closed with 1012 and the client resumes. Inputs that
// arrive while no session is attached are buffered (at most `max_pending`;
// beyond that the stream is closed with 1008). If no session can be reached
// for `reattach_timeout`, the stream is closed with 1012 (reconnect later).
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
  std::string node_name;                    // for the welcome frame
  bool resume = false;                      // the client reconnects (?client=&last_seq=)
  std::uint64_t last_seq = 0;               // the last event seq it has seen
  std::chrono::milliseconds reattach_timeout{15000};
  bool welcome = false;                     // write the welcome frame first (WebSocket)
};

/// Spawns a connection actor. Thread-safe. Send it (message_atom, text) per
/// inbound frame and (leave_atom) once when the stream has closed.
caf::actor spawn_connection(caf::actor_system& sys, connection_init init);

}  // namespace skein
