// The JSON answers of /cluster, /cluster/placement and /admin/*, rendered
// from the directory's typed replies (runtime/protocols.hpp): the runtime
// answers with values, net/ decides their wire shape.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/protocols.hpp"

namespace skein::net_detail {

/// GET /cluster: {node, url, state, members:[{name, url, state, connected,
/// self, sessions, connections, incarnation}], sessions:[key],
/// session_stats:[{key, clients, inputs}]}. `url` is this node's URL.
std::string render_status(const node_status& s, const std::string& url);

/// GET /cluster/placement: {key, owner, ranking, replicas}.
std::string render_placement(const std::string& key, const std::string& owner,
                             const std::vector<std::string>& ranking,
                             const std::vector<std::string>& replicas);

/// POST /admin/drain: {node, state: "draining", sessions}.
std::string render_drain(const std::string& node, std::uint64_t sessions);

/// POST /admin/move: {key, from, to, moving: true}, or when the session is
/// not active {key, to, moving: false, note}.
std::string render_move(const std::string& key, const std::string& to, const std::string& from,
                        bool moving);

}  // namespace skein::net_detail
