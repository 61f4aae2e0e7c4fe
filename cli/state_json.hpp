// Rendering stored bytes for people: msgpack state as JSON.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace skein::cli {

/// The msgpack bytes as JSON, or {"msgpack_hex": "..."} if they do not parse.
/// `field_names` (behaviour_instance::field_names(), the state's current
/// layout): an array of exactly that many elements is printed as an object
/// {name: element, ...}; any other value is printed as it is.
inline nlohmann::json state_as_json(const std::string& bytes,
                                    const std::vector<std::string>& field_names = {}) {
  try {
    auto j = nlohmann::json::from_msgpack(bytes);
    if (field_names.empty() || !j.is_array() || j.size() != field_names.size()) return j;
    auto named = nlohmann::json::object();
    for (std::size_t i = 0; i < field_names.size(); ++i) named[field_names[i]] = std::move(j[i]);
    return named;
  } catch (const std::exception&) {
    static const char* digits = "0123456789abcdef";
    std::string hex;
    for (unsigned char c : bytes) {
      hex.push_back(digits[c >> 4]);
      hex.push_back(digits[c & 15]);
    }
    return nlohmann::json{{"msgpack_hex", hex}};
  }
}

/// A JSON text parsed, or the text itself as a JSON string if it is not JSON.
inline nlohmann::json json_or_text(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  return j.is_discarded() ? nlohmann::json(text) : j;
}

}  // namespace skein::cli
