// <skein/mcp.hpp>: the MCP server API on top of behaviours
// (actors/mcp/server.hpp), under its installed name.
#pragma once

#include "actors/mcp/server.hpp"
