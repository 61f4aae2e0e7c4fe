// MCP protocol version negotiation (see versions.hpp).
#include "actors/mcp/versions.hpp"

#include <algorithm>

namespace skein::mcp {

const std::vector<std::string>& supported_versions() {
  static const std::vector<std::string> v{"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"};
  return v;
}

bool is_supported_version(std::string_view v) {
  const auto& all = supported_versions();
  return std::find(all.begin(), all.end(), v) != all.end();
}

std::string negotiate_version(std::string_view requested) {
  return is_supported_version(requested) ? std::string(requested) : supported_versions().back();
}

bool primes_sse(std::string_view negotiated) { return negotiated >= "2025-11-25"; }

bool allows_batches(std::string_view negotiated) { return negotiated < "2025-06-18"; }

}  // namespace skein::mcp
