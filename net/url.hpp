// Request-target helpers: path segments, query parameters and route
// patterns. (Boost 1.74 has no Boost.URL; this is the small subset the
// router needs.) No Beast; pure functions; thread-safe.
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

/// Splits an origin-form request target ("/ws/chat/a?user=b"). Returns
/// nullopt if it does not start with '/', holds a bad escape, or a decoded
/// segment, query name or query value is not valid UTF-8 (they end up in
/// JSON); then `*why` (if given) says which.
std::optional<target> parse_target(std::string_view raw, std::string* why = nullptr);

/// Does the route pattern match the path segments? Patterns are
/// '/'-separated: a literal matches itself, `*` one segment, `**` (last
/// only) zero or more; "/" is the empty path.
bool path_matches(std::string_view pattern, const std::vector<std::string>& segments);

}  // namespace skein
