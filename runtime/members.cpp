#include "runtime/members.hpp"

#include <charconv>
#include <set>
#include <stdexcept>

namespace skein {

namespace {

member_address parse_one(std::string_view entry) {
  auto bad = [&](const char* why) {
    return std::invalid_argument("bad member '" + std::string(entry) + "': " + why
                                 + " (expected NAME@HOST:PORT)");
  };
  auto at = entry.find('@');
  auto colon = entry.rfind(':');
  if (at == std::string_view::npos || at == 0) throw bad("missing name");
  if (colon == std::string_view::npos || colon < at + 2) throw bad("missing host");
  member_address m;
  m.name = std::string(entry.substr(0, at));
  m.host = std::string(entry.substr(at + 1, colon - at - 1));
  auto port = entry.substr(colon + 1);
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc{} || ptr != port.data() + port.size() || value == 0 || value > 65535)
    throw bad("bad port");
  m.cluster_port = static_cast<std::uint16_t>(value);
  return m;
}

}  // namespace

std::vector<member_address> parse_members(std::string_view list) {
  std::vector<member_address> out;
  std::set<std::string> names;
  while (!list.empty()) {
    auto comma = list.find(',');
    auto entry = list.substr(0, comma);
    if (!entry.empty()) {
      auto m = parse_one(entry);
      if (!names.insert(m.name).second)
        throw std::invalid_argument("member name '" + m.name + "' appears twice");
      out.push_back(std::move(m));
    }
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return out;
}

std::string format_members(const std::vector<member_address>& members) {
  std::string out;
  for (auto& m : members) {
    if (!out.empty()) out += ',';
    out += m.name + "@" + m.host + ":" + std::to_string(m.cluster_port);
  }
  return out;
}

}  // namespace skein
