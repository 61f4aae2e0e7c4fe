// GET /metrics: this node's counters (skein::metrics()) in the Prometheus
// text exposition format 0.0.4, plus the process's memory and CPU time from
// /proc/self. The families are built here from the lock-free counters and
// written by prometheus-cpp's TextSerializer (escaping, number formatting,
// histogram layout); every metric is documented in docs/metrics.md, keep the
// two in step. Reading is lock-free (relaxed atomic loads), so a scrape
// never waits on an actor; counters read at slightly different instants may
// be a few events apart, but each histogram's _count is the sum of the
// bucket counts it printed, so _bucket{le="+Inf"} == _count always holds.
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <limits>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <unistd.h>

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include "actors/metrics.hpp"
#include "net/detail.hpp"
#include "persistence/committer.hpp"
#include "runtime/node.hpp"

namespace skein::net_detail {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

/// The families of one scrape, in output order.
class families {
 public:
  void add(std::string name, MetricType type, std::string help, double value,
           std::vector<ClientMetric::Label> labels = {}) {
    ClientMetric m;
    m.label = std::move(labels);
    if (type == MetricType::Counter) m.counter.value = value;
    else m.gauge.value = value;
    out_.push_back({std::move(name), std::move(help), type, {std::move(m)}});
  }
  void add_histogram(std::string name, std::string help, ClientMetric::Histogram h) {
    ClientMetric m;
    m.histogram = std::move(h);
    out_.push_back({std::move(name), std::move(help), MetricType::Histogram, {std::move(m)}});
  }
  void add_family(MetricFamily fam) { out_.push_back(std::move(fam)); }
  /// A counter or gauge family with one series per label value.
  template <class Each>
  void add_labelled(std::string name, MetricType type, std::string help, const char* label,
                    std::size_t n, Each each) {
    MetricFamily fam{std::move(name), std::move(help), type, {}};
    for (std::size_t i = 0; i < n; ++i) {
      auto [value, v] = each(i);
      ClientMetric cm;
      cm.label = {{label, std::string(value)}};
      if (type == MetricType::Counter) cm.counter.value = v;
      else cm.gauge.value = v;
      fam.metric.push_back(std::move(cm));
    }
    out_.push_back(std::move(fam));
  }
  std::string text() const { return prometheus::TextSerializer{}.Serialize(out_); }

 private:
  std::vector<MetricFamily> out_;
};

/// Cumulative buckets in seconds from a single read of each bucket, so that
/// _count == the +Inf bucket.
ClientMetric::Histogram histogram_of(const latency_histogram& h) {
  ClientMetric::Histogram hist;
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < latency_histogram::bounds_us.size(); ++i) {
    cumulative += h.bucket(i);
    hist.bucket.push_back({cumulative, static_cast<double>(latency_histogram::bounds_us[i]) / 1e6});
  }
  cumulative += h.bucket(latency_histogram::bounds_us.size());
  hist.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
  hist.sample_count = cumulative;
  hist.sample_sum = static_cast<double>(h.sum_us()) / 1e6;
  return hist;
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
  families f;
  const auto load = [](const auto& a) { return static_cast<double>(a.load(std::memory_order_relaxed)); };
  const auto C = MetricType::Counter;
  const auto G = MetricType::Gauge;

  f.add("skein_node_info", G, "Constant 1; the node label names this node.", 1,
        {{"node", n.options().name}});
  f.add("skein_sessions", G, "Session activations live on this node.", load(m.sessions));
  f.add("skein_connections", G, "Client streams (WebSocket) open on this node.", load(m.connections));
  f.add("skein_connections_total", C, "Client streams opened on this node.", load(m.connections_total));
  f.add("skein_connections_refused_total", C,
        "Client streams refused because the node held --max-connections streams (503).",
        load(m.connections_refused));
  f.add("skein_connections_refused_per_address_total", C,
        "Client streams refused because their remote address held --max-connections-per-address "
        "streams (503).",
        load(m.connections_refused_per_address));
  f.add("skein_tls_handshake_failures_total", C,
        "Client connections closed because their TLS handshake failed or timed out (--tls-cert).",
        load(m.tls_handshake_failures));
  f.add("skein_rate_limited_total", C,
        "Client streams closed (1008) for sending faster than --max-message-rate.",
        load(m.rate_limited));
  f.add("skein_poison_inputs_total", C,
        "Inputs quarantined because their handler crashed the process (never applied).",
        load(m.poison_inputs));
  f.add("skein_cluster_idle_closed_total", C,
        "Connections to the cluster port closed after receiving nothing for 10 s and never more than 4 KiB (half-open handshakes).",
        load(m.cluster_idle_closed));
  f.add("skein_passivations_total", C,
        "Activations stopped after their idle_ms without a client, or at --max-sessions.",
        load(m.passivations));
  f.add("skein_hibernations_total", C,
        "Activations that hibernated: no input for the kind's hibernate_ms; their clients' streams stay open.",
        load(m.hibernations));
  f.add("skein_sessions_hibernated", G,
        "Sessions this node's directory keeps hibernated, with their clients, until one sends or the session activates.",
        load(m.hibernated));
  f.add("skein_relay_messages_total", C,
        "Cluster messages carrying frames or acks from sessions on other nodes taken by this node's relay (at most one per node per broadcast; a bundle may carry several).",
        load(m.relay_messages));
  f.add("skein_relay_deliveries_total", C,
        "Frames and acks this node's relay sent on to its local connections.",
        load(m.relay_deliveries));
  f.add("skein_lane_bundles_total", C,
        "Cluster messages this node's outbound lane sent, each carrying what this node's actors sent to one other node in one turn.",
        load(m.lane_bundles));
  f.add("skein_lane_bundled_messages_total", C,
        "Messages this node's actors sent to other nodes in the lane's bundles (divided by skein_lane_bundles_total: messages per cluster message).",
        load(m.lane_bundled));
  f.add("skein_lane_direct_messages_total", C,
        "Messages the outbound lane sent directly: their node's relay was not yet in a view.",
        load(m.lane_direct));
  f.add("skein_bundles_refused_total", C,
        "Packed and slotted bundles from other nodes' lanes that this node's relay dropped whole: a body that did not decode (a peer's bug or a forged cluster frame) or a slotted bundle out of its table's order (after a lost connection).",
        load(m.bundles_refused));
  f.add("skein_lane_slot_resets_total", C,
        "New generations of this node's slot tables with other nodes' relays (runtime/slotted_bundle.hpp): after a reconnect, a relay's request after a gap, or an idle table.",
        load(m.lane_slot_resets));
  f.add("skein_lane_slot_introductions_total", C,
        "Actor handles this node's lane sent in full in slotted bundles; every other reference to an actor went as a slot number.",
        load(m.slot_introductions));
  f.add("skein_replica_resends_total", C,
        "Times a session sent its gated batches to a replica again because that replica's ack was over 3 s overdue.",
        load(m.replica_resends));
  f.add("skein_activations_restarted_total", C,
        "Activations that found, after fencing, a replica holding a longer journal than they recovered (another member's activation served meanwhile); the client retries and the next activation fetches it.",
        load(m.activations_verified_stale));
  f.add("skein_activations_unclaimed_total", C,
        "Activations refused because more members were alive but not connected than its claims may miss (R-1; none for durability none); the client retries.",
        load(m.activations_unclaimed));
  f.add("skein_batches_held_short_total", C,
        "Durable batches committed while the session's replica set was short of an up member that was not connected; their outputs waited until the set was whole again.",
        load(m.batches_held_short));
  f.add("skein_early_releases_total", C,
        "Inputs run under the poison guard whose ack and frames left once their pending record was durable, before their handled record (its time and seed reproduce them after a crash).",
        load(m.early_releases));
  f.add("skein_local_commits_unposted_total", C,
        "Local commits of batches that also waited for replica acks, read by their session without a committed message",
        load(m.local_commits_unposted));
  f.add("skein_handled_lingered_total", C,
        "Handled records of inputs released early that waited for the session's next batch instead of being written at once (kind option handled_linger_ms).",
        load(m.handled_lingered));
  f.add("skein_handled_coalesced_total", C,
        "Commits that wrote and replicated a lingering handled record together with the session's next batch (one replication round trip saved each).",
        load(m.handled_coalesced));
  {
    static constexpr const char* channels[] = {"basp", "udp"};
    f.add_labelled("skein_heartbeats_total", C,
                   "Heartbeats received from peers, by channel (basp: the gossip; udp: the heartbeat channel).",
                   "channel", 2, [&](std::size_t i) { return std::pair{channels[i], double(load(m.heartbeats[i]))}; });
    f.add_labelled("skein_heartbeats_late_total", C,
                   "Heartbeats that came more than one lease (failure timeout / 2) after the same peer's previous one on the same channel.",
                   "channel", 2, [&](std::size_t i) { return std::pair{channels[i], double(load(m.heartbeats_late[i]))}; });
    f.add_labelled("skein_heartbeat_gap_max_seconds", G,
                   "The longest gap between two heartbeats of one peer on one channel since the node started (within one connection).",
                   "channel", 2, [&](std::size_t i) { return std::pair{channels[i], double(load(m.heartbeat_gap_max_us[i])) / 1e6}; });
  }
  f.add("skein_quorum_lease", G,
        "1 while this node holds its quorum lease (activates sessions and releases outputs), else 0.",
        load(m.lease_held));
  f.add("skein_quorum_leases_lost_total", C,
        "Times this node lost its quorum lease and stopped every durable activation.",
        load(m.leases_lost));
  f.add("skein_quorum_lapse_kept_activations_total", C,
        "Durability-none activations kept through a quorum lease lapse (their effects wait for "
        "the lease) instead of being stopped; stopped only if the node rejoins.",
        load(m.lapse_kept));
  f.add("skein_quorum_lease_waits_total", C,
        "Times a durability-none session's outputs waited in its gate for this node's quorum lease.",
        load(m.lease_waits));
  if (auto margin = m.lease_margin_min_us.load(std::memory_order_relaxed); margin >= 0)
    f.add("skein_quorum_lease_margin_min_seconds", G,
          "The least time left on this node's quorum lease when a heartbeat renewed it, since the "
          "node started: how close a late heartbeat came to stopping every activation.",
          double(margin) / 1e6);
  f.add("skein_heartbeats_answered_total", C,
        "UDP heartbeats answered at once with an echo (at most once per half interval and peer), "
        "so that the sender's lease rests on its own last heartbeat.",
        load(m.heartbeats_answered));
  f.add("skein_heartbeats_rejected_total", C,
        "UDP heartbeat datagrams dropped: malformed, a bad mac, meant for another member, from an unknown or unconnected sender or another incarnation, or replayed.",
        load(m.heartbeats_rejected));
  f.add("skein_sessions_refused_total", C,
        "Activations refused at --max-sessions with no idle session to passivate (close 1013).",
        load(m.sessions_refused));
  f.add("skein_corrupt_reads_total", C,
        "Activations whose local records could not be read (corrupt or I/O error) and were "
        "fetched from a replica instead (or failed if none had a copy).",
        load(m.corrupt_reads));
  f.add("skein_wal_tail_dropped_total", C,
        "WAL files whose torn tail the store did not replay when it opened.",
        load(m.wal_tails_dropped));
  f.add("skein_wal_tail_dropped_bytes_total", C,
        "Bytes of the WAL tails the store did not replay when it opened.",
        load(m.wal_bytes_dropped));
  f.add("skein_idle_flushes_total", C,
        "Memtable flushes after a quiet spell with no store write (--idle-flush-ms), each "
        "followed by returning the freed pages to the OS.",
        static_cast<double>(n.committer().idle_flushes()));
  f.add("skein_idle_flush_failures_total", C,
        "Idle memtable flushes that failed (a full disk): the store refuses writes from the next one.",
        static_cast<double>(n.committer().idle_flush_failures()));
  f.add("skein_peers_connected", G, "Other members whose session host this node reaches.",
        static_cast<double>(n.status().peers_connected.load()));
  f.add("skein_messages_in_total", C, "Client frames received by this node's streams.",
        load(m.messages_in));
  f.add("skein_messages_out_total", C, "Server frames written to this node's streams.",
        load(m.messages_out));
  f.add("skein_inputs_total", C, "Inputs (open, message, close) handled by sessions on this node.",
        load(m.inputs));
  f.add("skein_store_writes_total", C,
        "RocksDB writes of the group committer; each carries one or more batches.",
        static_cast<double>(n.committer().commits()));
  f.add("skein_store_write_batches_total", C,
        "Batches (of sessions and replicas) the group committer has written.",
        static_cast<double>(n.committer().batches()));
  f.add("skein_commits_total", C,
        "Checkpoint batches (journal, outbox, snapshot) committed for sessions on this node.",
        load(m.commits));
  f.add("skein_outbox_events_total", C, "Events written to session outboxes on this node.",
        load(m.outbox_events));
  f.add("skein_activations_total", C, "Sessions activated on this node.", load(m.activations));
  f.add("skein_migrations_in_total", C, "Sessions migrated to this node.", load(m.migrations_in));
  f.add("skein_migrations_out_total", C, "Sessions migrated away from this node.",
        load(m.migrations_out));
  f.add("skein_adopt_retries_total", C,
        "Adopts of durability-none sessions this node asked again after its target did not "
        "answer within the adopt timeout (10 s).",
        load(m.adopt_retries));
  f.add("skein_adopt_repeats_total", C,
        "Adopts asked again by their source while the first was still under way here: "
        "answered when it ends.",
        load(m.adopt_repeats));
  f.add("skein_adopt_copies_erased_total", C,
        "Copies of durability-none sessions that an adopt wrote here and then failed: erased, "
        "so that no later activation goes back to them.",
        load(m.adopt_copies_erased));
  f.add("skein_membership_changes_total", C,
        "Members seen joining or leaving (member_up, member_down) by this node.",
        load(m.membership_changes));
  f.add("skein_members_left_total", C,
        "Peers this node removed from the membership on their own word: a drained "
        "node leaves before it exits, and is not suspected for a lease afterwards.",
        load(m.members_left));
  f.add("skein_slow_consumers_total", C,
        "Client streams closed because their outbound queue was full (close 1008).",
        load(m.slow_consumers));
  for (auto [name, help, arr] : {
         std::tuple{"skein_http_responses_total",
                    "HTTP responses written by this node (not stream frames), by status class.",
                    &m.http_responses},
         std::tuple{"skein_mcp_errors_total",
                    "MCP requests answered with an HTTP error and a JSON-RPC error, by status class.",
                    &m.mcp_errors}}) {
    MetricFamily fam{name, help, C, {}};
    for (unsigned k = 1; k <= 5; ++k) {
      ClientMetric cm;
      cm.label = {{"status", std::to_string(k) + "xx"}};
      cm.counter.value = load((*arr)[k]);
      fam.metric.push_back(std::move(cm));
    }
    f.add_family(std::move(fam));
  }
  f.add("skein_event_streams", G, "Open GET /cluster/events (SSE) streams on this node.",
        static_cast<double>(open_event_streams()));

  // By transport (ws, sse, mcp, events) and by session kind.
  const auto nt = transport_names.size();
  const auto tr = [&](auto field) {
    return [&m, field, &load](std::size_t i) {
      return std::pair{transport_names[i], load(m.transports[i].*field)};
    };
  };
  f.add_labelled("skein_transport_connections", G, "Client streams open on this node, by transport.",
                 "transport", nt, tr(&transport_counters::connections));
  f.add_labelled("skein_transport_connections_total", C,
                 "Client streams opened on this node, by transport.", "transport", nt,
                 tr(&transport_counters::connections_total));
  f.add_labelled("skein_transport_messages_in_total", C,
                 "Client messages received by this node, by transport.", "transport", nt,
                 tr(&transport_counters::messages_in));
  f.add_labelled("skein_transport_messages_out_total", C,
                 "Frames written to this node's client streams, by transport.", "transport", nt,
                 tr(&transport_counters::messages_out));
  // Registered kinds, then "other" (kinds past the table's size).
  const auto nk = m.kinds.size();
  const auto kd = [&](auto field) {
    return [&m, nk, field, &load](std::size_t i) {
      const auto slot = i < nk ? i : kind_table::other;
      return std::pair{i < nk ? m.kinds.name(i).c_str() : "other", load(m.kinds.at(slot).*field)};
    };
  };
  f.add_labelled("skein_kind_inputs_total", C,
                 "Inputs (open, message, close) handled by sessions on this node, by session kind.",
                 "kind", nk + 1, kd(&kind_counters::inputs));
  f.add_labelled("skein_kind_messages_total", C,
                 "Client messages handled by sessions on this node, by session kind.", "kind",
                 nk + 1, kd(&kind_counters::messages));

  f.add_histogram("skein_checkpoint_latency_seconds",
                  "Time from an input being handled to its checkpoint batch being committed.",
                  histogram_of(m.checkpoint_latency));
  f.add_histogram("skein_replication_lag_seconds",
                  "Time from a batch's local commit to the last replica's ack (0 if the replicas "
                  "acked first).",
                  histogram_of(m.replication_lag));

  auto ps = read_process_stats();
  if (ps.ok) {
    f.add("process_resident_memory_bytes", G, "Resident set size (/proc/self/statm).",
          static_cast<double>(ps.rss_bytes));
    f.add("process_virtual_memory_bytes", G, "Virtual memory size (/proc/self/statm).",
          static_cast<double>(ps.virtual_bytes));
    f.add("process_cpu_seconds_total", C, "User and system CPU time (/proc/self/stat).",
          ps.cpu_seconds);
  }
  return f.text();
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
