// The membership view and its merge rule (runtime/membership.hpp).
#include "runtime/membership.hpp"

#include <stdexcept>

#include <nlohmann/json.hpp>

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
  throw std::invalid_argument("unknown member state '" + s + "'");
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

membership membership::from_json(const std::string& text) {
  auto arr = nlohmann::json::parse(text, nullptr, false);
  if (!arr.is_array()) throw std::invalid_argument("membership: not a JSON array");
  membership out;
  try {
    for (auto& e : arr) {
      member_info m;
      m.name = e.at("name").get<std::string>();
      m.host = e.at("host").get<std::string>();
      m.cluster_port = e.at("port").get<std::uint16_t>();
      m.url = e.at("url").get<std::string>();
      m.incarnation = e.at("incarnation").get<std::uint64_t>();
      m.state = parse_state(e.at("state").get<std::string>());
      m.sessions = e.value("sessions", std::int64_t{0});
      m.connections = e.value("connections", std::int64_t{0});
      out.merge(m);
    }
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("membership: ") + e.what());
  }
  return out;
}

}  // namespace skein
