// skein-loadgen: WebSocket load generator for skein and Socket.IO.
//
// Two translation units: clients.cpp holds everything that includes Beast
// (connections, scenarios); main.cpp holds the command line, /proc sampling
// and this header's helpers. Output is JSON lines on stdout.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace loadgen {

enum class protocol { skein, socketio };

struct timed_command {
  double at_s = 0;  // seconds after the measurement window opened
  std::string command;
};

struct options {
  protocol proto = protocol::skein;
  std::vector<std::string> urls;  // http://127.0.0.1:PORT, one per server node
  std::string scenario = "rtt";   // rtt | paced | fanout | idle
  int threads = 2;
  int src_first = 2;   // source addresses 127.0.0.<src_first> ...
  int src_count = 49;  // ... <src_first + src_count - 1>
  std::string tag = "b";  // room/user prefix: rooms are unique per run
  int connect_concurrency = 256;
  double connect_timeout_s = 120;
  bool resume = true;  // skein: reconnect with ?client=ID&last_seq=N
  // skein: send each message as {"id":N,"data":{...}}, keep it until its
  // {"ack":N} and send it again on the next connection (as @skein/client
  // does): a message the server never accepted is not counted as lost.
  bool ids = false;
  // rtt: where a pair's two clients connect. "spread": to two
  // different nodes, round robin (every message crosses nodes); "owner": both
  // to the node GET /gateway?session=chat/{room} names (the session's owner),
  // as skein's client library (@skein/client) connects; Socket.IO, which
  // has no owner, puts both on node (pair mod nodes), as a load balancer
  // sticky by room would.
  std::string placement = "spread";

  // rtt (and failover/migrate: rtt with timed commands)
  std::vector<int> levels{1, 10, 100};
  double warmup_s = 1;
  double duration_s = 5;
  double msg_timeout_s = 5;  // a message not delivered by then counts as lost
  std::vector<timed_command> events;
  double bucket_ms = 100;

  // paced (rtt's open-loop form): `pairs` pairs, offered `rates` (msg/s in
  // all) in turn, each for warmup_s + duration_s; msg_timeout_s as in rtt
  int pairs = 1000;
  // paced: stop after the first rate that breaks (lost, under 99 %
  // delivered, or p99 above p99_limit_ms when that is above 0)
  bool stop_when_broken = false;
  // paced: add "timeline" (deliveries) and "timeline_max_us" (worst
  // latency) per bucket_ms of due time to each rate's line
  bool paced_timeline = false;

  // fanout
  int subscribers = 1000;
  std::vector<double> rates{10, 20, 50, 100, 200, 500, 1000};
  double step_s = 3;
  double step_warmup_s = 0.5;
  int min_messages = 50;  // a step lasts long enough to measure this many
  double p99_limit_ms = 50;  // fanout; paced (0: no limit)

  // idle
  int conns = 1000;
  int id_offset = 0;  // first client id (several processes share a run)
  int rooms = 0;      // 0: a room per client; else client id mod rooms
  double hold_s = 600;

  // servers to sample (CPU from /proc/PID/stat, RSS from /proc/PID/status)
  std::vector<int> pids;
};

/// Log-linear histogram of nanosecond values, 64 sub-buckets per power of
/// two (relative error under 1.6 %), like HdrHistogram with 2 digits.
class histogram {
 public:
  static constexpr int sub_bits = 6;
  static constexpr int sub = 1 << sub_bits;  // 64
  static constexpr int buckets = (64 - sub_bits) * sub + 2 * sub;

  void record(std::uint64_t v) {
    ++counts_[index(v)];
    ++n_;
    sum_ += v;
    max_ = std::max(max_, v);
    min_ = std::min(min_, v);
  }
  void merge(const histogram& o) {
    for (int i = 0; i < buckets; ++i) counts_[i] += o.counts_[i];
    n_ += o.n_;
    sum_ += o.sum_;
    max_ = std::max(max_, o.max_);
    min_ = std::min(min_, o.min_);
  }
  std::uint64_t count() const { return n_; }
  std::uint64_t max() const { return n_ ? max_ : 0; }
  std::uint64_t min() const { return n_ ? min_ : 0; }
  double mean() const { return n_ ? static_cast<double>(sum_) / static_cast<double>(n_) : 0; }
  /// The value at quantile q (0..1): the midpoint of its bucket, clamped to max.
  std::uint64_t quantile(double q) const {
    if (n_ == 0) return 0;
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(n_));
    if (rank >= n_) rank = n_ - 1;
    std::uint64_t seen = 0;
    for (int i = 0; i < buckets; ++i) {
      seen += counts_[i];
      if (seen > rank) return std::min(max_, std::max(min_, midpoint(i)));
    }
    return max_;
  }

  static int index(std::uint64_t v) {
    if (v < 2 * sub) return static_cast<int>(v);
    int msb = 63 - std::countl_zero(v);
    int shift = msb - sub_bits;
    return shift * sub + static_cast<int>(v >> shift);
  }
  static std::uint64_t lower(int i) {
    if (i < 2 * sub) return static_cast<std::uint64_t>(i);
    int shift = i / sub - 1;
    return static_cast<std::uint64_t>(i % sub + sub) << shift;
  }
  static std::uint64_t midpoint(int i) {
    if (i < 2 * sub) return static_cast<std::uint64_t>(i);
    int shift = i / sub - 1;
    return lower(i) + ((std::uint64_t{1} << shift) >> 1);
  }

 private:
  std::array<std::uint64_t, buckets> counts_{};
  std::uint64_t n_ = 0, sum_ = 0, max_ = 0, min_ = UINT64_MAX;
};

struct proc_sample {
  int pid = 0;
  bool alive = false;
  double cpu_s = 0;     // utime + stime, seconds
  double kernel_s = 0;  // stime alone, seconds
  /// Voluntary + involuntary context switches, summed over the process's
  /// threads (/proc/PID/task/*/status).
  std::uint64_t switches = 0;
  long rss_kb = 0;      // VmRSS
};

std::vector<proc_sample> sample_procs(const std::vector<int>& pids);
double self_cpu_s();
/// Busy CPU seconds of the whole machine (all cores, from /proc/stat).
double machine_busy_s();
long self_rss_kb();

inline std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                      std::chrono::steady_clock::now().time_since_epoch())
                                      .count());
}

/// Prints one JSON object per line (flushes).
void emit_line(const std::string& json);

/// Runs the scenario; returns the process exit code.
int run(const options& opts);

/// Set by SIGINT/SIGTERM.
bool stop_requested();

}  // namespace loadgen
