// Building the cluster_state value (runtime/protocols.hpp) that the
// membership actor sends the directory, and the replica count it carries.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "runtime/protocols.hpp"

namespace skein {

/// Copies per session: the configured R, raised to ceil(M/2) for M members
/// known (down ones included). Then every majority of the members holds a
/// copy of every session: the side of a partition that keeps its quorum lease
/// always finds the latest copy among the members it can reach, instead of
/// activating the session from nothing (seen in the nemesis with R = 2 and 5
/// nodes: a partition that isolated both copies lost the session's history).
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
