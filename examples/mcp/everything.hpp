// The MCP "everything server" that the @modelcontextprotocol/conformance
// server scenarios expect (SERVER_REQUIREMENTS.md of that project, plus the
// 2025-11-25 scenarios: json_schema_2020_12_tool, SEP-1034/SEP-1330
// elicitations, test_reconnection for SSE polling), written against the
// public MCP server API in actors/mcp/server.hpp. Registered as kind `mcp`
// in skein-demo:
//
//   registry.add<skein::mcp::behaviour<examples::mcp_everything>>("mcp");
#pragma once

#include "actors/mcp/server.hpp"

namespace examples {

struct mcp_everything {
  static const skein::mcp::server& server();
};

}  // namespace examples
