// Process-wide counters of one node, lock-free, for /metrics and the
// dashboard. One node per process, so one instance: skein::metrics().
// Thread-safety: every member may be updated and read from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

namespace skein {

/// A fixed-bucket latency histogram (Prometheus style: cumulative on output).
class latency_histogram {
 public:
  /// Upper bounds in microseconds; the last bucket is +Inf.
  static constexpr std::array<std::uint64_t, 12> bounds_us{
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000};

  void observe(std::uint64_t us) noexcept {
    std::size_t i = 0;
    while (i < bounds_us.size() && us > bounds_us[i]) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    sum_us_.fetch_add(us, std::memory_order_relaxed);
  }
  /// Count in bucket i (not cumulative); i == bounds_us.size() is +Inf.
  std::uint64_t bucket(std::size_t i) const noexcept { return buckets_[i].load(); }
  std::uint64_t sum_us() const noexcept { return sum_us_.load(); }

 private:
  std::array<std::atomic<std::uint64_t>, bounds_us.size() + 1> buckets_{};
  std::atomic<std::uint64_t> sum_us_{0};
};

/// The transports a client stream arrives on, for the `transport` label.
enum class transport_slot : std::uint8_t { ws, sse, mcp, events };
inline constexpr std::array<const char*, 4> transport_names{"ws", "sse", "mcp", "events"};

/// Counters of one transport.
struct transport_counters {
  std::atomic<std::int64_t> connections{0};
  std::atomic<std::uint64_t> connections_total{0};
  std::atomic<std::uint64_t> messages_in{0};
  std::atomic<std::uint64_t> messages_out{0};
};

/// Counters of one session kind.
struct kind_counters {
  std::atomic<std::uint64_t> inputs{0};    // open, message, close
  std::atomic<std::uint64_t> messages{0};  // message inputs only
};

/// A fixed table of session kinds, filled when kinds are registered (at
/// start), read by index afterwards: no allocation or lookup on the hot path.
/// Kinds past max_kinds share the last slot, named "other".
class kind_table {
 public:
  static constexpr std::size_t max_kinds = 31;  // + "other"
  static constexpr std::size_t other = max_kinds;

  /// The slot of `kind`, registering it if there is room (idempotent).
  std::size_t add(std::string_view kind) {
    std::lock_guard lock(mu_);
    auto n = size_.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < n; ++i)
      if (names_[i] == kind) return i;
    if (n == max_kinds) return other;
    names_[n] = std::string(kind);
    size_.store(n + 1, std::memory_order_release);
    return n;
  }
  /// The slot of a registered `kind`, or `other` (a scan: call it once per activation).
  std::size_t find(std::string_view kind) const noexcept {
    auto n = size_.load(std::memory_order_acquire);
    for (std::size_t i = 0; i < n; ++i)
      if (names_[i] == kind) return i;
    return other;
  }
  /// Registered kinds (slots 0..size()-1); names never change once set.
  std::size_t size() const noexcept { return size_.load(std::memory_order_acquire); }
  const std::string& name(std::size_t i) const noexcept { return names_[i]; }
  kind_counters& at(std::size_t slot) noexcept { return counters_[slot]; }
  const kind_counters& at(std::size_t slot) const noexcept { return counters_[slot]; }

 private:
  std::mutex mu_;
  std::atomic<std::size_t> size_{0};
  std::array<std::string, max_kinds> names_{};
  std::array<kind_counters, max_kinds + 1> counters_{};
};

/// Live numbers of one session activation, shared by the session actor
/// (writer) and its host (reader, for GET /cluster).
struct session_counters {
  std::atomic<std::uint32_t> clients{0};  // clients attached (joined, not yet left)
  std::atomic<std::uint64_t> inputs{0};   // inputs handled by this activation
  /// Wall-clock ms since which the session has had no client and may be
  /// passivated; 0 while a client is attached or if it may not be
  /// (durability none). The directory passivates the oldest first.
  std::atomic<std::int64_t> idle_since_ms{0};
};

struct node_metrics {
  // gauges
  std::atomic<std::int64_t> connections{0};   // open client streams on this node
  std::atomic<std::int64_t> sessions{0};      // activations on this node
  // counters
  std::atomic<std::uint64_t> connections_total{0};
  std::atomic<std::uint64_t> connections_refused{0};  // streams refused at max_connections
  std::atomic<std::uint64_t> connections_refused_per_address{0};  // refused at max_connections_per_address
  std::atomic<std::uint64_t> tls_handshake_failures{0};  // client TLS handshakes failed or timed out
  std::atomic<std::uint64_t> rate_limited{0};  // streams closed for exceeding the message rate
  std::atomic<std::uint64_t> messages_in{0};   // client frames received on this node
  std::atomic<std::uint64_t> messages_out{0};  // server frames delivered to streams on this node
  std::atomic<std::uint64_t> inputs{0};        // inputs handled by sessions on this node
  std::atomic<std::uint64_t> commits{0};       // batches committed for sessions on this node
  std::atomic<std::uint64_t> outbox_events{0}; // events written to outboxes
  std::atomic<std::uint64_t> activations{0};
  std::atomic<std::uint64_t> migrations_in{0};
  std::atomic<std::uint64_t> adopt_repeats{0};  // a handoff asked again while its adopt ran here
  std::atomic<std::uint64_t> adopt_retries{0};  // this node asked an adopt again after no answer
  std::atomic<std::uint64_t> adopt_copies_erased{0};  // a failed adopt's none copy erased
  std::atomic<std::uint64_t> migrations_out{0};
  std::atomic<std::uint64_t> membership_changes{0};
  std::atomic<std::uint64_t> members_left{0};       // peers removed on their own leave (drained)
  std::atomic<std::uint64_t> slow_consumers{0};
  std::atomic<std::uint64_t> poison_inputs{0};      // inputs quarantined (actors/poison.hpp)
  std::atomic<std::uint64_t> passivations{0};       // activations stopped for being idle
  std::atomic<std::uint64_t> hibernations{0};      // activations stopped with their clients kept
  std::atomic<std::uint64_t> hibernated{0};         // sessions this node's directory keeps hibernated
  std::atomic<std::uint64_t> relay_messages{0};     // relay_atom messages taken by this node's replica actor
  std::atomic<std::uint64_t> relay_deliveries{0};   // frames and acks it sent on to local connections
  std::atomic<std::uint64_t> lane_bundles{0};       // bundles this node's lane sent (runtime/lane.hpp)
  std::atomic<std::uint64_t> lane_bundled{0};       // messages in them
  std::atomic<std::uint64_t> lane_direct{0};        // messages it sent directly (node not yet known)
  std::atomic<std::uint64_t> bundles_refused{0};    // peers' packed bundles that did not decode (runtime/packed_bundle.hpp)
  std::atomic<std::uint64_t> lane_slot_resets{0};   // new generations of a peer's slot table (runtime/slotted_bundle.hpp)
  std::atomic<std::uint64_t> slot_introductions{0}; // actors the lane named in full in slotted bundles
  std::atomic<std::uint64_t> cluster_idle_closed{0};  // cluster-port connections reaped (idle_reaper)
  std::atomic<std::uint64_t> sessions_refused{0};   // activations refused at max_sessions
  std::atomic<std::uint64_t> replica_resends{0};    // batches sent again for overdue replica acks
  std::atomic<std::uint64_t> activations_verified_stale{0};  // restarted: a fenced replica had more
  std::atomic<std::uint64_t> activations_unclaimed{0};  // refused: too many alive members not connected
  std::atomic<std::uint64_t> batches_held_short{0};     // committed while the replica set was short
  std::atomic<std::uint64_t> early_releases{0};  // guarded inputs whose outputs left before the handled record (run_input)
  std::atomic<std::uint64_t> local_commits_unposted{0};  // local commits a session read from local_commits, no message (session_gate.cpp)
  std::atomic<std::uint64_t> handled_lingered{0};   // handled batches kept for the next batch (handled_linger_ms)
  std::atomic<std::uint64_t> handled_coalesced{0};  // commits that carried a lingering handled batch
  // heartbeats received (runtime/membership_actor.cpp), by channel:
  // [0] BASP gossip, [1] UDP datagram (runtime/heartbeat_channel.hpp)
  std::array<std::atomic<std::uint64_t>, 2> heartbeats{};
  // of those, the ones that came more than one lease after the same peer's
  // previous heartbeat on the same channel (within one connection)
  std::array<std::atomic<std::uint64_t>, 2> heartbeats_late{};
  // the longest such gap seen, microseconds
  std::array<std::atomic<std::uint64_t>, 2> heartbeat_gap_max_us{};
  // UDP datagrams dropped: malformed, bad mac, another receiver, an unknown
  // or unconnected sender, another incarnation, or a ts not above the last
  std::atomic<std::uint64_t> heartbeats_rejected{0};
  std::atomic<std::int64_t> lease_held{0};      // 1 while this node holds its quorum lease
  std::atomic<std::uint64_t> leases_lost{0};    // times it lost it (stopped serving)
  // durability-none activations kept (not stopped) when the lease lapsed
  std::atomic<std::uint64_t> lapse_kept{0};
  // times a durability-none session's effects waited for the lease
  std::atomic<std::uint64_t> lease_waits{0};
  // the least time left on the lease when a heartbeat renewed it, in µs (-1: none yet)
  std::atomic<std::int64_t> lease_margin_min_us{-1};
  std::atomic<std::uint64_t> heartbeats_answered{0};  // UDP heartbeats answered at once
  // store faults (persistence/, runtime/activation.cpp)
  std::atomic<std::uint64_t> corrupt_reads{0};  // activations whose local records were unreadable
  std::atomic<std::uint64_t> wal_tails_dropped{0};  // WAL files the store's open did not replay fully
  std::atomic<std::uint64_t> wal_bytes_dropped{0};  // bytes of those tails
  latency_histogram checkpoint_latency;  // input handled -> its batch committed
  // batch submitted (local commit started) -> the last replica's ack, for
  // batches that had replicas to wait for
  latency_histogram replication_lag;
  std::array<transport_counters, transport_names.size()> transports{};
  kind_table kinds;
  transport_counters& transport(transport_slot t) noexcept {
    return transports[static_cast<std::size_t>(t)];
  }
  // HTTP responses written by this node's plain HTTP path, by status class:
  // index status/100 (1..5; 0 unused). Streams (WebSocket, SSE) count at
  // their upgrade/start response only.
  std::array<std::atomic<std::uint64_t>, 6> http_responses{};
  // MCP requests answered with an HTTP error and a JSON-RPC error body, by
  // status class like http_responses.
  std::array<std::atomic<std::uint64_t>, 6> mcp_errors{};
  /// The index for `status` in http_responses / mcp_errors (0 if out of range).
  static constexpr std::size_t status_class(unsigned status) noexcept {
    return status >= 100 && status < 600 ? status / 100 : 0;
  }
};

/// The process's metrics.
inline node_metrics& metrics() {
  static node_metrics m;
  return m;
}

}  // namespace skein
