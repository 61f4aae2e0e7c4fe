// libFuzzer target: an MCP POST body as net/mcp_http.cpp reads it: input
// checks, parse, then actors/mcp/jsonrpc.hpp's classification; plus the
// resource URI template matcher on the same bytes.
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "actors/mcp/jsonrpc.hpp"
#include "actors/mcp/uri_template.hpp"
#include "net/input_check.hpp"

namespace jsonrpc = skein::mcp::jsonrpc;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::map<std::string, std::string> vars;
  (void)skein::mcp::match_uri_template("file:///{dir}/{name}.txt", text, vars);
  (void)skein::mcp::match_uri_template(text, "test://template/42/data", vars);
  if (skein::json_input_problem(text)) return 0;
  auto body = jsonrpc::json::parse(text, nullptr, false);
  if (body.is_discarded()) return 0;
  auto shape = jsonrpc::inspect_body(body);
  if (shape.initialize && !shape.shaped && !shape.batch) std::abort();
  if (shape.shaped) {
    const auto& items = shape.batch ? body : jsonrpc::json::array({body});
    for (auto& m : items) {
      if (!jsonrpc::valid_message(m)) std::abort();
      if (jsonrpc::is_response(m) && jsonrpc::is_request(m)) std::abort();
      if (jsonrpc::is_request(m))
        (void)jsonrpc::error_message(m["id"], jsonrpc::code::method_not_found, "x").dump();
    }
  }
  return 0;
}
