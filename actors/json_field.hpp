// Reading one field of JSON whose shape is not trusted (a behaviour's
// output, a peer's answer): by type, never by nlohmann's value(), which
// throws type_error when the field has another type. Header-only;
// thread-safe.
#pragma once

#include <string>
#include <utility>

#include <nlohmann/json.hpp>

namespace skein {

/// obj[name] if obj is an object holding a string there, else `fallback`.
inline std::string string_field(const nlohmann::json& obj, const char* name,
                                std::string fallback = {}) {
  if (!obj.is_object()) return fallback;
  auto f = obj.find(name);
  return f != obj.end() && f->is_string() ? f->get<std::string>() : std::move(fallback);
}

}  // namespace skein
