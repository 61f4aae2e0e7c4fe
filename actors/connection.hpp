// The connection actor: one per client stream, on the node where its TCP
// connection ends. It resolves the session through the local session host,
// joins it, forwards the client's messages to it by actor handle (wherever
// the session lives) and hands the session's frames to the transport.
//
// With `welcome`, the first frame it writes is `{"seq":0,"data":{"type":
// "welcome","client":ID,"node":NAME}}` (seq 0: not a session event).
//
// Delivery (actors/delivery.hpp): the actor has a random token, numbers every
// client input (cseq 1, 2, ...), unwraps `{"id":N,"data":X}` envelopes
// (actors/envelope.hpp) and keeps each input until the session acknowledges
// it as durable; it then writes `{"ack":N}` for inputs that had an id. It
// re-sends every unacknowledged input to each activation it attaches to: after
// `moved` (handoff), after the activation went down because its node died or
// lost its lease (the client's stream stays open: transparent failover), and
// when acks stall for `ack_check_interval` and the host resolves the session
// to another activation (a partition hides the old one's death). The session
// applies each input once; a fenced activation is handled the same way (a
// newer one serves the session). The stream is closed with 1012 only when the
// activation failed (its handler threw, its store failed) or no
// activation can be reached for `reattach_timeout`; with 1008 beyond
// `max_unacked` inputs awaiting acks, and with 1008 after an error frame
// (code `rate_limited`) when the client sends faster than `max_message_rate`
// messages/s beyond a burst of `message_burst` (actors/rate_limit.hpp).
// Frames are de-duplicated by seq.
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
  caf::actor lane;                          // the node's lane (runtime/lane.hpp); may be null
  std::chrono::milliseconds resolve_timeout{5000};
  std::string node_name;                    // for the welcome frame
  bool resume = false;                      // the client reconnects (?client=&last_seq=)
  std::uint64_t last_seq = 0;               // the last event seq it has seen
  std::string resume_token;                 // the client's credential for resumes (see protocol.md)
  std::chrono::milliseconds reattach_timeout{15000};
  bool welcome = false;                     // write the welcome frame first (WebSocket)
  std::size_t max_unacked = 8192;           // inputs awaiting acks before 1008
  std::chrono::milliseconds ack_check_interval{2000};  // re-resolve when acks stall this long
  double max_message_rate = 1000;           // client messages per second (<= 0: no limit)
  double message_burst = 1000;              // messages allowed at once above the rate
  bool existing_only = false;               // resolve only a session with records (MCP
                                            // requests naming a session id); else close 4404
};

/// Spawns a connection actor. Thread-safe. Send it (message_atom, text) per
/// inbound frame and (leave_atom) once when the stream has closed.
caf::actor spawn_connection(caf::actor_system& sys, connection_init init);

}  // namespace skein
