// Spawning and wiring a node's three host actors (runtime/session_host.hpp).
#include "runtime/session_host.hpp"

#include <caf/all.hpp>

#include "runtime/directory.hpp"
#include "runtime/lane.hpp"
#include "runtime/membership_actor.hpp"
#include "runtime/replica.hpp"

namespace skein {

host_actors spawn_session_host(caf::actor_system& sys, host_init init) {
  host_actors h;
  if (init.lane) h.lane = spawn_lane(sys);
  h.replica = spawn_replica(sys, replica_init{init.self.name, init.store, init.committer,
                                              init.unsafe_skip_fencing, h.lane});
  directory_init d;
  d.max_sessions = init.max_sessions;
  d.self = init.self.name;
  d.url = init.self.url;
  d.registry = init.registry;
  d.store = init.store;
  d.committer = init.committer;
  d.replica = h.replica;
  d.lane = h.lane;
  d.status = init.status;
  d.on_drained = std::move(init.on_drained);
  d.unsafe_skip_fencing = init.unsafe_skip_fencing;
  h.directory = spawn_directory(sys, std::move(d));
  membership_init m;
  m.self = init.self;
  m.seeds = init.seeds;
  m.replicas = init.replicas;
  m.heartbeat_interval = init.heartbeat_interval;
  m.failure_timeout = init.failure_timeout;
  m.seed_timeout = init.seed_timeout;
  m.lease = init.lease;
  m.directory = h.directory;
  m.replica = h.replica;
  m.status = init.status;
  m.tls = init.cluster_tls;
  m.last_view = std::move(init.last_view);
  m.committer = init.committer;
  h.membership = spawn_membership(sys, std::move(m));
  caf::anon_send(h.directory, wire_atom::value, caf::actor_cast<caf::actor>(h.membership));
  caf::anon_send(h.replica, wire_atom::value, caf::actor_cast<caf::actor>(h.directory));
  return h;
}

void stop_session_host(const host_actors& h, caf::exit_reason reason) {
  caf::anon_send_exit(h.membership, reason);
  caf::anon_send_exit(h.directory, reason);
  caf::anon_send_exit(h.replica, reason);
}

}  // namespace skein
