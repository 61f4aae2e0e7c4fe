// Renders the directory's replies as JSON (net/host_json.hpp).
#include "net/host_json.hpp"

#include <nlohmann/json.hpp>

namespace skein::net_detail {

using json = nlohmann::json;

std::string render_status(const node_status& s, const std::string& url) {
  json members = json::array();
  std::string self, state = "joining";
  if (s.cluster) {
    self = s.cluster->self;
    state = member_state_name(s.cluster->self_state);
    for (auto& [n, m] : s.cluster->view.members()) {
      const bool is_self = n == self;
      const bool connected = is_self || s.cluster->peers.count(n) > 0;
      members.push_back({{"name", n}, {"url", m.url}, {"state", member_state_name(m.state)},
                         {"connected", connected}, {"self", is_self},
                         {"sessions", is_self ? static_cast<std::int64_t>(s.sessions.size())
                                              : m.sessions},
                         {"connections", is_self ? s.connections : m.connections},
                         {"incarnation", m.incarnation}});
    }
  }
  json sessions = json::array(), stats = json::array();
  for (auto& st : s.sessions) {
    sessions.push_back(st.key);
    stats.push_back({{"key", st.key}, {"clients", st.clients}, {"inputs", st.inputs}});
  }
  return json{{"node", self}, {"url", url}, {"state", state}, {"members", members},
              {"sessions", sessions}, {"session_stats", stats}}
    .dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string render_placement(const std::string& key, const std::string& owner,
                             const std::vector<std::string>& ranking,
                             const std::vector<std::string>& replicas) {
  return json{{"key", key}, {"owner", owner}, {"ranking", ranking}, {"replicas", replicas}}
    .dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string render_drain(const std::string& node, std::uint64_t sessions) {
  return json{{"node", node}, {"state", "draining"}, {"sessions", sessions}}.dump(
    -1, ' ', false, json::error_handler_t::replace);
}

std::string render_move(const std::string& key, const std::string& to, const std::string& from,
                        bool moving) {
  json j{{"key", key}, {"to", to}, {"moving", moving}};
  if (moving) j["from"] = from;
  else j["note"] = "not active; it will activate on " + to;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace skein::net_detail
