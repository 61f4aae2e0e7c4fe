// Builds the membership actor's cluster_state values (runtime/cluster_state.hpp).
#include "runtime/cluster_state.hpp"

#include <algorithm>

#include "runtime/placement.hpp"

namespace skein {

int effective_replicas(int configured, std::size_t members) {
  // Every quorum must hold a copy: a strict majority meets any ceil(M/2)
  // members; the two-member tie-break ({n1} alone) needs both to hold one.
  const auto m = static_cast<int>(members);
  return std::max({configured, (m + 1) / 2, std::min(m, 2)});
}

cluster_state_ptr make_cluster_state(const std::string& self, const membership& view,
                                     std::map<std::string, peer_handles> peers,
                                     int configured_replicas,
                                     std::shared_ptr<const cluster_view>& last) {
  auto cs = std::make_shared<cluster_state>();
  cs->self = self;
  cs->self_state = view.find(self)->state;
  cs->view = view;
  cs->peers = std::move(peers);
  cs->replicas = effective_replicas(configured_replicas, view.members().size());
  auto sv = std::make_shared<cluster_view>();
  sv->self = self;
  sv->up = view.up();
  sv->alive = view.alive();
  sv->replicas = cs->replicas;
  for (auto& [n, p] : cs->peers) sv->hosts.emplace(n, p.replica);
  sv->replicas_of = [up = sv->up, hosts = sv->hosts, me = self,
                     r = sv->replicas](const std::string& key) {
    std::vector<std::string> out;
    if (r <= 1) return out;
    for (auto& n : hrw_ranking(key, up)) {
      if (n == me || !hosts.count(n)) continue;
      out.push_back(n);
      if (static_cast<int>(out.size()) >= r - 1) break;
    }
    return out;
  };
  if (!last || last->up != sv->up || last->alive != sv->alive || last->replicas != sv->replicas
      || last->hosts != sv->hosts)
    last = std::move(sv);
  cs->sessions_view = last;
  return cs;
}

}  // namespace skein
