// The private vocabulary between net/ (the MCP Streamable HTTP transport,
// net/mcp_http.cpp) and the MCP session behaviour (actors/mcp/server.cpp).
//
// Every HTTP request of an MCP session (POST, GET, DELETE) is one client of
// the session actor `mcp/{Mcp-Session-Id}`, on whichever node the request
// landed. net/ describes the request in the client's params and sends the
// POST body as one message; the behaviour answers with frames whose data is
// either a JSON-RPC message (it has "jsonrpc") or a control object (it has
// the key `control_key`).
//
// Client params (all strings), set by net/ only:
//   transport         "post" | "get" | "delete" | "wake"
//   protocol_version  the MCP-Protocol-Version header, or empty
//   last_event_id     GET: the Last-Event-ID header ("STREAM:SEQ"), or empty
//
// Messages net -> behaviour:
//   post:  the request body (a JSON-RPC message or a batch array), already
//          checked by net/ to be JSON-RPC shaped
//   wake:  {"skein_mcp":"wake","token":T}   a timer the behaviour asked for
//
// Controls behaviour -> net (frame data {"skein_mcp": OP, ...}):
//   outcome {"outcome":NAME,"body":JSON|null}  answer the request with an
//           outcome (below; net/ picks the HTTP status) and finish. Only
//           before anything was streamed.
//   sse     {"priming":bool}  switch the response to text/event-stream now;
//           with priming, send an event with an id and empty data first
//           (2025-11-25, SEP-1699) so that the client can resume.
//   close   {"retry":MS}  send `retry: MS`, then end the HTTP response
//           without ending the MCP stream: the client resumes with a GET and
//           Last-Event-ID (SEP-1699 polling). Later messages of the stream
//           are kept by the behaviour for that GET.
//   end     finish the HTTP response (a resumed stream is complete, the
//           session was deleted, or a request was cancelled).
//   wake    {"after_ms":N,"token":T}  after N ms, deliver a wake message
//           with T to the session as a one-shot client (transport "wake").
//           Only sessions from before session timers send it: call.sleep
//           now sets a session timer (ctx.after).
//
// SSE event ids are "STREAM:SEQ": STREAM is the client id of the request
// that opened the MCP stream (a resumed GET keeps the stream's id), SEQ the
// session's event seq of the frame (0 for a priming event), so ids are unique
// per session and name their stream.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace skein::mcp::wire {

inline constexpr const char* control_key = "skein_mcp";

/// How the engine answers a request that gets no JSON-RPC stream: what
/// happened, in MCP's terms. net/mcp_http.cpp maps each to an HTTP status.
enum class outcome : std::uint8_t {
  accepted,             // only notifications/responses were posted: nothing to answer
  done,                 // DELETE: the session is ended
  bad_request,          // not allowed now (second initialize, a batch under >= 2025-06-18)
  not_found,            // no such session (never initialized)
  session_expired,      // the session was deleted
  unsupported_version,  // MCP-Protocol-Version names no version this server speaks
};

constexpr std::string_view outcome_name(outcome o) {
  switch (o) {
    case outcome::accepted: return "accepted";
    case outcome::done: return "done";
    case outcome::bad_request: return "bad_request";
    case outcome::not_found: return "not_found";
    case outcome::session_expired: return "session_expired";
    case outcome::unsupported_version: return "unsupported_version";
  }
  return "?";
}

constexpr std::optional<outcome> parse_outcome(std::string_view name) {
  for (auto o : {outcome::accepted, outcome::done, outcome::bad_request, outcome::not_found,
                 outcome::session_expired, outcome::unsupported_version})
    if (outcome_name(o) == name) return o;
  return std::nullopt;
}

inline constexpr const char* transport_post = "post";
inline constexpr const char* transport_get = "get";
inline constexpr const char* transport_delete = "delete";
inline constexpr const char* transport_wake = "wake";

}  // namespace skein::mcp::wire
