// One skein node: a CAF actor system with the middleman, a RocksDB store
// with its group committer, and the session host published on the cluster
// port. The HTTP side (net/) is started beside it by the command line.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "runtime/session_host.hpp"

namespace skein {

class behaviour_registry;
namespace persistence {
class committer;
}

struct node_options {
  std::string name;                     // unique in the cluster; the HRW identity
  std::string http_host = "127.0.0.1";  // where net/ listens (for the URL)
  std::uint16_t http_port = 0;
  std::string cluster_host = "127.0.0.1";  // interface of the middleman port
  std::uint16_t cluster_port = 0;       // CAF middleman (BASP) port
  std::size_t max_sessions = 0;         // activations on this node (0: no cap; see directory.hpp)
  std::string advertise_url;            // base URL given to others; empty: http://http_host:http_port
  std::string cluster_advertise_host;   // cluster host given to others; empty: cluster_host
  std::uint16_t cluster_advertise_port = 0;  // 0: cluster_port
  bool unsafe_skip_fencing = false;     // TEST ONLY (host_init::unsafe_skip_fencing)
  std::vector<std::pair<std::string, std::uint16_t>> seeds;  // cluster addresses to join through
  int replicas = 2;                     // R: the owner plus R-1 replicas
  std::chrono::milliseconds heartbeat_interval{500};
  std::chrono::milliseconds failure_timeout{3000};  // silence before a member is declared down
  // Heartbeats also over UDP on the cluster port's host and port number
  // (runtime/heartbeat_channel.hpp), so that quorum leases never wait behind
  // bulk state in BASP. false: BASP gossip only. A port that cannot be bound
  // is logged and the node runs on BASP gossip alone.
  bool heartbeat_udp = true;
  std::filesystem::path data_dir;       // RocksDB directory of this node
  bool sync = false;                    // fsync every group commit
  std::string rocksdb_options;          // persistence::store_options::rocksdb_options
  // Idle flush (persistence/committer.hpp): after this long with no store
  // write, memtables holding 1 MiB or more are flushed and the freed pages
  // returned to the OS (runtime/release_memory.hpp), so a quiet node does
  // not keep up to the memtable budget (16 MiB) resident. 0: off.
  std::chrono::milliseconds idle_flush{5000};
  // Mutual TLS on the cluster port (libcaf-openssl): DIR/ca.pem (the
  // cluster's CA), DIR/node.pem (this node's certificate, signed by it) and
  // DIR/node.key. Empty: plaintext BASP (development; logged once).
  std::filesystem::path cluster_tls_dir;
  // CAF's scheduler (scheduler.max-threads, scheduler.policy): threads, 0
  // for one per core; policy "stealing" (CAF's default: a queue per thread,
  // idle threads poll and steal) or "sharing" (one queue; idle threads
  // block on it). Empty: CAF's default.
  std::size_t scheduler_threads = 0;
  std::string scheduler_policy;
  // CAF's middleman.workers: threads that deserialize inbound BASP
  // messages. -1: CAF's default (min(3, cores / 4) + 1); 0: the middleman's
  // own thread deserializes them (one thread hand-off less per message).
  int basp_workers = -1;
  // Coalesce what this node's sessions and replica actor send to other
  // nodes into one cluster message per node and scheduling turn
  // (runtime/lane.hpp). false: each message goes on its own.
  bool cluster_lane = true;
  // Called once when a drain has finished and this node has left the
  // membership (runtime/membership_actor.cpp, leave): it is down in its
  // peers' views, holds no lease and serves nothing from then on; it never
  // rejoins by itself. The callback should stop the node and end the
  // process (`skein node` sends itself SIGTERM); a new process with the
  // same name and data joins as a new incarnation. Empty: the node stays
  // inert until stop(). Called on an actor's thread: do not block in it.
  std::function<void()> on_drained;
};

/// Not copyable or movable. Construct, then hand system() and host() to the
/// transports; stop() (or the destructor) after the transports have closed
/// their streams.
class node {
 public:
  /// Opens the store, starts the actor system, spawns and publishes the
  /// host. Throws std::runtime_error if the store cannot be opened, the
  /// cluster port cannot be bound, or cluster_tls_dir lacks one of its files.
  node(node_options opts, const behaviour_registry& registry);
  ~node();
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  caf::actor_system& system();
  caf::actor host() const;
  /// The node's outbound lane (runtime/lane.hpp); null with cluster_lane off.
  caf::actor lane() const;
  const node_options& options() const;
  const behaviour_registry& registry() const;
  const host_status& status() const;
  std::string url() const;
  /// The node's group committer (its commit and batch counters).
  const persistence::committer& committer() const;

  /// Stops the host and every session, waits for all actors, flushes the
  /// committer. Idempotent.
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace skein
