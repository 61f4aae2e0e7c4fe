// Process-wide counters of one node, lock-free, for /metrics and the
// dashboard. One node per process, so one instance: skein::metrics().
// Thread-safety: every member may be updated and read from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

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

struct node_metrics {
  // gauges
  std::atomic<std::int64_t> connections{0};   // open client streams on this node
  std::atomic<std::int64_t> sessions{0};      // activations on this node
  // counters
  std::atomic<std::uint64_t> connections_total{0};
  std::atomic<std::uint64_t> messages_in{0};   // client frames received on this node
  std::atomic<std::uint64_t> messages_out{0};  // server frames delivered to streams on this node
  std::atomic<std::uint64_t> inputs{0};        // inputs handled by sessions on this node
  std::atomic<std::uint64_t> commits{0};       // batches committed for sessions on this node
  std::atomic<std::uint64_t> outbox_events{0}; // events written to outboxes
  std::atomic<std::uint64_t> activations{0};
  std::atomic<std::uint64_t> migrations_in{0};
  std::atomic<std::uint64_t> migrations_out{0};
  std::atomic<std::uint64_t> membership_changes{0};
  std::atomic<std::uint64_t> slow_consumers{0};
  latency_histogram checkpoint_latency;  // input handled -> its batch committed
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
