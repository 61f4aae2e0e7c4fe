// Parsing cluster addresses on the command line (`--seeds`; runtime/members.hpp).
#include "runtime/members.hpp"

#include <charconv>
#include <stdexcept>

namespace skein {

std::vector<address> parse_addresses(std::string_view list) {
  std::vector<address> out;
  while (!list.empty()) {
    auto comma = list.find(',');
    auto entry = list.substr(0, comma);
    if (!entry.empty()) {
      auto colon = entry.rfind(':');
      unsigned port = 0;
      auto digits = colon == std::string_view::npos ? std::string_view{} : entry.substr(colon + 1);
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
      if (colon == std::string_view::npos || colon == 0 || ec != std::errc{}
          || p != digits.data() + digits.size() || port == 0 || port > 65535)
        throw std::invalid_argument("bad address '" + std::string(entry)
                                    + "' (expected HOST:PORT)");
      out.emplace_back(std::string(entry.substr(0, colon)), static_cast<std::uint16_t>(port));
    }
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return out;
}

std::string format_addresses(const std::vector<address>& list) {
  std::string out;
  for (auto& [h, p] : list) {
    if (!out.empty()) out += ',';
    out += h + ":" + std::to_string(p);
  }
  return out;
}

}  // namespace skein
