#include "runtime/node.hpp"

#include <stdexcept>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/errors.hpp"
#include "actors/events.hpp"
#include "actors/liveness.hpp"
#include "actors/registry.hpp"
#include "persistence/committer.hpp"
#include "persistence/store.hpp"
#include "persistence/store_actor.hpp"

namespace skein {

namespace {
caf::actor_system_config& configure(caf::actor_system_config& cfg, const node_options& opts) {
  cfg.load<caf::io::middleman>();
  add_error_category(cfg);
  persistence::add_store_error_category(cfg);
  // BASP heartbeats, so that a frozen peer's connection is closed (and its
  // proxies go down) after the failure timeout, as the membership expects.
  cfg.set("middleman.heartbeat-interval", caf::timespan{opts.heartbeat_interval});
  cfg.set("middleman.connection-timeout", caf::timespan{opts.failure_timeout});
  if (opts.scheduler_threads > 0) cfg.set("scheduler.max-threads", opts.scheduler_threads);
  return cfg;
}
}  // namespace

struct node::impl {
  node_options opts;
  const behaviour_registry& registry;
  std::shared_ptr<host_status> status = std::make_shared<host_status>();
  persistence::store store;
  persistence::committer committer;
  caf::actor_system_config cfg;
  caf::actor_system system;
  persistence::store_actor store_reader;
  caf::actor host;
  bool stopped = false;

  impl(node_options o, const behaviour_registry& reg)
    : opts(std::move(o)),
      registry(reg),
      store(persistence::store_options{opts.data_dir, opts.sync, false}),
      committer(store),
      system(configure(cfg, opts)) {}
};

node::node(node_options opts, const behaviour_registry& registry)
  : impl_(std::make_unique<impl>(std::move(opts), registry)) {
  auto& d = *impl_;
  events().set_node(d.opts.name);
  liveness::start(d.opts.failure_timeout);
  host_init init;
  init.self.name = d.opts.name;
  init.self.host = d.opts.cluster_advertise_host.empty() ? d.opts.cluster_host
                                                         : d.opts.cluster_advertise_host;
  init.self.cluster_port = d.opts.cluster_advertise_port ? d.opts.cluster_advertise_port
                                                         : d.opts.cluster_port;
  init.unsafe_skip_fencing = d.opts.unsafe_skip_fencing;
  init.self.url = url();
  init.self.incarnation = static_cast<std::uint64_t>(
    std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch()).count());
  init.self.state = member_state::joining;
  init.seeds = d.opts.seeds;
  init.replicas = d.opts.replicas;
  init.heartbeat_interval = d.opts.heartbeat_interval;
  init.failure_timeout = d.opts.failure_timeout;
  init.lease = d.opts.failure_timeout / 2;
  init.on_drained = d.opts.on_drained;
  init.registry = &d.registry;
  init.store = &d.store;
  d.store_reader = persistence::spawn_store_actor(d.system, d.store);
  init.store_reader = d.store_reader;
  init.committer = &d.committer;
  init.status = d.status;
  d.host = spawn_session_host(d.system, std::move(init));
  auto port = d.system.middleman().publish(d.host, d.opts.cluster_port,
                                           d.opts.cluster_host.c_str(), true);
  if (!port) {
    auto why = d.system.render(port.error());
    stop();
    throw std::runtime_error("cannot publish on cluster port " + d.opts.cluster_host + ":"
                             + std::to_string(d.opts.cluster_port) + ": " + why);
  }
  spdlog::info("node {} cluster port {}:{}", d.opts.name, d.opts.cluster_host, *port);
}

node::~node() { stop(); }

void node::stop() {
  auto& d = *impl_;
  if (d.stopped) return;
  d.stopped = true;
  caf::anon_send_exit(d.host, caf::exit_reason::user_shutdown);
  d.system.await_all_actors_done();
  // The store actor (hidden, not awaited above) outlives every session that
  // reads through it and stops before the store closes.
  if (d.store_reader) {
    caf::anon_send_exit(d.store_reader, caf::exit_reason::user_shutdown);
    caf::scoped_actor waiter{d.system};
    waiter->wait_for(d.store_reader);
  }
  d.committer.stop();
  liveness::stop();
}

caf::actor_system& node::system() { return impl_->system; }
caf::actor node::host() const { return impl_->host; }
const node_options& node::options() const { return impl_->opts; }
const behaviour_registry& node::registry() const { return impl_->registry; }
const host_status& node::status() const { return *impl_->status; }
std::string node::url() const {
  if (!impl_->opts.advertise_url.empty()) return impl_->opts.advertise_url;
  return "http://" + impl_->opts.http_host + ":" + std::to_string(impl_->opts.http_port);
}

}  // namespace skein
