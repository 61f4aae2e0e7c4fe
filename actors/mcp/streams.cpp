// The MCP streams/resume table of one session: which HTTP request (client)
// carries which MCP stream, what a stream buffers while no request carries
// it, how a GET with Last-Event-ID resumes it, and where timer wakes go.
// See engine.hpp and wire.hpp.
#include "actors/mcp/engine.hpp"

#include "actors/mcp/versions.hpp"

namespace skein::mcp {

using detail::control;
using detail::erase_value;
using detail::parse_or;

void engine::answer(const std::string& client, wire::outcome o, json body) {
  auto c = control("outcome");
  c["outcome"] = std::string(wire::outcome_name(o));
  c["body"] = std::move(body);
  ctx.send(client, std::move(c));
}

void engine::ensure_sse(stream_state& s) {
  if (s.carrier.empty() || s.sse) return;
  auto c = control("sse");
  c["priming"] = primes_sse(st.protocol_version);
  ctx.send(s.carrier, std::move(c));
  s.sse = true;
}

void engine::ensure_sse(const std::string& sid) {
  if (auto it = st.streams.find(sid); it != st.streams.end()) ensure_sse(it->second);
}

void engine::emit(const std::string& sid, const json& msg) {
  auto it = st.streams.find(sid);
  if (it == st.streams.end()) return;  // the stream was pruned or the session deleted
  auto& s = it->second;
  const bool resp = jsonrpc::is_response(msg);
  if (resp) erase_value(s.awaiting, msg["id"].dump());
  if (s.carrier.empty()) {
    if (s.buffer.size() < detail::max_buffered) s.buffer.push_back(msg.dump());
    return;
  }
  if (!resp) ensure_sse(s);
  ctx.send(s.carrier, msg);
  if (resp && s.awaiting.empty() && s.kind == "post" && s.carrier != sid) {
    // A resumed POST stream (carried by a GET) is complete.
    send_control(s.carrier, control("end"));
    st.client_stream.erase(s.carrier);
    drop_stream(sid);
  }
}

void engine::drop_stream(const std::string& sid) {
  st.streams.erase(sid);
  erase_value(st.detached, sid);
  if (st.get_stream == sid) st.get_stream.clear();
}

void engine::detach(const std::string& sid) {
  auto& s = st.streams[sid];
  s.carrier.clear();
  s.sse = false;
  erase_value(st.detached, sid);
  st.detached.push_back(sid);
  while (st.detached.size() > detail::max_detached) {
    auto oldest = st.detached.front();
    drop_stream(oldest);
  }
}

void engine::open_post_stream(const std::string& client) {
  auto& s = st.streams[client];
  s.kind = "post";
  s.carrier = client;
  st.client_stream[client] = client;
  flush_wakes(client);
}

std::string engine::stream_of(const std::string& client) {
  auto sid = client;
  if (auto cs = st.client_stream.find(client); cs != st.client_stream.end()) sid = cs->second;
  if (!st.streams.count(sid)) {
    auto& s = st.streams[sid];
    s.kind = "post";
    s.carrier = client;
    st.client_stream[client] = sid;
  }
  return sid;
}

void engine::attach_get(const std::string& client, const std::string& last_event_id) {
  std::string sid = client;
  if (!last_event_id.empty()) {
    auto s = last_event_id.substr(0, last_event_id.find(':'));
    if (!s.empty()) sid = s;
  }
  auto& s = st.streams[sid];
  if (s.kind.empty()) s.kind = "get";
  if (!s.carrier.empty() && s.carrier != client) {
    // Another connection still carries the stream: the newest one wins.
    send_control(s.carrier, control("end"));
    st.client_stream.erase(s.carrier);
  }
  s.carrier = client;
  s.sse = false;
  erase_value(st.detached, sid);
  st.client_stream[client] = sid;
  ensure_sse(s);
  if (s.kind == "get") st.get_stream = sid;
  auto buffered = std::move(s.buffer);
  s.buffer.clear();
  for (auto& m : buffered) ctx.send(client, parse_or(m, json::object()));
  if (s.kind == "post" && s.awaiting.empty()) {
    send_control(client, control("end"));
    st.client_stream.erase(client);
    drop_stream(sid);
  }
  flush_wakes(client);
}

void engine::delete_session() {
  st.deleted = true;
  for (auto& [sid, s] : st.streams)
    if (!s.carrier.empty()) send_control(s.carrier, control("end"));
  st.streams.clear();
  st.client_stream.clear();
  st.detached.clear();
  st.calls.clear();
  st.outgoing.clear();
  st.get_stream.clear();
  st.pending_wakes.clear();
  st.subscriptions.clear();
}

void engine::client_closed(const std::string& client) {
  auto it = st.client_stream.find(client);
  if (it == st.client_stream.end()) return;
  auto sid = it->second;
  st.client_stream.erase(it);
  auto s = st.streams.find(sid);
  if (s == st.streams.end() || s->second.carrier != client) return;
  bool keep = (s->second.kind == "post" && (!s->second.awaiting.empty() || !s->second.buffer.empty()))
              || (s->second.kind == "get" && st.get_stream == sid);
  if (!keep) return drop_stream(sid);
  detach(sid);
}

void engine::schedule_wake(const std::string&, std::uint32_t ms, const std::string& token) {
  // A session timer: journaled with the session, so it fires on whichever
  // node owns the session when it is due (also after the owner died).
  auto c = control("wake");
  c["token"] = token;
  ctx.after(ms, std::move(c));
}

// Wakes scheduled by a session from before session timers: delivered by the
// transport that carried them (wire.hpp, "wake").
void engine::flush_wakes(const std::string& client) {
  for (auto& w : st.pending_wakes) ctx.send(client, parse_or(w, json::object()));
  st.pending_wakes.clear();
}

}  // namespace skein::mcp
