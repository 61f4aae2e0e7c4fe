// Internal to actors/mcp: the engine, made once per handled input around the
// session's state. Its members are implemented in one file per job:
//   streams.cpp    the streams/resume table: which HTTP request carries which
//                  MCP stream, buffering while detached, resume, wakes
//   tool_calls.cpp the tool-call state machine (start, wait, wake, result,
//                  cancel) and the tool_call handle
//   methods.cpp    the JSON-RPC method table (method name -> handler)
//   server.cpp     the behaviour entry points (open/message/close of a client)
// Nothing here knows HTTP: requests that get no JSON-RPC answer are answered
// with a wire::outcome (actors/mcp/wire.hpp) that net/ maps to a status.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "actors/mcp/jsonrpc.hpp"
#include "actors/mcp/server.hpp"
#include "actors/mcp/wire.hpp"

namespace skein::mcp {

namespace detail {

inline constexpr std::size_t max_buffered = 512;  // messages kept per detached stream
inline constexpr std::size_t max_detached = 16;   // detached streams kept per session

/// {"skein_mcp": op}
inline json control(const char* op) { return json{{wire::control_key, op}}; }

/// `text` parsed, or `fallback` when empty or not JSON.
inline json parse_or(const std::string& text, json fallback) {
  if (text.empty()) return fallback;
  auto j = json::parse(text, nullptr, false);
  return j.is_discarded() ? fallback : j;
}

inline void erase_value(std::vector<std::string>& v, const std::string& x) {
  v.erase(std::remove(v.begin(), v.end(), x), v.end());
}

/// RFC 5424 severity rank of an MCP log level (debug 0 .. emergency 7), -1 if unknown.
int level_rank(std::string_view level);

}  // namespace detail

class engine {
 public:
  engine(const server& s, context<session_state>& c) : srv(s), ctx(c), st(c.state()) {}

  const server& srv;
  context<session_state>& ctx;
  session_state& st;

  // ---- streams (streams.cpp) ----
  void send_control(const std::string& client, json c) { ctx.send(client, std::move(c)); }
  /// Answers `client`'s request with an outcome (and an optional JSON body).
  void answer(const std::string& client, wire::outcome o, json body = nullptr);
  /// Switches the stream's carrier to SSE (once).
  void ensure_sse(stream_state& s);
  void ensure_sse(const std::string& sid);
  /// Sends one JSON-RPC message on stream `sid` (or keeps it while detached).
  void emit(const std::string& sid, const json& msg);
  void drop_stream(const std::string& sid);
  /// The stream's carrier went away: keep the stream for a resume.
  void detach(const std::string& sid);
  /// A POST: `client` carries a new stream for its responses.
  void open_post_stream(const std::string& client);
  /// The stream `client`'s POST messages belong to (opened if needed).
  std::string stream_of(const std::string& client);
  /// A GET: `client` carries the standalone stream, or resumes the stream
  /// named by `last_event_id` ("STREAM:SEQ"), replaying what was buffered.
  void attach_get(const std::string& client, const std::string& last_event_id);
  /// A DELETE: ends every stream and forgets the session's state.
  void delete_session();
  /// `client`'s HTTP request ended.
  void client_closed(const std::string& client);
  void schedule_wake(const std::string& prefer, std::uint32_t ms, const std::string& token);
  void flush_wakes(const std::string& client);

  // ---- tool calls (tool_calls.cpp) ----
  void start_call(const std::string& sid, const json& id, const json& params);
  void run_tool(const std::string& call_id, const tool_event& ev);
  void erase_call(const std::string& call_id);
  void cancel(const json& request_id);
  void handle_response(const json& r);
  void handle_wake(const json& msg);

  // ---- methods (methods.cpp) ----
  json initialize(const json& req);
  void handle_request(const std::string& sid, const json& req);
  void handle_notification(const json& n);
};

}  // namespace skein::mcp
