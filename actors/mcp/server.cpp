// The MCP session behaviour's entry points: what a client of the session (one
// HTTP request: POST, GET, DELETE, or a timer wake; see wire.hpp) does when
// it opens, sends its body and closes. Requests that get no JSON-RPC answer
// are answered with a wire::outcome; the rest is the engine's (engine.hpp).
#include "actors/mcp/server.hpp"

#include "actors/mcp/engine.hpp"

namespace skein::mcp {

using wire::outcome;
namespace code = jsonrpc::code;

namespace {

json not_found_body() { return jsonrpc::error_message(nullptr, code::session_not_found, "Session not found"); }

/// The outcome for a request to a session that cannot take it, if any.
std::optional<outcome> unavailable(const session_state& st) {
  if (st.deleted) return outcome::session_expired;
  if (!st.initialized) return outcome::not_found;
  return std::nullopt;
}

}  // namespace

void server::on_open(context<session_state>& ctx, const client& c) const {
  engine e{*this, ctx};
  auto transport = c.param("transport", wire::transport_post);
  if (transport == wire::transport_wake) return;
  if (transport == wire::transport_get) {
    if (auto o = unavailable(e.st)) return e.answer(c.id, *o, not_found_body());
    return e.attach_get(c.id, c.param("last_event_id"));
  }
  if (transport == wire::transport_delete) {
    if (auto o = unavailable(e.st)) return e.answer(c.id, *o, not_found_body());
    e.delete_session();
    return e.answer(c.id, outcome::done);
  }
  // post (and any other client of the kind): a new stream for its responses.
  if (e.st.deleted) return;  // answered when its body arrives
  e.open_post_stream(c.id);
}

void server::on_message(context<session_state>& ctx, const client& c, const json& msg) const {
  engine e{*this, ctx};
  auto& st = e.st;
  auto transport = c.param("transport", wire::transport_post);
  if (transport == wire::transport_wake) return e.handle_wake(msg);

  const bool init = msg.is_object() && msg.value("method", "") == std::string("initialize")
                    && msg.contains("id");
  if (!init)
    if (auto o = unavailable(st)) return e.answer(c.id, *o, not_found_body());
  if (st.deleted) return e.answer(c.id, outcome::session_expired, not_found_body());
  if (init && st.initialized)
    return e.answer(c.id, outcome::bad_request,
                    jsonrpc::error_message(msg["id"], code::invalid_request,
                                           "Invalid Request: Server already initialized"));

  auto sid = e.stream_of(c.id);
  if (init) {
    st.streams[sid].awaiting.push_back(msg["id"].dump());
    e.emit(sid, jsonrpc::result_message(msg["id"], e.initialize(msg)));
    return;
  }
  if (msg.is_array() && !allows_batches(st.protocol_version))
    return e.answer(c.id, outcome::bad_request,
                    jsonrpc::error_message(nullptr, code::invalid_request,
                                           "Invalid Request: JSON-RPC batches are not supported in protocol version "
                                             + st.protocol_version));
  const json items = msg.is_array() ? msg : json::array({msg});
  bool any_request = false;
  for (auto& m : items) {
    if (!m.is_object()) continue;
    if (m.contains("method") && m["method"].is_string()) {
      if (m.contains("id")) {
        any_request = true;
        e.handle_request(sid, m);
      } else {
        e.handle_notification(m);
      }
    } else if (jsonrpc::is_response(m)) {
      e.handle_response(m);
    }
  }
  if (!any_request) e.answer(c.id, outcome::accepted);
}

void server::on_timer(context<session_state>& ctx, const json& payload) const {
  engine e{*this, ctx};
  e.handle_wake(payload);
}

void server::on_close(context<session_state>& ctx, const client& c) const {
  engine e{*this, ctx};
  e.client_closed(c.id);
}

}  // namespace skein::mcp
