// Parsing JSON whose shape is known to be shallow (a peer's membership view,
// a handoff's client table): values nested below `max_depth` are dropped as
// the parser meets them, and the caller learns that there were some.
// nlohmann's parser is iterative, so deep input costs time and memory in
// proportion to its length only. Header-only (the fuzz targets use it);
// thread-safe.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace skein {

/// `text` parsed (a discarded value if it is not JSON), keeping nothing
/// nested deeper than `max_depth` (0: the top-level value itself); sets
/// `too_deep` if anything was.
inline nlohmann::json parse_shallow(const std::string& text, int max_depth, bool& too_deep) {
  too_deep = false;
  return nlohmann::json::parse(
    text,
    [&too_deep, max_depth](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
      if (depth > max_depth) too_deep = true;
      return depth <= max_depth;
    },
    false);
}

}  // namespace skein
