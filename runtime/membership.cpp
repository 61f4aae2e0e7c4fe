// The membership view and its merge rule (runtime/membership.hpp).
#include "runtime/membership.hpp"

#include <limits>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "actors/json_shallow.hpp"
#include "runtime/heartbeat_wire.hpp"

namespace skein {

const char* member_state_name(member_state s) {
  switch (s) {
    case member_state::joining: return "joining";
    case member_state::up: return "up";
    case member_state::draining: return "draining";
    case member_state::down: return "down";
  }
  return "?";
}

namespace {
member_state parse_state(const std::string& s) {
  if (s == "joining") return member_state::joining;
  if (s == "up") return member_state::up;
  if (s == "draining") return member_state::draining;
  if (s == "down") return member_state::down;
  throw std::invalid_argument("membership: unknown member state '" + s + "'");
}

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.'
         || c == '_' || c == '-';
}

bool printable(char c) { return c >= 0x21 && c <= 0x7e; }

/// e[key] as a string of 1..max bytes (0..max if may_be_empty), each passing `ok`.
std::string text_field(const nlohmann::json& e, const char* key, std::size_t max, bool (*ok)(char),
                       bool may_be_empty = false) {
  auto i = e.find(key);
  if (i == e.end() || !i->is_string())
    throw std::invalid_argument(std::string("membership: '") + key + "' missing or not a string");
  auto& s = i->get_ref<const std::string&>();
  if ((s.empty() && !may_be_empty) || s.size() > max)
    throw std::invalid_argument(std::string("membership: '") + key + "' empty or over "
                                + std::to_string(max) + " bytes");
  for (char c : s)
    if (!ok(c)) throw std::invalid_argument(std::string("membership: '") + key + "' has a bad byte");
  return s;
}

/// e[key] as an integer in [lo, hi] (a JSON number without fraction or sign
/// beyond it; nlohmann keeps integers it can hold exactly as integers).
std::uint64_t unsigned_field(const nlohmann::json& e, const char* key, std::uint64_t lo,
                             std::uint64_t hi) {
  auto i = e.find(key);
  std::uint64_t v = 0;
  if (i != e.end() && i->is_number_unsigned()) v = i->get<std::uint64_t>();
  else if (i != e.end() && i->is_number_integer() && i->get<std::int64_t>() >= 0)
    v = static_cast<std::uint64_t>(i->get<std::int64_t>());
  else
    throw std::invalid_argument(std::string("membership: '") + key
                                + "' missing or not a non-negative integer");
  if (v < lo || v > hi)
    throw std::invalid_argument(std::string("membership: '") + key + "' out of range");
  return v;
}
}  // namespace

bool membership::merge(const member_info& m) {
  auto [it, inserted] = members_.try_emplace(m.name, m);
  if (inserted) return true;
  auto& cur = it->second;
  if (m.incarnation > cur.incarnation) {
    cur = m;
    return true;
  }
  if (m.incarnation < cur.incarnation) return false;
  if (static_cast<int>(m.state) > static_cast<int>(cur.state)) {
    cur.state = m.state;
    cur.sessions = m.sessions;
    cur.connections = m.connections;
    return true;
  }
  if (m.state == cur.state) {
    cur.sessions = m.sessions;
    cur.connections = m.connections;
  }
  return false;
}

bool membership::merge(const membership& other) {
  bool changed = false;
  for (auto& [_, m] : other.members_) changed = merge(m) || changed;
  return changed;
}

const member_info* membership::find(const std::string& name) const {
  auto i = members_.find(name);
  return i == members_.end() ? nullptr : &i->second;
}

std::vector<std::string> membership::up() const {
  std::vector<std::string> out;
  for (auto& [n, m] : members_)
    if (m.state == member_state::up) out.push_back(n);
  return out;
}

std::vector<std::string> membership::alive() const {
  std::vector<std::string> out;
  for (auto& [n, m] : members_)
    if (m.state != member_state::down) out.push_back(n);
  return out;
}

std::string membership::to_json() const {
  auto arr = nlohmann::json::array();
  for (auto& [_, m] : members_)
    arr.push_back({{"name", m.name}, {"host", m.host}, {"port", m.cluster_port}, {"url", m.url},
                   {"incarnation", m.incarnation}, {"state", member_state_name(m.state)},
                   {"sessions", m.sessions}, {"connections", m.connections}});
  return arr.dump();
}

bool membership::valid_name(const std::string& name) {
  if (name.empty() || name.size() > heartbeat_wire::max_name_bytes) return false;
  for (char c : name)
    if (!name_char(c)) return false;
  return true;
}

membership membership::from_json(const std::string& text) {
  if (text.size() > max_view_bytes)
    throw std::invalid_argument("membership: view over " + std::to_string(max_view_bytes) + " bytes");
  bool too_deep = false;  // an array of flat objects: depth 2 at most
  auto arr = parse_shallow(text, 2, too_deep);
  if (too_deep) throw std::invalid_argument("membership: view nested too deep");
  if (!arr.is_array()) throw std::invalid_argument("membership: not a JSON array");
  if (arr.size() > max_members)
    throw std::invalid_argument("membership: over " + std::to_string(max_members) + " members");
  membership out;
  for (auto& e : arr) {
    if (!e.is_object()) throw std::invalid_argument("membership: an entry is not an object");
    member_info m;
    m.name = text_field(e, "name", heartbeat_wire::max_name_bytes, name_char);
    m.host = text_field(e, "host", 253, printable);
    m.cluster_port = static_cast<std::uint16_t>(unsigned_field(e, "port", 1, 65535));
    m.url = text_field(e, "url", 2048, printable, true);
    m.incarnation = unsigned_field(e, "incarnation", 0, std::numeric_limits<std::uint64_t>::max());
    m.state = parse_state(text_field(e, "state", 16, printable));
    constexpr auto int64_max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    if (e.contains("sessions"))
      m.sessions = static_cast<std::int64_t>(unsigned_field(e, "sessions", 0, int64_max));
    if (e.contains("connections"))
      m.connections = static_cast<std::int64_t>(unsigned_field(e, "connections", 0, int64_max));
    out.merge(m);
  }
  return out;
}

}  // namespace skein
