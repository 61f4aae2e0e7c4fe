// Request-target helpers: path segments and query parameters.
// (Boost 1.74 has no Boost.URL; this is the small subset the router needs.)
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace skein {

struct target {
  std::vector<std::string> segments;          // percent-decoded, empty ones dropped
  std::map<std::string, std::string> query;   // percent-decoded; '+' is a space
};

/// Percent-decodes `in` ('+' becomes a space when `plus_is_space`).
/// Returns nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space);

/// Splits an origin-form request target ("/ws/chat/a?user=b").
/// Returns nullopt if it does not start with '/' or holds a bad escape.
std::optional<target> parse_target(std::string_view raw);

}  // namespace skein
