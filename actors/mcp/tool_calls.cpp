// The tool-call state machine: a tools/call starts a call, its handler runs
// once per tool_event (start, wake, result, error) until it answers
// (finish/fail) or the client cancels it; while it waits, what it waits for
// (a wake token or an outgoing request id) is kept in the session state.
// Also the tool_call handle the handler gets. See server.hpp.
#include "actors/mcp/engine.hpp"

#include <stdexcept>

namespace skein::mcp {

using detail::control;
using detail::erase_value;
using detail::parse_or;
using jsonrpc::rpc_error;
namespace code = jsonrpc::code;

// ---- the engine's side ----------------------------------------------------------

void engine::erase_call(const std::string& call_id) {
  for (auto it = st.outgoing.begin(); it != st.outgoing.end();)
    it = it->second == call_id ? st.outgoing.erase(it) : std::next(it);
  st.calls.erase(call_id);
}

void engine::run_tool(const std::string& call_id, const tool_event& ev) {
  auto it = st.calls.find(call_id);
  if (it == st.calls.end()) return;
  const tool* t = srv.find_tool(it->second.tool);
  tool_call call{*this, call_id};
  try {
    if (!t) throw std::runtime_error("tool '" + it->second.tool + "' is not registered any more");
    t->handler(call, ev);
    if (!call.done() && !call.waiting())
      call.fail(code::internal_error, "tool handler neither answered nor waited");
  } catch (const std::exception& e) {
    if (!call.done()) {
      if (auto c = st.calls.find(call_id); c != st.calls.end()) c->second.await_kind.clear();
      call.fail(code::internal_error, std::string("tool failed: ") + e.what());
    }
  }
  if (!call.done())
    if (auto c = st.calls.find(call_id); c != st.calls.end()) c->second.vars = call.vars_ref().dump();
}

void engine::start_call(const std::string& sid, const json& id, const json& params) {
  auto name_it = params.find("name");
  if (name_it == params.end() || !name_it->is_string())
    throw rpc_error(code::invalid_params, "params.name must be a string");
  auto name = name_it->get<std::string>();
  const tool* t = srv.find_tool(name);
  if (!t) throw rpc_error(code::invalid_params, "Unknown tool: " + name);
  json args = params.value("arguments", json::object());
  if (args.is_null()) args = json::object();
  if (!args.is_object()) throw rpc_error(code::invalid_params, "params.arguments must be an object");
  auto call_id = sid + " " + id.dump();
  if (st.calls.count(call_id)) throw rpc_error(code::invalid_request, "duplicate request id");
  call_state cs;
  cs.request_id = id.dump();
  cs.stream = sid;
  cs.tool = name;
  cs.arguments = args.dump();
  if (auto m = params.find("_meta"); m != params.end() && m->is_object())
    if (auto pt = m->find("progressToken"); pt != m->end() && (pt->is_string() || pt->is_number()))
      cs.progress_token = pt->dump();
  st.calls.emplace(call_id, std::move(cs));
  run_tool(call_id, tool_event{tool_event::kind::start, args});
}

void engine::cancel(const json& request_id) {
  auto key = request_id.dump();
  for (auto it = st.calls.begin(); it != st.calls.end(); ++it) {
    if (it->second.request_id != key) continue;
    auto sid = it->second.stream;
    auto call_id = it->first;
    erase_call(call_id);
    if (auto s = st.streams.find(sid); s != st.streams.end()) {
      erase_value(s->second.awaiting, key);
      if (s->second.awaiting.empty() && !s->second.carrier.empty())
        send_control(s->second.carrier, control("end"));
    }
    return;
  }
}

void engine::handle_response(const json& r) {
  auto key = r["id"].dump();
  auto it = st.outgoing.find(key);
  if (it == st.outgoing.end()) return;  // unknown or already answered
  auto call_id = it->second;
  st.outgoing.erase(it);
  auto c = st.calls.find(call_id);
  if (c == st.calls.end()) return;
  c->second.await_kind.clear();
  c->second.await_key.clear();
  if (r.contains("error"))
    run_tool(call_id, tool_event{tool_event::kind::error, r["error"]});
  else
    run_tool(call_id, tool_event{tool_event::kind::result, r["result"]});
}

void engine::handle_wake(const json& msg) {
  if (!msg.is_object() || msg.value(wire::control_key, "") != std::string("wake")) return;
  auto token = msg.value("token", std::string{});
  auto call_id = token.substr(0, token.find('#'));
  auto c = st.calls.find(call_id);
  if (c == st.calls.end() || c->second.await_kind != "wake" || c->second.await_key != token) return;
  c->second.await_kind.clear();
  c->second.await_key.clear();
  run_tool(call_id, tool_event{tool_event::kind::wake, nullptr});
}

// ---- tool_call: the handler's handle ----------------------------------------------

tool_call::tool_call(engine& e, std::string call_id) : e_(e), id_(std::move(call_id)) {
  auto& cs = e_.st.calls.at(id_);
  args_ = parse_or(cs.arguments, json::object());
  vars_ = parse_or(cs.vars, json::object());
}

const std::string& tool_call::tool() const { return e_.st.calls.at(id_).tool; }
const json& tool_call::arguments() const { return args_; }

const json& tool_call::client_capabilities() const {
  thread_local json caps;
  caps = parse_or(e_.st.client_capabilities, json::object());
  return caps;
}

bool tool_call::client_supports(std::string_view capability) const {
  auto caps = parse_or(e_.st.client_capabilities, json::object());
  return caps.is_object() && caps.contains(std::string(capability));
}

std::int64_t tool_call::now() const { return e_.ctx.now(); }
std::uint64_t tool_call::random() { return e_.ctx.random(); }

void tool_call::progress(double progress, std::optional<double> total, std::string message) {
  auto& cs = e_.st.calls.at(id_);
  if (cs.progress_token.empty()) return;
  json params{{"progressToken", parse_or(cs.progress_token, nullptr)}, {"progress", progress}};
  if (total) params["total"] = *total;
  if (!message.empty()) params["message"] = std::move(message);
  e_.emit(cs.stream, jsonrpc::notification("notifications/progress", std::move(params)));
}

void tool_call::log(std::string_view level, json data, std::string logger) {
  if (detail::level_rank(level) < detail::level_rank(e_.st.log_level)) return;
  json params{{"level", std::string(level)}, {"data", std::move(data)}};
  if (!logger.empty()) params["logger"] = std::move(logger);
  e_.emit(e_.st.calls.at(id_).stream, jsonrpc::notification("notifications/message", std::move(params)));
}

void tool_call::request(std::string method, json params) {
  auto& cs = e_.st.calls.at(id_);
  json id = e_.st.next_request++;
  auto key = id.dump();
  e_.st.outgoing[key] = id_;
  cs.await_kind = "request";
  cs.await_key = key;
  waiting_ = true;
  e_.ensure_sse(cs.stream);
  e_.emit(cs.stream, json{{"jsonrpc", "2.0"}, {"id", id}, {"method", std::move(method)},
                          {"params", std::move(params)}});
}

void tool_call::elicit(std::string message, json requested_schema) {
  request("elicitation/create",
          json{{"message", std::move(message)}, {"requestedSchema", std::move(requested_schema)}});
}

void tool_call::sample(json params) { request("sampling/createMessage", std::move(params)); }

void tool_call::sleep(std::uint32_t ms) {
  auto& cs = e_.st.calls.at(id_);
  static const char* hex = "0123456789abcdef";
  auto r = e_.ctx.random();
  std::string nonce(16, '0');
  for (int i = 0; i < 16; ++i) nonce[i] = hex[(r >> (i * 4)) & 0xf];
  auto token = id_ + "#" + std::to_string(e_.st.next_wake++) + "#" + nonce;
  cs.await_kind = "wake";
  cs.await_key = token;
  waiting_ = true;
  e_.ensure_sse(cs.stream);
  e_.schedule_wake(cs.stream, ms, token);
}

void tool_call::finish(json result) {
  if (done_) return;
  auto cs = e_.st.calls.at(id_);
  done_ = true;
  e_.erase_call(id_);
  e_.emit(cs.stream, jsonrpc::result_message(parse_or(cs.request_id, nullptr), std::move(result)));
}

void tool_call::finish_text(std::string text, bool is_error) {
  json result{{"content", json::array({json{{"type", "text"}, {"text", std::move(text)}}})}};
  if (is_error) result["isError"] = true;
  finish(std::move(result));
}

void tool_call::fail(int code, std::string message, json data) {
  if (done_) return;
  auto cs = e_.st.calls.at(id_);
  done_ = true;
  e_.erase_call(id_);
  e_.emit(cs.stream, jsonrpc::error_message(parse_or(cs.request_id, nullptr), code, message, data));
}

void tool_call::close_stream(std::uint32_t retry_ms) {
  auto sid = e_.st.calls.at(id_).stream;
  auto it = e_.st.streams.find(sid);
  if (it == e_.st.streams.end() || it->second.carrier.empty()) return;
  e_.ensure_sse(it->second);
  auto c = control("close");
  c["retry"] = retry_ms;
  e_.send_control(it->second.carrier, std::move(c));
  e_.detach(sid);
}

}  // namespace skein::mcp
