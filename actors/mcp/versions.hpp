// MCP protocol version negotiation and the features that depend on the
// negotiated version. Versions are "YYYY-MM-DD" strings, so they compare in
// time order as strings. No state; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace skein::mcp {

/// Protocol versions spoken, oldest first.
const std::vector<std::string>& supported_versions();
bool is_supported_version(std::string_view v);
/// The version a session speaks when the client asks for `requested`: that
/// one if supported, else the newest supported one (the client then decides
/// whether it can go on).
std::string negotiate_version(std::string_view requested);
/// SSE streams start with a priming event (an id, empty data) so the client
/// can resume (2025-11-25, SEP-1699).
bool primes_sse(std::string_view negotiated);
/// JSON-RPC batches are accepted (dropped in 2025-06-18).
bool allows_batches(std::string_view negotiated);

}  // namespace skein::mcp
