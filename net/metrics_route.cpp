// GET /metrics: this node's counters (skein::metrics()) in the Prometheus
// text exposition format 0.0.4, plus the process's memory and CPU time from
// /proc/self. Every metric is documented in docs/metrics.md; keep the two in
// step. Reading is lock-free (relaxed atomic loads), so a scrape never
// waits on an actor; counters read at slightly different instants may be a
// few events apart, but each histogram's _count is the sum of the bucket
// counts it printed, so _bucket{le="+Inf"} == _count always holds.
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <string>
#include <string_view>

#include <unistd.h>

#include "actors/metrics.hpp"
#include "net/detail.hpp"
#include "runtime/node.hpp"

namespace skein::net_detail {

namespace {

class exposition {
 public:
  void header(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  void sample(std::string_view name, std::string_view labels, std::string_view value) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }
  template <class T>
  void metric(std::string_view name, std::string_view type, std::string_view help, T value) {
    header(name, type, help);
    sample(name, {}, number(value));
  }
  std::string take() { return std::move(out_); }

  static std::string number(std::uint64_t v) { return std::to_string(v); }
  static std::string number(std::int64_t v) { return std::to_string(v); }
  static std::string number(int v) { return std::to_string(v); }
  static std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
  }
  /// A label value with \, " and newline escaped (format 0.0.4).
  static std::string label_value(std::string_view v) {
    std::string out;
    for (char c : v) {
      if (c == '\\') out += "\\\\";
      else if (c == '"') out += "\\\"";
      else if (c == '\n') out += "\\n";
      else out += c;
    }
    return out;
  }

 private:
  std::string out_;
};

/// Microseconds as a bucket bound in seconds: 100 -> "0.0001", 1000000 -> "1".
std::string seconds_label(std::uint64_t us) {
  std::string s = std::to_string(us / 1000000);
  auto frac = us % 1000000;
  if (frac) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%06" PRIu64, frac);
    std::string f = buf;
    while (!f.empty() && f.back() == '0') f.pop_back();
    s += "." + f;
  }
  return s;
}

struct process_stats {
  bool ok = false;
  std::uint64_t rss_bytes = 0;
  std::uint64_t virtual_bytes = 0;
  double cpu_seconds = 0;
};

process_stats read_process_stats() {
  process_stats ps;
  const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  if (statm >> size >> resident) {
    ps.ok = true;
    ps.virtual_bytes = size * page;
    ps.rss_bytes = resident * page;
  }
  // /proc/self/stat: fields 14 and 15 (utime, stime) in clock ticks; the
  // second field (comm) may hold spaces, so count from the last ')'.
  std::ifstream stat("/proc/self/stat");
  std::string line;
  if (std::getline(stat, line)) {
    auto close = line.rfind(')');
    if (close != std::string::npos) {
      std::string rest = line.substr(close + 2);
      std::uint64_t utime = 0, stime = 0;
      // rest starts at field 3 (state); utime is field 14.
      if (std::sscanf(rest.c_str(), "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %" SCNu64 " %" SCNu64,
                      &utime, &stime) == 2)
        ps.cpu_seconds = static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
    }
  }
  return ps;
}

std::string render(node& n) {
  auto& m = metrics();
  exposition e;
  const auto load = [](const auto& a) { return a.load(std::memory_order_relaxed); };

  e.header("skein_node_info", "gauge", "Constant 1; the node label names this node.");
  e.sample("skein_node_info", "node=\"" + exposition::label_value(n.options().name) + "\"", "1");

  e.metric("skein_sessions", "gauge", "Session activations live on this node.", load(m.sessions));
  e.metric("skein_connections", "gauge", "Client streams (WebSocket) open on this node.",
           load(m.connections));
  e.metric("skein_connections_total", "counter", "Client streams opened on this node.",
           load(m.connections_total));
  e.metric("skein_peers_connected", "gauge", "Other members whose session host this node reaches.",
           n.status().peers_connected.load());
  e.metric("skein_messages_in_total", "counter", "Client frames received by this node's streams.",
           load(m.messages_in));
  e.metric("skein_messages_out_total", "counter",
           "Server frames written to this node's streams.", load(m.messages_out));
  e.metric("skein_inputs_total", "counter",
           "Inputs (open, message, close) handled by sessions on this node.", load(m.inputs));
  e.metric("skein_commits_total", "counter",
           "Checkpoint batches (journal, outbox, snapshot) committed for sessions on this node.",
           load(m.commits));
  e.metric("skein_outbox_events_total", "counter",
           "Events written to session outboxes on this node.", load(m.outbox_events));
  e.metric("skein_activations_total", "counter", "Sessions activated on this node.",
           load(m.activations));
  e.metric("skein_migrations_in_total", "counter", "Sessions migrated to this node.",
           load(m.migrations_in));
  e.metric("skein_migrations_out_total", "counter", "Sessions migrated away from this node.",
           load(m.migrations_out));
  e.metric("skein_membership_changes_total", "counter",
           "Members seen joining or leaving (member_up, member_down) by this node.",
           load(m.membership_changes));
  e.metric("skein_slow_consumers_total", "counter",
           "Client streams closed because their outbound queue was full (close 1008).",
           load(m.slow_consumers));
  e.metric("skein_event_streams", "gauge", "Open GET /cluster/events (SSE) streams on this node.",
           open_event_streams());

  // Histogram: cumulative buckets in seconds, from a single read of each bucket.
  const auto& h = m.checkpoint_latency;
  constexpr std::string_view hist = "skein_checkpoint_latency_seconds";
  e.header(hist, "histogram",
           "Time from an input being handled to its checkpoint batch being committed.");
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < latency_histogram::bounds_us.size(); ++i) {
    cumulative += h.bucket(i);
    e.sample("skein_checkpoint_latency_seconds_bucket",
             "le=\"" + seconds_label(latency_histogram::bounds_us[i]) + "\"",
             exposition::number(cumulative));
  }
  cumulative += h.bucket(latency_histogram::bounds_us.size());
  e.sample("skein_checkpoint_latency_seconds_bucket", "le=\"+Inf\"", exposition::number(cumulative));
  e.sample("skein_checkpoint_latency_seconds_sum", {},
           exposition::number(static_cast<double>(h.sum_us()) / 1e6));
  e.sample("skein_checkpoint_latency_seconds_count", {}, exposition::number(cumulative));

  auto ps = read_process_stats();
  if (ps.ok) {
    e.metric("process_resident_memory_bytes", "gauge", "Resident set size (/proc/self/statm).",
             ps.rss_bytes);
    e.metric("process_virtual_memory_bytes", "gauge", "Virtual memory size (/proc/self/statm).",
             ps.virtual_bytes);
    e.metric("process_cpu_seconds_total", "counter",
             "User and system CPU time (/proc/self/stat).", ps.cpu_seconds);
  }
  return e.take();
}

}  // namespace

bool metrics_route(request_context& rc) {
  auto& seg = rc.target.segments;
  if (seg.size() != 1 || seg[0] != "metrics") return false;
  if (rc.req.method() != http::verb::get) {
    auto res = error_response(rc, http::status::method_not_allowed, "method not allowed");
    res.set(http::field::allow, "GET");
    rc.respond(std::move(res));
    return true;
  }
  response res{http::status::ok, rc.req.version()};
  res.set(http::field::server, rc.server.server_header);
  res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  res.set(http::field::access_control_allow_origin, "*");
  res.keep_alive(rc.req.keep_alive());
  res.body() = render(rc.server.n);
  res.prepare_payload();
  rc.respond(std::move(res));
  return true;
}

}  // namespace skein::net_detail
