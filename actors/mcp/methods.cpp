// The JSON-RPC method table of an MCP session: method name -> handler, and
// what a request, the initialize request and a notification do. Handlers
// throw jsonrpc::rpc_error for a JSON-RPC error response.
#include "actors/mcp/engine.hpp"

#include <optional>
#include <unordered_map>

namespace skein::mcp {

using detail::erase_value;
using jsonrpc::rpc_error;
namespace code = jsonrpc::code;

int detail::level_rank(std::string_view level) {
  static const char* levels[] = {"debug", "info", "notice", "warning",
                                 "error", "critical", "alert", "emergency"};
  for (int i = 0; i < 8; ++i)
    if (level == levels[i]) return i;
  return -1;
}

namespace {

/// A method handler: the result to send now, or nullopt when the handler
/// answers later itself (tools/call).
using method_fn = std::optional<json> (*)(engine&, const std::string& sid, const json& id,
                                          const json& params);

std::string need_string(const json& params, const char* key) {
  auto i = params.find(key);
  if (i == params.end() || !i->is_string())
    throw rpc_error(code::invalid_params, std::string("params.") + key + " must be a string");
  return i->get<std::string>();
}

std::optional<json> ping(engine&, const std::string&, const json&, const json&) {
  return json::object();
}

std::optional<json> tools_list(engine& e, const std::string&, const json&, const json&) {
  return json{{"tools", e.srv.tools_json()}};
}

std::optional<json> tools_call(engine& e, const std::string& sid, const json& id, const json& params) {
  e.start_call(sid, id, params);
  return std::nullopt;
}

std::optional<json> resources_list(engine& e, const std::string&, const json&, const json&) {
  return json{{"resources", e.srv.resources_json()}};
}

std::optional<json> templates_list(engine& e, const std::string&, const json&, const json&) {
  return json{{"resourceTemplates", e.srv.templates_json()}};
}

std::optional<json> resources_read(engine& e, const std::string&, const json&, const json& params) {
  auto uri = need_string(params, "uri");
  auto contents = e.srv.read_resource(uri);
  if (!contents) throw rpc_error(code::resource_not_found, "Resource not found", json{{"uri", uri}});
  return json{{"contents", *contents}};
}

std::optional<json> resources_subscribe(engine& e, const std::string&, const json&, const json& params) {
  auto uri = need_string(params, "uri");
  auto& subs = e.st.subscriptions;
  if (std::find(subs.begin(), subs.end(), uri) == subs.end()) subs.push_back(uri);
  return json::object();
}

std::optional<json> resources_unsubscribe(engine& e, const std::string&, const json&, const json& params) {
  erase_value(e.st.subscriptions, need_string(params, "uri"));
  return json::object();
}

std::optional<json> prompts_list(engine& e, const std::string&, const json&, const json&) {
  return json{{"prompts", e.srv.prompts_json()}};
}

std::optional<json> prompts_get(engine& e, const std::string&, const json&, const json& params) {
  auto name = need_string(params, "name");
  const prompt* p = e.srv.find_prompt(name);
  if (!p) throw rpc_error(code::invalid_params, "Unknown prompt: " + name);
  json args = params.value("arguments", json::object());
  if (!args.is_object()) throw rpc_error(code::invalid_params, "params.arguments must be an object");
  for (auto& a : p->arguments)
    if (a.required && !args.contains(a.name))
      throw rpc_error(code::invalid_params, "Missing required argument: " + a.name);
  try {
    return p->get(args);
  } catch (const std::invalid_argument& ex) {
    throw rpc_error(code::invalid_params, ex.what());
  }
}

std::optional<json> complete(engine& e, const std::string&, const json&, const json& params) {
  json ref = params.value("ref", json::object());
  json arg = params.value("argument", json::object());
  if (!ref.is_object() || !arg.is_object())
    throw rpc_error(code::invalid_params, "params.ref and params.argument must be objects");
  json completion = e.srv.completer()
                      ? e.srv.completer()(ref, arg, params.value("context", json::object()))
                      : json{{"values", json::array()}};
  return json{{"completion", completion}};
}

std::optional<json> set_level(engine& e, const std::string&, const json&, const json& params) {
  auto level = need_string(params, "level");
  if (detail::level_rank(level) < 0)
    throw rpc_error(code::invalid_params, "unknown log level '" + level + "'");
  e.st.log_level = level;
  return json::object();
}

std::optional<json> initialize_again(engine&, const std::string&, const json&, const json&) {
  throw rpc_error(code::invalid_request, "Server already initialized");
}

const std::unordered_map<std::string_view, method_fn>& methods() {
  static const std::unordered_map<std::string_view, method_fn> table{
    {"ping", ping},
    {"initialize", initialize_again},  // the first one is handled before dispatch
    {"tools/list", tools_list},
    {"tools/call", tools_call},
    {"resources/list", resources_list},
    {"resources/templates/list", templates_list},
    {"resources/read", resources_read},
    {"resources/subscribe", resources_subscribe},
    {"resources/unsubscribe", resources_unsubscribe},
    {"prompts/list", prompts_list},
    {"prompts/get", prompts_get},
    {"completion/complete", complete},
    {"logging/setLevel", set_level},
  };
  return table;
}

}  // namespace

void engine::handle_request(const std::string& sid, const json& req) {
  const json& id = req["id"];
  auto method = req["method"].get<std::string>();
  st.streams[sid].awaiting.push_back(id.dump());
  try {
    json params = req.value("params", json::object());
    if (params.is_null()) params = json::object();
    if (!params.is_object()) throw rpc_error(code::invalid_params, "params must be an object");
    auto m = methods().find(method);
    if (m == methods().end()) throw rpc_error(code::method_not_found, "Method not found: " + method);
    if (auto result = m->second(*this, sid, id, params)) emit(sid, jsonrpc::result_message(id, std::move(*result)));
  } catch (const rpc_error& e) {
    emit(sid, jsonrpc::error_message(id, e.code, e.what(), e.data));
  } catch (const json::exception& e) {
    emit(sid, jsonrpc::error_message(id, code::invalid_params, std::string("invalid params: ") + e.what()));
  }
}

json engine::initialize(const json& req) {
  json params = req.value("params", json::object());
  if (!params.is_object()) params = json::object();
  st.protocol_version = negotiate_version(params.value("protocolVersion", std::string{}));
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

void engine::handle_notification(const json& n) {
  auto method = n["method"].get<std::string>();
  if (method == "notifications/cancelled") {
    auto p = n.value("params", json::object());
    if (p.is_object() && p.contains("requestId")) cancel(p["requestId"]);
  }
  // notifications/initialized, roots/list_changed, ...: nothing to do.
}

}  // namespace skein::mcp
