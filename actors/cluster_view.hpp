// What a session needs to know about the cluster: a new immutable value per
// membership change, made by the membership actor (runtime/), so that actors/
// does not depend on placement.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/allowed_unsafe_message_type.hpp>

namespace skein {

/// True if `a` and `b` are the same actor object. A remote actor's handle
/// is a proxy; when the connection to its node drops, CAF kills the proxy and
/// a reconnection makes a new one for the same (node, id). Handles compare
/// equal by (node, id), so `==` cannot tell a dead proxy, to which messages
/// are dropped, from its live successor; this can.
inline bool same_proxy(const caf::actor& a, const caf::actor& b) noexcept {
  return caf::actor_cast<caf::abstract_actor*>(a) == caf::actor_cast<caf::abstract_actor*>(b);
}

/// Host maps equal member by member under same_proxy().
inline bool same_hosts(const std::map<std::string, caf::actor>& a,
                       const std::map<std::string, caf::actor>& b) noexcept {
  if (a.size() != b.size()) return false;
  for (auto i = a.begin(), j = b.begin(); i != a.end(); ++i, ++j)
    if (i->first != j->first || !same_proxy(i->second, j->second)) return false;
  return true;
}

struct cluster_view {
  std::string self;                         // this node's name
  std::vector<std::string> up;              // placement set, sorted
  std::vector<std::string> alive;           // members not declared down, sorted
  std::map<std::string, caf::actor> hosts;  // connected peers' replica actors (runtime/replica.hpp);
                                            // a new proxy after a reconnection is a new host
  int replicas = 2;                         // R: owner + R-1 replicas
  /// The replica set of a key besides this node: the first R-1 connected
  /// members of its HRW ranking over `up` that are not this node.
  std::function<std::vector<std::string>(const std::string& key)> replicas_of;
};

}  // namespace skein

// Sent directory -> session on the same node only; never serialised.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<const skein::cluster_view>)
