// What a session needs to know about the cluster: a new immutable value per
// membership change, made by the membership actor (runtime/), so that actors/
// does not depend on placement.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>

namespace skein {

struct cluster_view {
  std::string self;                         // this node's name
  std::vector<std::string> up;              // placement set, sorted
  std::vector<std::string> alive;           // members not declared down, sorted
  std::map<std::string, caf::actor> hosts;  // connected peers' replica actors (runtime/replica.hpp)
  int replicas = 2;                         // R: owner + R-1 replicas
  /// The replica set of a key besides this node: the first R-1 connected
  /// members of its HRW ranking over `up` that are not this node.
  std::function<std::vector<std::string>(const std::string& key)> replicas_of;
};

}  // namespace skein

// Sent directory -> session on the same node only; never serialised.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<const skein::cluster_view>)
