// The membership actor: which nodes form the cluster, as this node sees it.
//
// A node starts `joining` with a new incarnation (its start time in ms),
// dials its seeds one at a time and exchanges views with `hello`. Without
// seeds it forms a cluster at once; with seeds it forms one alone only if it
// is the first seed and none answered for `seed_timeout` (Akka's first-seed
// rule). It is `up` once it is connected to every member it knows to be
// alive. Of every other pair the member with the smaller name dials (CAF 0.17
// breaks when two nodes dial each other at once). Every `heartbeat_interval`
// each node gossips its full view to every connected peer (gossip doubles as
// the application heartbeat).
//
// Safety before liveness (runtime/quorum.hpp): a lost connection or
// `failure_timeout` of silence only makes a member *suspected*; it is
// declared down once a quorum of the members has suspected it for the lease
// time. The node's quorum lease is published to liveness:: (the directory
// activates and sessions release only while it is held); losing it resets
// the directory (every activation stops), and after `failure_timeout + 2 *
// lease` without one the node rejoins (never forming a cluster alone). A node
// that finds itself declared down, or that notices it was paused (SIGSTOP)
// longer than `failure_timeout`, resets the directory and rejoins as a new
// incarnation.
//
// Every answer from a peer's membership (a dial's hello, and a route check
// of every connected peer every 5 s) must come from that peer's node; one
// that comes from another node means CAF's BASP routing in this process is
// corrupt, and the actor stops with skein_error::misrouted (node.cpp exits
// 75 for a supervisor to restart the process).
//
// Every change is sent to the directory as one immutable cluster_state.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/fwd.hpp>

#include "runtime/protocols.hpp"

namespace skein {

namespace persistence { class committer; }
struct host_status;

struct membership_init {
  member_info self;                          // name, addresses, incarnation
  std::vector<std::pair<std::string, std::uint16_t>> seeds;  // cluster addresses
  int replicas = 2;                          // configured R (raised to floor(M/2) + 1)
  std::chrono::milliseconds heartbeat_interval{500};
  std::chrono::milliseconds failure_timeout{3000};
  std::chrono::milliseconds seed_timeout{2000};
  std::chrono::milliseconds lease{1500};     // below failure_timeout
  directory_actor directory;                 // this node's
  replica_actor replica;                     // this node's
  std::shared_ptr<host_status> status;       // counters for HTTP handlers
  bool tls = false;                          // dial through the openssl manager (mutual TLS)
  /// The membership this node's store recorded last (JSON, may be empty):
  /// a restarted process starts from it as a rejoin does. Malformed text,
  /// or a view that does not list this node's name, is logged and ignored.
  std::string last_view;
  /// Where every change of the view is recorded (null: not recorded).
  persistence::committer* committer = nullptr;
};

membership_actor spawn_membership(caf::actor_system& sys, membership_init init);

}  // namespace skein
