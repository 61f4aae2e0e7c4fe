// Building the cluster_state value (runtime/protocols.hpp) that the
// membership actor sends the directory, and the replica count it carries.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "runtime/protocols.hpp"

namespace skein {

/// Copies per session: the configured R, raised to ceil(M/2) for M members
/// known (down ones included), and to 2 for two members. Then every quorum
/// (runtime/quorum.hpp: a strict majority, or in a cluster of two the
/// smaller name) holds a copy of every session, since R plus the smallest
/// quorum exceeds the members: the side of a partition that keeps its
/// quorum lease always finds the latest copy among the members it can
/// reach, instead of activating the session from nothing or from an older
/// copy. Seen in the nemesis: R = 2 with 5 nodes lost a session's history;
/// with 6 nodes (a sixth joined) the exact-half tie-break let a 3|3
/// partition keep all three copies on the side without n1 while the side
/// with n1 kept its lease (seeds 9812 and 9823, stop 23: up to 274
/// acknowledged adds lost). The tie-break is now for two members only;
/// raising R to M/2 + 1 instead cost a third more replication at 4 nodes.
int effective_replicas(int configured, std::size_t members);

/// The state for the directory. `peers`: the connected members' actors.
/// `last` is the sessions' view sent last time: reused (same pointer) when
/// what sessions use (up, alive, replica actors, R) did not change, so that
/// the directory forwards a view to its sessions only on real changes;
/// replaced otherwise.
cluster_state_ptr make_cluster_state(const std::string& self, const membership& view,
                                     std::map<std::string, peer_handles> peers,
                                     int configured_replicas,
                                     std::shared_ptr<const cluster_view>& last);

}  // namespace skein
