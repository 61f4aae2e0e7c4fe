// Rendering stored bytes for people: msgpack state as JSON.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace skein::cli {

/// The msgpack bytes as JSON, or {"msgpack_hex": "..."} if they do not parse.
inline nlohmann::json state_as_json(const std::string& bytes) {
  try {
    return nlohmann::json::from_msgpack(bytes);
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
