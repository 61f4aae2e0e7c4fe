// Checks on client bytes before they become JSON: UTF-8 validity (nlohmann
// refuses to dump invalid UTF-8 and throws; a node must never get that far)
// and the nesting depth of a JSON text, measured by scanning bytes before
// any parse or copy (parsing, copying and dumping deep JSON recurse).
// Pure functions; no allocation; thread-safe. No Beast, so the fuzz targets
// (tests/fuzz) link them alone.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace skein {

/// JSON nesting allowed from clients (objects and arrays), unless configured.
inline constexpr std::size_t default_max_json_depth = 64;

/// Well-formed UTF-8 per RFC 3629: no overlong forms, no surrogates
/// (U+D800..U+DFFF), nothing above U+10FFFF, no truncated sequence.
bool valid_utf8(std::string_view bytes);

/// The deepest nesting of '[' / '{' in `text`, counting only outside JSON
/// strings (a string runs from '"' to the next unescaped '"'). Stops
/// scanning once deeper than `stop_after` and returns stop_after + 1. Not a
/// validator: unbalanced text gets a number too.
std::size_t json_depth(std::string_view text, std::size_t stop_after);

/// Why `text` may not be parsed as a client's JSON input ("not valid
/// UTF-8", "JSON nested deeper than N levels"), or nullopt when it may.
std::optional<std::string> json_input_problem(std::string_view text,
                                              std::size_t max_depth = default_max_json_depth);

}  // namespace skein
