// JSON-RPC 2.0 as MCP uses it: the message shapes, the error codes and the
// helpers that build and classify messages. Shared by the MCP engine
// (actors/mcp/*) and the Streamable HTTP transport (net/mcp_http.cpp), so
// that both say the same thing the same way. Header-only: nlohmann::json
// values in, nlohmann::json values out; no state, thread-safe.
#pragma once

#include <set>
#include <stdexcept>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

namespace skein::mcp::jsonrpc {

using json = nlohmann::json;

/// Error codes (JSON-RPC 2.0 and MCP's own).
namespace code {
inline constexpr int parse_error = -32700;       // body is not JSON
inline constexpr int invalid_request = -32600;   // not a JSON-RPC message / not allowed now
inline constexpr int method_not_found = -32601;
inline constexpr int invalid_params = -32602;
inline constexpr int internal_error = -32603;
inline constexpr int server_error = -32000;      // transport-level refusals (HTTP 4xx bodies)
inline constexpr int session_not_found = -32001; // unknown or deleted Mcp-Session-Id
inline constexpr int resource_not_found = -32002;
}  // namespace code

/// Thrown by request handlers; becomes the JSON-RPC error response.
struct rpc_error : std::runtime_error {
  int code;
  json data;
  rpc_error(int c, const std::string& message, json d = nullptr)
    : std::runtime_error(message), code(c), data(std::move(d)) {}
};

/// {"jsonrpc":"2.0","id":ID,"error":{"code":C,"message":M[,"data":D]}}
inline json error_message(const json& id, int code, const std::string& message,
                          const json& data = nullptr) {
  json err{{"code", code}, {"message", message}};
  if (!data.is_null()) err["data"] = data;
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(err)}};
}

/// {"jsonrpc":"2.0","id":ID,"result":R}
inline json result_message(const json& id, json result) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

/// {"jsonrpc":"2.0","method":M,"params":P}
inline json notification(std::string method, json params) {
  return json{{"jsonrpc", "2.0"}, {"method", std::move(method)}, {"params", std::move(params)}};
}

/// A response (result or error) to a request of the other side?
inline bool is_response(const json& m) {
  return m.is_object() && m.contains("id") && !m.contains("method")
         && (m.contains("result") || m.contains("error"));
}

/// A request (method and id)?
inline bool is_request(const json& m) {
  return m.is_object() && m.contains("id") && m.contains("method");
}

/// A well-formed JSON-RPC 2.0 request, notification or response: "jsonrpc"
/// is "2.0"; a method is a string; an id a string or an integer; params an
/// object or array; a response has exactly one of result and error.
inline bool valid_message(const json& m) {
  if (!m.is_object()) return false;
  auto v = m.find("jsonrpc");
  if (v == m.end() || *v != "2.0") return false;
  if (auto method = m.find("method"); method != m.end()) {
    if (!method->is_string()) return false;
    if (auto id = m.find("id"); id != m.end() && !(id->is_string() || id->is_number_integer()))
      return false;
    if (auto p = m.find("params"); p != m.end() && !(p->is_object() || p->is_array())) return false;
    return true;
  }
  return m.contains("id") && (m.contains("result") != m.contains("error"));
}

/// What a POST body (one message or a batch array) holds.
struct body_shape {
  bool shaped = false;          // non-empty, and every item a valid_message
  bool batch = false;           // a JSON array
  bool initialize = false;      // it holds an initialize request
  std::size_t items = 0;
  std::set<std::string> request_ids;  // ids of its requests (JSON text)
};

inline body_shape inspect_body(const json& body) {
  body_shape b;
  b.batch = body.is_array();
  auto look = [&b](const json& m) {
    ++b.items;
    if (!valid_message(m)) return false;
    if (is_request(m)) {
      b.request_ids.insert(m["id"].dump());
      if (m["method"] == "initialize") b.initialize = true;
    }
    return true;
  };
  if (b.batch) {
    b.shaped = !body.empty();
    for (auto& m : body)
      if (!look(m)) {
        b.shaped = false;
        break;
      }
  } else {
    b.shaped = look(body);
  }
  return b;
}

}  // namespace skein::mcp::jsonrpc
