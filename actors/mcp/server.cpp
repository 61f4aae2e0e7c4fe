// The MCP session engine: JSON-RPC dispatch, streams, tool calls as state
// machines. See server.hpp (API) and wire.hpp (what net/ and this file say to
// each other).
#include "actors/mcp/server.hpp"

#include <algorithm>
#include <stdexcept>

#include "actors/mcp/wire.hpp"

namespace skein::mcp {

namespace {

constexpr std::size_t max_buffered = 512;  // messages kept per detached stream
constexpr std::size_t max_detached = 16;   // detached streams kept per session

const char* const K = wire::control_key;

struct rpc_error : std::runtime_error {
  int code;
  json data;
  rpc_error(int c, const std::string& m, json d = nullptr)
    : std::runtime_error(m), code(c), data(std::move(d)) {}
};

json control(const char* op) { return json{{K, op}}; }

json error_message(const json& id, int code, const std::string& message, const json& data = nullptr) {
  json err{{"code", code}, {"message", message}};
  if (!data.is_null()) err["data"] = data;
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"error", err}};
}

json result_message(const json& id, json result) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

bool is_response(const json& m) {
  return m.is_object() && m.contains("id") && !m.contains("method")
         && (m.contains("result") || m.contains("error"));
}

int level_rank(std::string_view level) {
  static const char* levels[] = {"debug", "info", "notice", "warning",
                                 "error", "critical", "alert", "emergency"};
  for (int i = 0; i < 8; ++i)
    if (level == levels[i]) return i;
  return -1;
}

json parse_or(const std::string& text, json fallback) {
  if (text.empty()) return fallback;
  auto j = json::parse(text, nullptr, false);
  return j.is_discarded() ? fallback : j;
}

void erase_value(std::vector<std::string>& v, const std::string& x) {
  v.erase(std::remove(v.begin(), v.end(), x), v.end());
}

json not_found_body() { return error_message(nullptr, -32001, "Session not found"); }

/// RFC 6570 level-1 match of `uri` against `tmpl`; fills `vars`.
bool match_template(const std::string& tmpl, const std::string& uri,
                    std::map<std::string, std::string>& vars) {
  std::size_t t = 0, u = 0;
  while (t < tmpl.size()) {
    if (tmpl[t] == '{') {
      auto close = tmpl.find('}', t);
      if (close == std::string::npos) return false;
      auto name = tmpl.substr(t + 1, close - t - 1);
      t = close + 1;
      // The variable ends at the next literal char of the template (or '/').
      char stop = t < tmpl.size() ? tmpl[t] : '\0';
      std::size_t end = u;
      while (end < uri.size() && uri[end] != '/' && (stop == '\0' || uri[end] != stop)) ++end;
      if (end == u) return false;
      vars[name] = uri.substr(u, end - u);
      u = end;
    } else {
      if (u >= uri.size() || uri[u] != tmpl[t]) return false;
      ++t;
      ++u;
    }
  }
  return u == uri.size();
}

}  // namespace

const std::vector<std::string>& supported_versions() {
  static const std::vector<std::string> v{"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"};
  return v;
}

bool is_supported_version(std::string_view v) {
  const auto& all = supported_versions();
  return std::find(all.begin(), all.end(), v) != all.end();
}

// ---- engine: one per handled input ----------------------------------------

class engine {
 public:
  engine(const server& s, context<session_state>& c) : srv(s), ctx(c), st(c.state()) {}

  const server& srv;
  context<session_state>& ctx;
  session_state& st;

  bool priming() const { return st.protocol_version >= "2025-11-25"; }

  void send_control(const std::string& client, json c) { ctx.send(client, std::move(c)); }

  void status(const std::string& client, int code, json body) {
    auto c = control("status");
    c["status"] = code;
    c["body"] = std::move(body);
    ctx.send(client, std::move(c));
  }

  void ensure_sse(stream_state& s) {
    if (s.carrier.empty() || s.sse) return;
    auto c = control("sse");
    c["priming"] = priming();
    ctx.send(s.carrier, std::move(c));
    s.sse = true;
  }

  void ensure_sse(const std::string& sid) {
    if (auto it = st.streams.find(sid); it != st.streams.end()) ensure_sse(it->second);
  }

  /// Sends one JSON-RPC message on stream `sid` (or keeps it while detached).
  void emit(const std::string& sid, const json& msg) {
    auto it = st.streams.find(sid);
    if (it == st.streams.end()) return;  // the stream was pruned or the session deleted
    auto& s = it->second;
    const bool resp = is_response(msg);
    if (resp) erase_value(s.awaiting, msg["id"].dump());
    if (s.carrier.empty()) {
      if (s.buffer.size() < max_buffered) s.buffer.push_back(msg.dump());
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

  void drop_stream(const std::string& sid) {
    st.streams.erase(sid);
    erase_value(st.detached, sid);
    if (st.get_stream == sid) st.get_stream.clear();
  }

  void detach(const std::string& sid) {
    auto& s = st.streams[sid];
    s.carrier.clear();
    s.sse = false;
    erase_value(st.detached, sid);
    st.detached.push_back(sid);
    while (st.detached.size() > max_detached) {
      auto oldest = st.detached.front();
      drop_stream(oldest);
    }
  }

  void schedule_wake(const std::string& prefer, std::uint32_t ms, const std::string& token) {
    auto c = control("wake");
    c["after_ms"] = ms;
    c["token"] = token;
    std::string carrier;
    if (auto it = st.streams.find(prefer); it != st.streams.end()) carrier = it->second.carrier;
    if (carrier.empty() && !st.get_stream.empty())
      if (auto it = st.streams.find(st.get_stream); it != st.streams.end())
        carrier = it->second.carrier;
    if (carrier.empty())
      for (auto& [_, s] : st.streams)
        if (!s.carrier.empty()) {
          carrier = s.carrier;
          break;
        }
    if (carrier.empty()) {
      st.pending_wakes.push_back(c.dump());
      return;
    }
    ctx.send(carrier, std::move(c));
  }

  void flush_wakes(const std::string& client) {
    for (auto& w : st.pending_wakes) ctx.send(client, parse_or(w, json::object()));
    st.pending_wakes.clear();
  }

  void erase_call(const std::string& call_id) {
    for (auto it = st.outgoing.begin(); it != st.outgoing.end();)
      it = it->second == call_id ? st.outgoing.erase(it) : std::next(it);
    st.calls.erase(call_id);
  }

  void run_tool(const std::string& call_id, const tool_event& ev) {
    auto it = st.calls.find(call_id);
    if (it == st.calls.end()) return;
    const tool* t = srv.find_tool(it->second.tool);
    tool_call call{*this, call_id};
    try {
      if (!t) throw std::runtime_error("tool '" + it->second.tool + "' is not registered any more");
      t->handler(call, ev);
      if (!call.done() && !call.waiting())
        call.fail(-32603, "tool handler neither answered nor waited");
    } catch (const std::exception& e) {
      if (!call.done()) {
        if (auto c = st.calls.find(call_id); c != st.calls.end()) c->second.await_kind.clear();
        call.fail(-32603, std::string("tool failed: ") + e.what());
      }
    }
    if (!call.done())
      if (auto c = st.calls.find(call_id); c != st.calls.end()) c->second.vars = call.vars_ref().dump();
  }

  json simple_request(const std::string& method, const json& params) {
    auto need_string = [&](const char* key) {
      auto i = params.find(key);
      if (i == params.end() || !i->is_string())
        throw rpc_error(-32602, std::string("params.") + key + " must be a string");
      return i->get<std::string>();
    };
    if (method == "ping") return json::object();
    if (method == "tools/list") return json{{"tools", srv.tools_json()}};
    if (method == "resources/list") return json{{"resources", srv.resources_json()}};
    if (method == "resources/templates/list")
      return json{{"resourceTemplates", srv.templates_json()}};
    if (method == "resources/read") {
      auto uri = need_string("uri");
      auto contents = srv.read_resource(uri);
      if (!contents) throw rpc_error(-32002, "Resource not found", json{{"uri", uri}});
      return json{{"contents", *contents}};
    }
    if (method == "resources/subscribe") {
      auto uri = need_string("uri");
      if (std::find(st.subscriptions.begin(), st.subscriptions.end(), uri) == st.subscriptions.end())
        st.subscriptions.push_back(uri);
      return json::object();
    }
    if (method == "resources/unsubscribe") {
      erase_value(st.subscriptions, need_string("uri"));
      return json::object();
    }
    if (method == "prompts/list") return json{{"prompts", srv.prompts_json()}};
    if (method == "prompts/get") {
      auto name = need_string("name");
      const prompt* p = srv.find_prompt(name);
      if (!p) throw rpc_error(-32602, "Unknown prompt: " + name);
      json args = params.value("arguments", json::object());
      if (!args.is_object()) throw rpc_error(-32602, "params.arguments must be an object");
      for (auto& a : p->arguments)
        if (a.required && !args.contains(a.name))
          throw rpc_error(-32602, "Missing required argument: " + a.name);
      try {
        return p->get(args);
      } catch (const std::invalid_argument& e) {
        throw rpc_error(-32602, e.what());
      }
    }
    if (method == "completion/complete") {
      json ref = params.value("ref", json::object());
      json arg = params.value("argument", json::object());
      if (!ref.is_object() || !arg.is_object())
        throw rpc_error(-32602, "params.ref and params.argument must be objects");
      json completion = srv.completer() ? srv.completer()(ref, arg, params.value("context", json::object()))
                                        : json{{"values", json::array()}};
      return json{{"completion", completion}};
    }
    if (method == "logging/setLevel") {
      auto level = need_string("level");
      if (level_rank(level) < 0) throw rpc_error(-32602, "unknown log level '" + level + "'");
      st.log_level = level;
      return json::object();
    }
    throw rpc_error(-32601, "Method not found: " + method);
  }

  void start_call(const std::string& sid, const json& id, const json& params) {
    auto name_it = params.find("name");
    if (name_it == params.end() || !name_it->is_string())
      throw rpc_error(-32602, "params.name must be a string");
    auto name = name_it->get<std::string>();
    const tool* t = srv.find_tool(name);
    if (!t) throw rpc_error(-32602, "Unknown tool: " + name);
    json args = params.value("arguments", json::object());
    if (args.is_null()) args = json::object();
    if (!args.is_object()) throw rpc_error(-32602, "params.arguments must be an object");
    auto call_id = sid + " " + id.dump();
    if (st.calls.count(call_id)) throw rpc_error(-32600, "duplicate request id");
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

  void handle_request(const std::string& sid, const json& req) {
    const json& id = req["id"];
    auto method = req["method"].get<std::string>();
    st.streams[sid].awaiting.push_back(id.dump());
    try {
      json params = req.value("params", json::object());
      if (params.is_null()) params = json::object();
      if (!params.is_object()) throw rpc_error(-32602, "params must be an object");
      if (method == "initialize") throw rpc_error(-32600, "Server already initialized");
      if (method == "tools/call") {
        start_call(sid, id, params);
        return;
      }
      emit(sid, result_message(id, simple_request(method, params)));
    } catch (const rpc_error& e) {
      emit(sid, error_message(id, e.code, e.what(), e.data));
    } catch (const json::exception& e) {
      emit(sid, error_message(id, -32602, std::string("invalid params: ") + e.what()));
    }
  }

  json initialize(const json& req) {
    json params = req.value("params", json::object());
    if (!params.is_object()) params = json::object();
    auto requested = params.value("protocolVersion", std::string{});
    st.protocol_version = is_supported_version(requested) ? requested : supported_versions().back();
    st.client_capabilities = params.value("capabilities", json::object()).dump();
    st.client_info = params.value("clientInfo", json::object()).dump();
    st.initialized = true;
    json caps{{"logging", json::object()}};
    if (!srv.tools_json().empty()) caps["tools"] = {{"listChanged", true}};
    if (!srv.resources_json().empty() || !srv.templates_json().empty())
      caps["resources"] = {{"subscribe", true}, {"listChanged", true}};
    if (!srv.prompts_json().empty()) caps["prompts"] = {{"listChanged", true}};
    if (srv.completer()) caps["completions"] = json::object();
    json result{{"protocolVersion", st.protocol_version},
                {"capabilities", caps},
                {"serverInfo", {{"name", srv.name()}, {"version", srv.version()}}}};
    if (!srv.instructions_text().empty()) result["instructions"] = srv.instructions_text();
    return result;
  }

  void cancel(const json& request_id) {
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

  void handle_notification(const json& n) {
    auto method = n["method"].get<std::string>();
    if (method == "notifications/cancelled") {
      auto p = n.value("params", json::object());
      if (p.is_object() && p.contains("requestId")) cancel(p["requestId"]);
    }
    // notifications/initialized, roots/list_changed, ...: nothing to do.
  }

  void handle_response(const json& r) {
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

  void handle_wake(const json& msg) {
    if (!msg.is_object() || msg.value(K, "") != std::string("wake")) return;
    auto token = msg.value("token", std::string{});
    auto call_id = token.substr(0, token.find('#'));
    auto c = st.calls.find(call_id);
    if (c == st.calls.end() || c->second.await_kind != "wake" || c->second.await_key != token) return;
    c->second.await_kind.clear();
    c->second.await_key.clear();
    run_tool(call_id, tool_event{tool_event::kind::wake, nullptr});
  }
};

// ---- tool_call --------------------------------------------------------------

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
  e_.emit(cs.stream, json{{"jsonrpc", "2.0"}, {"method", "notifications/progress"}, {"params", params}});
}

void tool_call::log(std::string_view level, json data, std::string logger) {
  if (level_rank(level) < level_rank(e_.st.log_level)) return;
  json params{{"level", std::string(level)}, {"data", std::move(data)}};
  if (!logger.empty()) params["logger"] = std::move(logger);
  e_.emit(e_.st.calls.at(id_).stream,
          json{{"jsonrpc", "2.0"}, {"method", "notifications/message"}, {"params", params}});
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
  e_.emit(cs.stream, result_message(parse_or(cs.request_id, nullptr), std::move(result)));
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
  e_.emit(cs.stream, error_message(parse_or(cs.request_id, nullptr), code, message, data));
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

// ---- server -------------------------------------------------------------------

server::server(std::string name, std::string version)
  : name_(std::move(name)), version_(std::move(version)) {}

server& server::instructions(std::string text) {
  instructions_ = std::move(text);
  return *this;
}
server& server::add(tool t) {
  tools_.push_back(std::move(t));
  return *this;
}
server& server::add(resource r) {
  resources_.push_back(std::move(r));
  return *this;
}
server& server::add(resource_template t) {
  templates_.push_back(std::move(t));
  return *this;
}
server& server::add(prompt p) {
  prompts_.push_back(std::move(p));
  return *this;
}
server& server::completion(completion_handler h) {
  completion_ = std::move(h);
  return *this;
}

const tool* server::find_tool(std::string_view name) const {
  for (auto& t : tools_)
    if (t.name == name) return &t;
  return nullptr;
}

const prompt* server::find_prompt(std::string_view name) const {
  for (auto& p : prompts_)
    if (p.name == name) return &p;
  return nullptr;
}

std::optional<json> server::read_resource(const std::string& uri) const {
  for (auto& r : resources_)
    if (r.uri == uri) return r.read(uri);
  for (auto& t : templates_) {
    std::map<std::string, std::string> vars;
    if (match_template(t.uri_template, uri, vars)) return t.read(uri, vars);
  }
  return std::nullopt;
}

json server::tools_json() const {
  json out = json::array();
  for (auto& t : tools_) {
    json j{{"name", t.name}, {"description", t.description}, {"inputSchema", t.input_schema}};
    if (!t.title.empty()) j["title"] = t.title;
    if (!t.annotations.is_null()) j["annotations"] = t.annotations;
    if (!t.output_schema.is_null()) j["outputSchema"] = t.output_schema;
    out.push_back(std::move(j));
  }
  return out;
}

json server::resources_json() const {
  json out = json::array();
  for (auto& r : resources_) {
    json j{{"uri", r.uri}, {"name", r.name}, {"description", r.description}};
    if (!r.mime_type.empty()) j["mimeType"] = r.mime_type;
    out.push_back(std::move(j));
  }
  return out;
}

json server::templates_json() const {
  json out = json::array();
  for (auto& t : templates_) {
    json j{{"uriTemplate", t.uri_template}, {"name", t.name}, {"description", t.description}};
    if (!t.mime_type.empty()) j["mimeType"] = t.mime_type;
    out.push_back(std::move(j));
  }
  return out;
}

json server::prompts_json() const {
  json out = json::array();
  for (auto& p : prompts_) {
    json j{{"name", p.name}, {"description", p.description}};
    if (!p.arguments.empty()) {
      json args = json::array();
      for (auto& a : p.arguments)
        args.push_back({{"name", a.name}, {"description", a.description}, {"required", a.required}});
      j["arguments"] = std::move(args);
    }
    out.push_back(std::move(j));
  }
  return out;
}

void server::on_open(context<session_state>& ctx, const client& c) const {
  engine e{*this, ctx};
  auto& st = e.st;
  auto transport = c.param("transport", wire::transport_post);
  if (transport == wire::transport_wake) return;
  if (transport == wire::transport_get) {
    if (!st.initialized || st.deleted) return e.status(c.id, 404, not_found_body());
    std::string sid = c.id;
    if (auto lei = c.param("last_event_id"); !lei.empty()) {
      auto s = lei.substr(0, lei.find(':'));
      if (!s.empty()) sid = s;
    }
    auto& s = st.streams[sid];
    if (s.kind.empty()) s.kind = "get";
    if (!s.carrier.empty() && s.carrier != c.id) {
      // Another connection still carries the stream: the newest one wins.
      e.send_control(s.carrier, control("end"));
      st.client_stream.erase(s.carrier);
    }
    s.carrier = c.id;
    s.sse = false;
    erase_value(st.detached, sid);
    st.client_stream[c.id] = sid;
    e.ensure_sse(s);
    if (s.kind == "get") st.get_stream = sid;
    auto buffered = std::move(s.buffer);
    s.buffer.clear();
    for (auto& m : buffered) ctx.send(c.id, parse_or(m, json::object()));
    if (s.kind == "post" && s.awaiting.empty()) {
      e.send_control(c.id, control("end"));
      st.client_stream.erase(c.id);
      e.drop_stream(sid);
    }
    e.flush_wakes(c.id);
    return;
  }
  if (transport == wire::transport_delete) {
    if (!st.initialized || st.deleted) return e.status(c.id, 404, not_found_body());
    st.deleted = true;
    for (auto& [sid, s] : st.streams)
      if (!s.carrier.empty()) e.send_control(s.carrier, control("end"));
    st.streams.clear();
    st.client_stream.clear();
    st.detached.clear();
    st.calls.clear();
    st.outgoing.clear();
    st.get_stream.clear();
    st.pending_wakes.clear();
    st.subscriptions.clear();
    return e.status(c.id, 200, nullptr);
  }
  // post (and any other client of the kind): a new stream for its responses.
  if (st.deleted) return;  // answered with 404 when its body arrives
  auto& s = st.streams[c.id];
  s.kind = "post";
  s.carrier = c.id;
  st.client_stream[c.id] = c.id;
  e.flush_wakes(c.id);
}

void server::on_message(context<session_state>& ctx, const client& c, const json& msg) const {
  engine e{*this, ctx};
  auto& st = e.st;
  auto transport = c.param("transport", wire::transport_post);
  if (transport == wire::transport_wake) return e.handle_wake(msg);

  auto has_initialize = [](const json& m) {
    return m.is_object() && m.value("method", "") == std::string("initialize") && m.contains("id");
  };
  bool init = has_initialize(msg);
  if (st.deleted || (!st.initialized && !init)) return e.status(c.id, 404, not_found_body());
  if (init && st.initialized)
    return e.status(c.id, 400, error_message(msg["id"], -32600, "Invalid Request: Server already initialized"));

  auto sid = c.id;
  if (auto cs = st.client_stream.find(c.id); cs != st.client_stream.end()) sid = cs->second;
  if (!st.streams.count(sid)) {
    auto& s = st.streams[sid];
    s.kind = "post";
    s.carrier = c.id;
    st.client_stream[c.id] = sid;
  }

  if (init) {
    st.streams[sid].awaiting.push_back(msg["id"].dump());
    e.emit(sid, result_message(msg["id"], e.initialize(msg)));
    return;
  }
  if (msg.is_array() && st.protocol_version >= "2025-06-18")
    return e.status(c.id, 400,
                    error_message(nullptr, -32600,
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
    } else if (is_response(m)) {
      e.handle_response(m);
    }
  }
  if (!any_request) e.status(c.id, 202, nullptr);
}

void server::on_close(context<session_state>& ctx, const client& c) const {
  engine e{*this, ctx};
  auto& st = e.st;
  auto it = st.client_stream.find(c.id);
  if (it == st.client_stream.end()) return;
  auto sid = it->second;
  st.client_stream.erase(it);
  auto s = st.streams.find(sid);
  if (s == st.streams.end() || s->second.carrier != c.id) return;
  bool keep = (s->second.kind == "post" && (!s->second.awaiting.empty() || !s->second.buffer.empty()))
              || (s->second.kind == "get" && st.get_stream == sid);
  if (!keep) return e.drop_stream(sid);
  e.detach(sid);
}

}  // namespace skein::mcp
