// One node: store, store actor, committer, actor system and the host actors (runtime/node.hpp).
#include "runtime/node.hpp"

#include <atomic>
#include <cstdlib>
#include <stdexcept>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/errors.hpp"
#include "actors/events.hpp"
#include "actors/liveness.hpp"
#include "actors/metrics.hpp"
#include "actors/registry.hpp"
#include "persistence/ballast.hpp"
#include "persistence/committer.hpp"
#include "persistence/keys.hpp"
#include "persistence/store.hpp"
#include "persistence/store_actor.hpp"
#include "runtime/bundle.hpp"
#include "runtime/heartbeat_channel.hpp"
#include "runtime/idle_reaper.hpp"
#include "runtime/membership.hpp"
#include "runtime/release_memory.hpp"

namespace skein {

namespace {
/// With cluster_tls_dir: every file present (a node given no certificate
/// would run anonymous TLS, which admits anyone), then the openssl module.
void configure_tls(caf::actor_system_config& cfg, const node_options& opts) {
  if (opts.cluster_tls_dir.empty()) return;
  auto file = [&](const char* name) {
    auto p = opts.cluster_tls_dir / name;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(p, ec))
      throw std::runtime_error("--cluster-tls-dir: " + p.string() + " is missing; it needs ca.pem, "
                               "node.pem and node.key");
    return p.string();
  };
  cfg.openssl_cafile = file("ca.pem");
  cfg.openssl_certificate = file("node.pem");
  cfg.openssl_key = file("node.key");
  cfg.load<caf::openssl::manager>();
}

caf::actor_system_config& configure(caf::actor_system_config& cfg, const node_options& opts) {
  cfg.load<caf::io::middleman>();
  configure_tls(cfg, opts);
  // The one cluster message type of skein's own (runtime/bundle.hpp).
  add_bundle_types(cfg);
  add_error_category(cfg);
  persistence::add_store_error_category(cfg);
  // BASP heartbeats, so that a frozen peer's connection is closed (and its
  // proxies go down) after the failure timeout, as the membership expects.
  cfg.set("middleman.heartbeat-interval", caf::timespan{opts.heartbeat_interval});
  cfg.set("middleman.connection-timeout", caf::timespan{opts.failure_timeout});
  if (opts.scheduler_threads > 0) cfg.set("scheduler.max-threads", opts.scheduler_threads);
  if (opts.basp_workers >= 0)
    cfg.set("middleman.workers", static_cast<std::size_t>(opts.basp_workers));
  if (!opts.scheduler_policy.empty())
    cfg.set("scheduler.policy", caf::atom_from_string(opts.scheduler_policy));
  return cfg;
}
/// The committer's idle flush returns the freed pages at once; a failed one
/// (a full disk) is logged, as the writes it will cost are refused.
persistence::committer_options committer_options_of(const node_options& opts) {
  persistence::committer_options c;
  c.idle_flush_after = opts.idle_flush;
  c.after_idle_flush = release_free_memory;
  c.idle_flush_failed = [](const std::string& error) {
    spdlog::error("store: the idle flush of the memtables failed ({}); the store refuses writes "
                  "until the node restarts with space freed (acknowledged writes are in the WAL)",
                  error);
  };
  return c;
}

/// Refuses options a peer would refuse in this node's view (a name it cannot
/// parse would leave the node outside every other member's view).
node_options checked(node_options o) {
  if (!membership::valid_name(o.name))
    throw std::invalid_argument("node name '" + o.name + "': must be 1-128 of [A-Za-z0-9._-]");
  return o;
}

}  // namespace

struct node::impl {
  node_options opts;
  const behaviour_registry& registry;
  std::shared_ptr<host_status> status = std::make_shared<host_status>();
  persistence::ballast_result ballast;  // prepared before the store opens
  persistence::store_ptr store;
  persistence::committer committer;
  caf::actor_system_config cfg;
  caf::actor_system system;
  persistence::store_actor reader;
  host_actors host;
  bool stopped = false;
  idle_reaper reaper;  // the cluster port's half-open connections
  heartbeat_channel_ptr heartbeats;  // UDP heartbeats (null: off or unbound)
  // Set before the node stops its actors on purpose; read by their exit
  // functors on CAF's threads.
  std::shared_ptr<std::atomic<bool>> stopping = std::make_shared<std::atomic<bool>>(false);

  impl(node_options o, const behaviour_registry& reg)
    : opts(checked(std::move(o))),
      registry(reg),
      ballast(persistence::prepare_ballast(opts.data_dir)),
      store(persistence::open_store(opts.data_dir, opts.sync, opts.rocksdb_options)),
      committer(*store, committer_options_of(opts)),
      system(configure(cfg, opts)) {}
};

node::node(node_options opts, const behaviour_registry& registry)
  : impl_(std::make_unique<impl>(std::move(opts), registry)) {
  auto& d = *impl_;
  events().set_node(d.opts.name);
  switch (d.ballast.action) {
    case persistence::ballast_result::released:
      spdlog::error("the disk of {} is full ({} bytes free): released the {}-byte ballast so that "
                    "the store opens; writes will be refused until space is freed",
                    d.opts.data_dir.string(), d.ballast.free_bytes, d.ballast.bytes);
      break;
    case persistence::ballast_result::created:
      spdlog::info("reserved a {}-byte ballast in {}", d.ballast.bytes, d.opts.data_dir.string());
      break;
    default:
      if (!d.ballast.problem.empty()) spdlog::warn("no ballast: {}", d.ballast.problem);
  }
  for (const auto& t : persistence::dropped_wal_tails(*d.store)) {  // logged by the store
    metrics().wal_tails_dropped.fetch_add(1, std::memory_order_relaxed);
    metrics().wal_bytes_dropped.fetch_add(t.bytes, std::memory_order_relaxed);
  }
  liveness::start(d.opts.failure_timeout);
  host_init init;
  init.self.name = d.opts.name;
  init.self.host = d.opts.cluster_advertise_host.empty() ? d.opts.cluster_host
                                                         : d.opts.cluster_advertise_host;
  init.self.cluster_port = d.opts.cluster_advertise_port ? d.opts.cluster_advertise_port
                                                         : d.opts.cluster_port;
  init.unsafe_skip_fencing = d.opts.unsafe_skip_fencing;
  init.lane = d.opts.cluster_lane;
  init.cluster_tls = !d.opts.cluster_tls_dir.empty();
  init.self.url = url();
  init.self.incarnation = static_cast<std::uint64_t>(
    std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch()).count());
  init.self.state = member_state::joining;
  init.seeds = d.opts.seeds;
  init.replicas = d.opts.replicas;
  init.max_sessions = d.opts.max_sessions;
  init.heartbeat_interval = d.opts.heartbeat_interval;
  init.failure_timeout = d.opts.failure_timeout;
  init.lease = d.opts.failure_timeout / 2;
  init.on_drained = d.opts.on_drained;
  init.registry = &d.registry;
  d.reader = persistence::spawn_store_actor(d.system, *d.store);
  init.store = d.reader;
  init.committer = &d.committer;
  init.status = d.status;
  if (auto v = d.store->get_meta(persistence::membership_meta_key)) init.last_view = std::move(*v);
  const bool init_tls = init.cluster_tls;
  d.host = spawn_session_host(d.system, std::move(init));
  // The node cannot serve without any of these: one that stops while the
  // node is not stopping (an uncaught exception, a bug) is the node's death,
  // not a zombie whose /healthz still says up. Exit 70 (EX_SOFTWARE); the
  // supervisor (launch, systemd, Kubernetes) restarts it. Exit 75
  // (EX_TEMPFAIL) when the membership actor found this process's cluster
  // routing corrupt (skein_error::misrouted, runtime/membership_actor.cpp):
  // nothing is wrong with the node's data, a fresh process mends it.
  auto fatal = [stopping = d.stopping](const char* what) {
    return [stopping, what](const caf::error& reason) {
      if (stopping->load()) return;
      spdlog::critical("the {} actor stopped ({}); the node cannot serve without it: exiting",
                       what, caf::to_string(reason));
      spdlog::shutdown();
      std::_Exit(is(reason, skein_error::misrouted) ? 75 : 70);
    };
  };
  caf::actor_cast<caf::abstract_actor*>(d.host.membership)->attach_functor(fatal("membership"));
  caf::actor_cast<caf::abstract_actor*>(d.host.directory)->attach_functor(fatal("directory"));
  caf::actor_cast<caf::abstract_actor*>(d.host.replica)->attach_functor(fatal("replica"));
  if (d.host.lane)
    caf::actor_cast<caf::abstract_actor*>(d.host.lane)->attach_functor(fatal("lane"));
  caf::actor_cast<caf::abstract_actor*>(d.reader)->attach_functor(fatal("store"));
  auto port = init_tls ? caf::openssl::publish(d.host.membership, d.opts.cluster_port,
                                               d.opts.cluster_host.c_str(), true)
                       : d.system.middleman().publish(d.host.membership, d.opts.cluster_port,
                                                      d.opts.cluster_host.c_str(), true);
  if (!port) {
    auto why = d.system.render(port.error());
    stop();
    throw std::runtime_error("cannot publish on cluster port " + d.opts.cluster_host + ":"
                             + std::to_string(d.opts.cluster_port) + ": " + why);
  }
  spdlog::info("node {} cluster port {}:{}", d.opts.name, d.opts.cluster_host, *port);
  d.reaper.start({*port});
  if (d.opts.heartbeat_udp) {
    // The channel hands datagrams to the membership actor while it lives;
    // it holds only a weak reference (the actor holds the channel).
    try {
      auto addr = d.host.membership.address();
      auto channel = std::make_shared<heartbeat_channel>(
        d.opts.cluster_host, static_cast<std::uint16_t>(*port), [addr](std::string datagram) {
          if (auto m = caf::actor_cast<membership_actor>(addr))
            caf::anon_send(m, beat_atom::value, std::move(datagram));
        });
      caf::anon_send(d.host.membership, beat_atom::value, channel);
      d.heartbeats = std::move(channel);
      spdlog::info("heartbeat channel: UDP {}:{}", d.opts.cluster_host, *port);
    } catch (const std::exception& e) {
      spdlog::warn("no heartbeat channel ({}): heartbeats go over BASP gossip only", e.what());
    }
  }
  if (init_tls)
    spdlog::info("cluster port: mutual TLS (CA {})", (d.opts.cluster_tls_dir / "ca.pem").string());
  else
    spdlog::warn("cluster port: plaintext BASP, unauthenticated (no --cluster-tls-dir): "
                 "run it only where every host that can reach it is trusted");
}

node::~node() { stop(); }

void node::stop() {
  auto& d = *impl_;
  if (d.stopped) return;
  d.stopped = true;
  d.stopping->store(true);
  d.reaper.stop();
  stop_session_host(d.host, caf::exit_reason::user_shutdown);
  // The sessions' final snapshots go to the committer; the store actor stops
  // last, with nothing left to ask it.
  {
    caf::scoped_actor waiter{d.system};
    waiter->wait_for(d.host.membership, d.host.directory, d.host.replica);
  }
  // The store actor is hidden (await_all_actors_done does not count it):
  // wait for it explicitly, since the store is destroyed after this.
  caf::anon_send_exit(d.reader, caf::exit_reason::user_shutdown);
  {
    caf::scoped_actor waiter{d.system};
    waiter->wait_for(d.reader);
  }
  d.heartbeats.reset();
  d.system.await_all_actors_done();
  // The lane is hidden too: every actor that sends through it is gone now.
  if (d.host.lane) {
    caf::anon_send_exit(d.host.lane, caf::exit_reason::user_shutdown);
    caf::scoped_actor waiter{d.system};
    waiter->wait_for(d.host.lane);
  }
  d.committer.stop();
  liveness::stop();
}

caf::actor_system& node::system() { return impl_->system; }
caf::actor node::lane() const { return impl_->host.lane; }
caf::actor node::host() const { return caf::actor_cast<caf::actor>(impl_->host.directory); }
const node_options& node::options() const { return impl_->opts; }
const behaviour_registry& node::registry() const { return impl_->registry; }
const host_status& node::status() const { return *impl_->status; }
const persistence::committer& node::committer() const { return impl_->committer; }
std::string node::url() const {
  if (!impl_->opts.advertise_url.empty()) return impl_->opts.advertise_url;
  return "http://" + impl_->opts.http_host + ":" + std::to_string(impl_->opts.http_port);
}

}  // namespace skein
