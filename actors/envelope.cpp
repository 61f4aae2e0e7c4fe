// Parsing and writing the client envelope {"id":N,"data":X} and its acks (actors/envelope.hpp).
#include "actors/envelope.hpp"

#include <nlohmann/json.hpp>

namespace skein {

client_input parse_client_input(std::string text) {
  client_input out;
  // Cheap test first: most frames without an envelope never get parsed here.
  if (text.find("\"id\"") == std::string::npos || text.find("\"data\"") == std::string::npos) {
    out.text = std::move(text);
    return out;
  }
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object() || j.size() != 2 || !j.contains("id") || !j.contains("data")) {
    out.text = std::move(text);
    return out;
  }
  const auto& id = j["id"];
  std::uint64_t v = 0;
  if (id.is_number_unsigned()) v = id.get<std::uint64_t>();
  else if (id.is_number_integer() && id.get<std::int64_t>() > 0) v = static_cast<std::uint64_t>(id.get<std::int64_t>());
  if (v == 0 || v > max_message_id) {
    out.error = "message id must be an integer from 1 to 2^53-1";
    return out;
  }
  out.id = v;
  out.text = j["data"].dump();
  return out;
}

std::string ack_frame(std::uint64_t id, const std::string& error) {
  nlohmann::json j{{"ack", id}};
  if (!error.empty()) j["error"] = error;
  return j.dump();
}

}  // namespace skein
