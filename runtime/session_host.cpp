#include "runtime/session_host.hpp"

#include <algorithm>
#include <charconv>
#include <deque>
#include <optional>
#include <stdexcept>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/errors.hpp"
#include "actors/events.hpp"
#include "actors/liveness.hpp"
#include "actors/metrics.hpp"
#include "actors/recovery.hpp"
#include "actors/registry.hpp"
#include "actors/session.hpp"
#include "actors/session_key.hpp"
#include "persistence/keys.hpp"
#include "persistence/store.hpp"
#include "persistence/committer.hpp"
#include "runtime/placement.hpp"
#include "runtime/quorum.hpp"

namespace skein {

namespace {

using clock = std::chrono::steady_clock;
// committer -> host (written_atom, uint64 id, string error): a submit() is durable.
using written_atom = caf::atom_constant<caf::atom("written")>;
using json = nlohmann::json;

std::int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

struct waiting_resolve {
  caf::response_promise promise;
  std::string key;
  std::uint64_t hops = 0;
};

struct peer {
  caf::actor handle;
  bool connecting = false;
  clock::time_point last_heard;
};

struct activation {
  std::uint64_t gen = 0;
  std::vector<caf::response_promise> waiters;
  std::size_t pending_claims = 0;
  std::string unanswered;              // a member whose claim answer failed
  std::uint64_t max_epoch = 0;
  std::string active_node;             // a member that holds a live activation
  std::string best_node;               // holder of the freshest copy
  std::pair<std::uint64_t, std::uint64_t> best{0, 0};  // (epoch, journal_seq)
  std::string clients_json = "[]";     // from an adopt
  bool pinned = false;
  // After recovery: the session waits here until its epoch is durable
  // locally and recorded by every replica (pending_fences answers to go).
  std::optional<session_init> ready;
  std::size_t pending_fences = 0;
};

struct local_session {
  caf::actor actor;
  bool handing_off = false;
  bool pinned = false;
  clock::time_point retry_after{};  // no new handoff attempt before this
  std::shared_ptr<session_counters> counters;  // clients, inputs (the session writes)
};

struct host_state {
  static inline const char* name = "skein.session_host";
  host_init init;
  membership view;
  std::map<std::string, peer> peers;
  std::map<std::string, local_session> directory;
  std::map<std::string, activation> activating;
  std::map<std::string, std::vector<waiting_resolve>> waiting;  // by owner name
  std::vector<waiting_resolve> until_up;                        // while joining
  std::map<std::string, std::string> overrides;                 // key -> node (admin move)
  std::map<std::string, std::uint64_t> epochs;                  // fencing, by key
  std::vector<std::pair<std::string, std::uint16_t>> seeds;
  std::size_t next_seed = 0;
  bool seed_dialing = false;
  bool seed_reached = false;
  clock::time_point last_tick = clock::now();
  clock::time_point joining_since = clock::now();
  std::uint64_t pause_gen = 0;
  std::uint64_t next_gen = 1;
  bool drained_called = false;
  // Rebalance and drain hand off at most `max_handoffs` sessions at once, so
  // that bulk state never queues up in front of heartbeats on BASP.
  std::deque<std::string> to_hand_off;  // keys whose owner changed, in order
  std::size_t handoffs_in_flight = 0;
  std::shared_ptr<const cluster_view> cview;
  std::unique_ptr<quorum> q;        // leases and down decisions
  bool lease_held = false;          // as of the last check (none before the first)
  clock::time_point lease_lost_since{};
  bool rejoined = false;            // after a rejoin a node never forms a cluster alone
  // Committer writes whose outcome the host waits for, by id (written_atom).
  std::map<std::uint64_t, std::function<void(const std::string&)>> writes;
  std::uint64_t next_write = 1;
};

using host_actor = caf::stateful_actor<host_state>;

const std::string& self_name(host_actor* self) { return self->state.init.self.name; }
const member_info& self_info(host_actor* self) {
  return *self->state.view.find(self_name(self));
}

void on_view_changed(host_actor* self);
bool check_lease(host_actor* self, clock::time_point now);
void connect_peer(host_actor* self, const std::string& name);
caf::result<caf::actor> resolve(host_actor* self, const std::string& key, std::uint64_t hops);

// ---------------------------------------------------------------- epochs --

std::string epoch_meta_key(const std::string& key) { return "epoch/" + key; }

/// The highest epoch this node knows for `key` (0 if none). Throws
/// std::runtime_error naming the key if the stored record is not a number
/// (a corrupt epoch must not read as 0: that would unfence older activations).
std::uint64_t known_epoch(host_actor* self, const std::string& key) {
  auto& st = self->state;
  if (auto i = st.epochs.find(key); i != st.epochs.end()) return i->second;
  std::uint64_t e = 0;
  if (auto v = st.init.store->get_meta(epoch_meta_key(key))) {
    auto end = v->data() + v->size();
    auto [p, ec] = std::from_chars(v->data(), end, e);
    if (v->empty() || ec != std::errc{} || p != end)
      throw std::runtime_error("corrupt epoch record " + epoch_meta_key(key));
  }
  st.epochs[key] = e;
  return e;
}

/// Submits `b` to the committer; `then` runs on the host with "" or the
/// write's error once it is durable.
void submit(host_actor* self, persistence::write_batch b,
            std::function<void(const std::string&)> then) {
  auto& st = self->state;
  auto id = st.next_write++;
  st.writes.emplace(id, std::move(then));
  st.init.committer->submit(std::move(b),
                            [host = caf::actor_cast<caf::actor>(self), id](const std::string& err) {
                              caf::anon_send(host, written_atom::value, id, err);
                            });
}

/// (epoch, journal_seq) of the newest record this node holds for `key`.
std::pair<std::uint64_t, std::uint64_t> local_position(host_actor* self, const std::string& key) {
  auto& store = *self->state.init.store;
  std::pair<std::uint64_t, std::uint64_t> pos{0, 0};
  try {
    if (auto snap = store.load_snapshot(key)) pos = {snap->epoch, snap->journal_seq};
    auto journal = store.load_journal(key, pos.second + 1);
    if (!journal.empty()) pos = {journal.back().second.epoch, journal.back().first};
  } catch (const std::exception& e) {
    spdlog::warn("position of {}: {}", key, e.what());
  }
  return pos;
}

/// Everything this node holds for `key`, as a batch that replaces it.
persistence::write_batch full_copy(host_actor* self, const std::string& key) {
  auto b = self->state.init.store->session_copy(key);
  b.put_meta(epoch_meta_key(key), std::to_string(known_epoch(self, key)));
  return b;
}

// ------------------------------------------------------------ membership --


void publish_counts(host_actor* self) {
  auto& st = self->state;
  int alive = 0, connected = 0;
  for (auto& [n, m] : st.view.members()) {
    if (n == self_name(self) || m.state == member_state::down) continue;
    ++alive;
    if (auto p = st.peers.find(n); p != st.peers.end() && p->second.handle) ++connected;
  }
  st.init.status->peers = alive;
  st.init.status->peers_connected = connected;
  st.init.status->active_sessions = static_cast<int>(st.directory.size());
  st.init.status->state = static_cast<int>(self_info(self).state);
  metrics().sessions.store(static_cast<std::int64_t>(st.directory.size()));
}

void set_self_state(host_actor* self, member_state s) {
  auto me = self_info(self);
  if (me.state == s) return;
  me.state = s;
  self->state.view.merge(me);
  spdlog::info("node {} is {}", me.name, member_state_name(s));
  events().publish({{"type", "member_state"}, {"member", me.name}, {"state", member_state_name(s)}});
}

/// One heartbeat: the view, our clock reading, the echo of the peer's last
/// reading and whom we suspect (runtime/quorum.hpp).
void gossip(host_actor* self) {
  auto& st = self->state;
  auto me = self_info(self);
  me.sessions = static_cast<std::int64_t>(st.directory.size());
  me.connections = metrics().connections.load(std::memory_order_relaxed);
  st.view.merge(me);
  auto now = clock::now();
  auto view = st.view.to_json();
  auto suspects = st.q->suspects(now);
  for (auto& [name, p] : st.peers)
    if (p.handle)
      self->send(p.handle, gossip_atom::value, self_name(self), view, quorum::stamp(now),
                 st.q->echo_for(name, now), suspects);
}

void peer_up(host_actor* self, const std::string& name, caf::actor handle) {
  auto& st = self->state;
  auto& p = st.peers[name];
  if (p.handle && p.handle != handle) self->demonitor(p.handle);
  p.handle = std::move(handle);
  p.connecting = false;
  p.last_heard = clock::now();
  st.q->connected(name, true, p.last_heard);
  self->monitor(p.handle);
  spdlog::info("peer {} connected", name);
  events().publish({{"type", "member_up"}, {"member", name}});
  metrics().membership_changes.fetch_add(1, std::memory_order_relaxed);
  auto waiting = std::move(st.waiting[name]);
  st.waiting.erase(name);
  for (auto& w : waiting) w.promise.delegate(p.handle, resolve_atom::value, w.key, w.hops + 1);
}

void declare_down(host_actor* self, std::string name, const char* why) {
  auto& st = self->state;
  if (auto p = st.peers.find(name); p != st.peers.end()) {
    if (p->second.handle) self->demonitor(p->second.handle);
    st.peers.erase(p);
  }
  auto m = st.view.find(name);
  if (!m || m->state == member_state::down) return;
  auto down = *m;
  down.state = member_state::down;
  st.view.merge(down);
  spdlog::warn("member {} declared down: {}", name, why);
  events().publish({{"type", "member_down"}, {"member", name}, {"reason", why}});
  on_view_changed(self);
}

/// Copies per session: the configured R, raised to ceil(M/2) for M members
/// known (down ones included). Then every majority of the members holds a
/// copy of every session: the side of a partition that keeps its quorum lease
/// always finds the latest copy among the members it can reach, instead of
/// activating the session from nothing (seen in the nemesis with R = 2 and 5
/// nodes: a partition that isolated both copies lost the session's history).
int effective_replicas(host_actor* self) {
  const int m = static_cast<int>(self->state.view.members().size());
  return std::max(self->state.init.replicas, (m + 1) / 2);
}

/// Stops every local activation without releasing anything and joins the
/// cluster again as a new incarnation (after a pause or being declared down).
/// Kills every local activation without releasing anything (their clients
/// are closed and resume elsewhere) and fails activations in progress.
void stop_activations(host_actor* self, const caf::error& why) {
  auto& st = self->state;
  for (auto& [_, s] : st.directory) {
    self->demonitor(s.actor);
    self->send_exit(s.actor, caf::exit_reason::kill);
  }
  st.directory.clear();
  st.to_hand_off.clear();
  st.handoffs_in_flight = 0;
  for (auto& [_, a] : st.activating)
    for (auto& w : a.waiters) w.deliver(why);
  st.activating.clear();
}

void rejoin(host_actor* self, const char* why) {
  auto& st = self->state;
  spdlog::warn("node {} rejoins as a new incarnation: {}", self_name(self), why);
  events().publish({{"type", "rejoin"}, {"member", self_name(self)}, {"reason", why}});
  stop_activations(self, make_error(skein_error::rejoining, "node rejoining the cluster"));
  st.rejoined = true;
  for (auto& [_, ws] : st.waiting)
    for (auto& w : ws) w.promise.deliver(make_error(skein_error::rejoining, "node rejoining the cluster"));
  st.waiting.clear();
  for (auto& w : st.until_up)
    w.promise.deliver(make_error(skein_error::rejoining, "node rejoining the cluster"));
  st.until_up.clear();
  st.overrides.clear();
  st.epochs.clear();
  // Everything known becomes a seed: a node started without seeds must
  // still find its way back.
  for (auto& [n, m] : st.view.members())
    if (n != self_name(self)) {
      auto addr = std::make_pair(m.host, m.cluster_port);
      if (std::find(st.seeds.begin(), st.seeds.end(), addr) == st.seeds.end())
        st.seeds.push_back(addr);
    }
  for (auto& [_, p] : st.peers)
    if (p.handle) self->demonitor(p.handle);
  st.peers.clear();
  auto me = st.init.self;
  me.incarnation = static_cast<std::uint64_t>(std::max<std::int64_t>(
    wall_ms(), static_cast<std::int64_t>(self_info(self).incarnation) + 1));
  me.state = member_state::joining;
  st.init.self = me;
  st.view = membership{};
  st.view.merge(me);
  st.seed_reached = false;
  st.seed_dialing = false;
  st.next_seed = 0;
  st.joining_since = clock::now();
  st.pause_gen = liveness::generation();
  on_view_changed(self);
}

/// True (after rejoining) if the process was paused since the host last looked.
bool check_pause(host_actor* self) {
  if (liveness::generation() == self->state.pause_gen) return false;
  rejoin(self, "the process was paused longer than the failure timeout");
  return true;
}

void dial(host_actor* self, const std::string& host, std::uint16_t port, std::string expected,
          std::function<void(bool)> done) {
  auto mm = self->system().middleman().actor_handle();
  self->request(mm, std::chrono::seconds(3), caf::connect_atom::value, host, port)
    .then(
      [self, expected, done](caf::node_id&, caf::strong_actor_ptr& ptr, std::set<std::string>&) {
        auto handle = caf::actor_cast<caf::actor>(ptr);
        if (!handle) return done(false);
        auto me = caf::actor_cast<caf::actor>(self);
        self->request(handle, std::chrono::seconds(3), hello_atom::value, self_name(self),
                      self->state.view.to_json(), me)
          .then(
            [self, handle, expected, done](std::string& name, std::string& view_json) {
              if (!expected.empty() && name != expected) {
                spdlog::error("member {} answers as {}; check the addresses", expected, name);
                return done(false);
              }
              if (name == self_name(self)) return done(false);  // dialed ourselves
              peer_up(self, name, handle);
              try {
                self->state.view.merge(membership::from_json(view_json));
              } catch (const std::exception& e) {
                spdlog::warn("bad view from {}: {}", name, e.what());
              }
              on_view_changed(self);
              done(true);
            },
            [done](caf::error&) { done(false); });
      },
      [done](caf::error&) { done(false); });
}

/// Of each pair of alive members, the one with the smaller name dials.
void connect_peer(host_actor* self, const std::string& name) {
  auto& st = self->state;
  auto m = st.view.find(name);
  if (!m || m->state == member_state::down || name == self_name(self)) return;
  auto& p = st.peers[name];
  if (p.handle || p.connecting || !(self_name(self) < name)) return;
  p.connecting = true;
  dial(self, m->host, m->cluster_port, name, [self, name](bool ok) {
    if (auto p = self->state.peers.find(name); p != self->state.peers.end() && !ok)
      p->second.connecting = false;
  });
}

void dial_next_seed(host_actor* self) {
  auto& st = self->state;
  if (st.seed_dialing || st.seeds.empty()) return;
  auto [host, port] = st.seeds[st.next_seed++ % st.seeds.size()];
  if (host == st.init.self.host && port == st.init.self.cluster_port) return;
  st.seed_dialing = true;
  dial(self, host, port, {}, [self](bool ok) {
    self->state.seed_dialing = false;
    if (ok) self->state.seed_reached = true;
  });
}

void start_handoff(host_actor* self, const std::string& key, const std::string& target,
                   bool pinned) {
  auto& st = self->state;
  auto i = st.directory.find(key);
  if (i == st.directory.end() || i->second.handing_off) return;
  if (clock::now() < i->second.retry_after) return;
  auto p = st.peers.find(target);
  if (p == st.peers.end() || !p->second.handle) return;
  i->second.handing_off = true;
  ++st.handoffs_in_flight;
  spdlog::debug("handing {} off to {}", key, target);
  self->send(i->second.actor, handoff_atom::value, p->second.handle, target, pinned);
}

constexpr std::size_t max_handoffs = 16;

/// Starts queued handoffs until `max_handoffs` are in flight; each key is
/// checked again, since the view or the directory may have changed.
void pump_handoffs(host_actor* self) {
  auto& st = self->state;
  auto up = st.view.up();
  if (up.empty()) return;
  const bool draining = self_info(self).state != member_state::up;
  while (st.handoffs_in_flight < max_handoffs && !st.to_hand_off.empty()) {
    auto key = std::move(st.to_hand_off.front());
    st.to_hand_off.pop_front();
    auto i = st.directory.find(key);
    if (i == st.directory.end() || i->second.handing_off) continue;
    if (i->second.pinned && !draining) continue;
    auto owner = hrw_owner(key, up);
    if (owner != self_name(self)) start_handoff(self, key, owner, false);
  }
}

/// Queues every local activation whose owner changed (all of them while
/// draining) and starts the first handoffs.
void rebalance(host_actor* self) {
  auto& st = self->state;
  auto up = st.view.up();
  st.to_hand_off.clear();
  if (up.empty()) return;
  const bool draining = self_info(self).state != member_state::up;
  for (auto& [key, s] : st.directory) {
    if (s.handing_off || (s.pinned && !draining)) continue;
    if (hrw_owner(key, up) != self_name(self)) st.to_hand_off.push_back(key);
  }
  pump_handoffs(self);
}

/// After the directory changed (a handoff ended, a session stopped): more
/// handoffs, the published counts, and the end of a drain.
void on_directory_changed(host_actor* self) {
  auto& st = self->state;
  pump_handoffs(self);
  publish_counts(self);
  if (self_info(self).state == member_state::draining && st.directory.empty()
      && st.activating.empty() && !st.drained_called) {
    st.drained_called = true;
    spdlog::info("node {} drained", self_name(self));
    events().publish({{"type", "drain_finished"}, {"member", self_name(self)}});
    if (st.init.on_drained) st.init.on_drained();
  }
}

void on_view_changed(host_actor* self) {
  auto& st = self->state;
  auto me = st.view.find(self_name(self));
  if (me && me->state == member_state::down) {
    // The others declared this incarnation down: its sessions live elsewhere now.
    rejoin(self, "declared down by the cluster");
    return;
  }
  for (auto& [n, m] : st.view.members()) {
    if (n == self_name(self)) continue;
    if (m.state == member_state::down) {
      if (auto p = st.peers.find(n); p != st.peers.end()) {
        if (p->second.handle) self->demonitor(p->second.handle);
        st.peers.erase(p);
      }
    } else {
      connect_peer(self, n);
    }
  }
  // joining -> up once connected to every member known alive.
  if (self_info(self).state == member_state::joining) {
    bool all = true;
    for (auto& n : st.view.alive())
      if (n != self_name(self) && !(st.peers.count(n) && st.peers[n].handle)) all = false;
    // A node started without seeds forms a cluster at once; one with seeds
    // forms one alone only if it is the first seed and none answers (Akka's
    // first-seed rule); after a rejoin it never does: it may be the minority
    // side of a partition, and alone it would hold a quorum of one.
    bool first_seed = !st.init.seeds.empty() && st.init.seeds.front().first == st.init.self.host
                      && st.init.seeds.front().second == st.init.self.cluster_port;
    bool seeded = st.seed_reached || (!st.rejoined && st.init.seeds.empty())
                  || (!st.rejoined && first_seed
                      && clock::now() - st.joining_since > st.init.seed_timeout);
    if (all && seeded) set_self_state(self, member_state::up);
  }
  st.q->set_members(st.view.alive(), clock::now());
  liveness::set_lease_until(st.q->lease_until());  // the transitions happen in check_lease
  auto view = std::make_shared<cluster_view>();
  view->self = self_name(self);
  view->up = st.view.up();
  view->alive = st.view.alive();
  view->replicas = effective_replicas(self);
  for (auto& [n, p] : st.peers)
    if (p.handle) view->hosts.emplace(n, p.handle);
  view->replicas_of = [up = view->up, hosts = view->hosts, me = view->self,
                       r = view->replicas](const std::string& key) {
    std::vector<std::string> out;
    if (r <= 1) return out;
    for (auto& n : hrw_ranking(key, up)) {
      if (n == me || !hosts.count(n)) continue;
      out.push_back(n);
      if (static_cast<int>(out.size()) >= r - 1) break;
    }
    return out;
  };
  st.cview = view;
  for (auto& [_, s] : st.directory) self->send(s.actor, members_atom::value, st.cview);
  // Resolutions waiting for a member that is gone: resolve them again.
  for (auto it = st.waiting.begin(); it != st.waiting.end();) {
    auto m = st.view.find(it->first);
    if (m && m->state != member_state::down) {
      ++it;
      continue;
    }
    auto ws = std::move(it->second);
    it = st.waiting.erase(it);
    for (auto& w : ws) w.promise.delegate(caf::actor_cast<caf::actor>(self), resolve_atom::value, w.key, w.hops);
  }
  if (self_info(self).state != member_state::joining && !st.view.up().empty() && st.lease_held) {
    auto held = std::move(st.until_up);
    st.until_up.clear();
    for (auto& w : held)
      w.promise.delegate(caf::actor_cast<caf::actor>(self), resolve_atom::value, w.key, w.hops);
  }
  rebalance(self);
  gossip(self);
  on_directory_changed(self);
}

/// Publishes the quorum lease. Losing it stops every activation (clients
/// resume on the majority side); without it for longer than the others need
/// to declare this node down, the node rejoins as a new incarnation. Returns
/// true if it rejoined.
bool check_lease(host_actor* self, clock::time_point now) {
  auto& st = self->state;
  auto until = st.q->lease_until();
  liveness::set_lease_until(until);
  const bool held = now < until;
  if (held == st.lease_held) {
    if (!held && self_info(self).state != member_state::joining
        && now - st.lease_lost_since > st.init.failure_timeout + 2 * st.init.lease) {
      rejoin(self, "no quorum for longer than the failure timeout plus two leases");
      return true;
    }
    return false;
  }
  st.lease_held = held;
  if (held) {
    spdlog::info("node {} holds a quorum lease again", self_name(self));
    events().publish({{"type", "quorum_regained"}, {"member", self_name(self)}});
    on_view_changed(self);
  } else {
    st.lease_lost_since = now;
    spdlog::warn("node {} lost its quorum lease: stops activating and releasing", self_name(self));
    events().publish({{"type", "quorum_lost"}, {"member", self_name(self)}});
    stop_activations(self, make_error(skein_error::no_quorum,
                                      "this node cannot see a majority of the cluster"));
    publish_counts(self);
  }
  return false;
}

void tick(host_actor* self) {
  auto& st = self->state;
  auto now = clock::now();
  if (check_pause(self)) {
    st.last_tick = now;
  } else {
    st.last_tick = now;
    // Down only what a quorum has suspected for a lease (runtime/quorum.hpp);
    // the names are copied out, since declare_down erases peers.
    for (auto& name : st.q->downable(now))
      declare_down(self, name, "suspected by a quorum of the members for the lease time");
    if (check_lease(self, now)) {
      // rejoined: nothing else to do this tick
    } else if (self_info(self).state == member_state::joining) {
      if (!st.seed_reached) dial_next_seed(self);
      on_view_changed(self);
    } else {
      for (auto& n : st.view.alive()) connect_peer(self, n);
      rebalance(self);  // also retries handoffs that failed (after retry_after)
      publish_counts(self);
      gossip(self);
    }
  }
  self->delayed_send(self, st.init.heartbeat_interval, tick_atom::value);
}

// ------------------------------------------------------------ activation --

void fail_activation(host_actor* self, const std::string& key, const caf::error& why) {
  auto& st = self->state;
  auto i = st.activating.find(key);
  if (i == st.activating.end()) return;
  for (auto& w : i->second.waiters) w.deliver(why);
  st.activating.erase(i);
  if (self_info(self).state == member_state::draining) on_directory_changed(self);
}

void fence_done(host_actor* self, const std::string& key, std::uint64_t gen, caf::error err);

void finish_activation(host_actor* self, const std::string& key) {
  auto& st = self->state;
  auto ai = st.activating.find(key);
  if (ai == st.activating.end() || ai->second.ready) return;  // absent, or fencing already
  auto& a = ai->second;
  if (!liveness::lease_held())
    return fail_activation(self, key, make_error(skein_error::no_quorum,
                                                 "this node cannot see a majority of the cluster"));
  auto parsed = session_key::parse(key);  // resolve() validated it
  const std::string kind(parsed->kind()), id(parsed->id());
  session_init init;
  try {
    init.recovered = recover_session(persistence::load_session_records(*st.init.store, key),
                                     *st.init.registry, key);
    init.epoch = std::max({init.recovered.epoch, a.max_epoch, known_epoch(self, key)}) + 1;
    st.epochs[key] = init.epoch;
  } catch (const std::exception& e) {
    spdlog::error("refusing to activate {}: {}", key, e.what());
    return fail_activation(self, key,
                           make_error(skein_error::unrecoverable, "cannot activate " + key + ": " + e.what()));
  }
  init.key = key;
  init.id = id;
  init.options = st.init.registry->options(kind);
  init.committer = st.init.committer;
  init.store = st.init.store_reader;
  init.host = caf::actor_cast<caf::actor>(self);
  init.view = st.cview;
  init.clients_json = a.clients_json;
  const auto epoch = init.epoch;
  const auto gen = a.gen;
  a.ready = std::move(init);
  // The new epoch is written locally and fences the replica set (later
  // writes of older activations are refused) before the session starts: a
  // failure of either fails the activation.
  a.pending_fences = 1;
  persistence::write_batch fence;
  fence.put_meta(epoch_meta_key(key), std::to_string(epoch));
  submit(self, std::move(fence), [self, key, gen](const std::string& err) {
    fence_done(self, key, gen,
               err.empty() ? caf::error{}
                           : make_error(skein_error::store_failure,
                                        "cannot write the epoch of " + key + ": " + err));
  });
  if (st.cview)
    for (auto& r : st.cview->replicas_of(key)) {
      ++a.pending_fences;
      self->request(st.cview->hosts.at(r), std::chrono::seconds(3), fence_atom::value, key, epoch)
        .then([self, key, gen](std::uint64_t) { fence_done(self, key, gen, caf::error{}); },
              [self, key, gen, r](caf::error& err) {
                fence_done(self, key, gen,
                           make_error(skein_error::fence_failed,
                                      "replica " + r + " did not record the epoch of " + key
                                        + ": " + self->system().render(err)));
              });
    }
}

/// One answer to an activation's fence (the local epoch write or a replica):
/// the first error fails the activation; the last success starts the session.
void fence_done(host_actor* self, const std::string& key, std::uint64_t gen, caf::error err) {
  auto& st = self->state;
  auto ai = st.activating.find(key);
  if (ai == st.activating.end() || ai->second.gen != gen || !ai->second.ready) return;
  if (err) {
    spdlog::warn("activation of {} failed: {}", key, self->system().render(err));
    return fail_activation(self, key, err);
  }
  if (--ai->second.pending_fences > 0) return;
  auto& a = ai->second;
  const auto epoch = a.ready->epoch;
  auto counters = std::make_shared<session_counters>();
  a.ready->counters = counters;
  auto session = spawn_session(self->system(), std::move(*a.ready));
  self->monitor(session);
  st.directory[key] = local_session{session, false, a.pinned, {}, std::move(counters)};
  metrics().activations.fetch_add(1, std::memory_order_relaxed);
  events().publish({{"type", "session_activated"}, {"session", key}, {"epoch", epoch}});
  for (auto& w : a.waiters) w.deliver(session);
  st.activating.erase(ai);
  publish_counts(self);
}

void apply_copy(host_actor* self, const std::string& key, const std::string& bytes) {
  auto batch = persistence::write_batch::decode(bytes, key);
  self->state.init.store->write(batch);
}

void claims_done(host_actor* self, const std::string& key) {
  auto& st = self->state;
  auto& a = st.activating[key];
  if (!a.unanswered.empty())
    return fail_activation(self, key, make_error(skein_error::owner_unreachable,
                                                 "claim of " + key + " unanswered by "
                                                   + a.unanswered + "; retrying"));
  if (!a.active_node.empty()) {
    auto p = st.peers.find(a.active_node);
    if (p != st.peers.end() && p->second.handle) {
      self->send(p->second.handle, handoff_atom::value, key, self_name(self), false);
      self->delayed_send(self, std::chrono::seconds(10), retry_atom::value, key, a.gen);
      return;  // the adopt finishes it
    }
  }
  auto local = local_position(self, key);
  if (!a.best_node.empty() && a.best > local) {
    auto p = st.peers.find(a.best_node);
    if (p != st.peers.end() && p->second.handle) {
      auto gen = a.gen;
      self->request(p->second.handle, std::chrono::seconds(5), fetch_atom::value, key)
        .then(
          [self, key, gen](std::string& bytes) {
            auto i = self->state.activating.find(key);
            if (i == self->state.activating.end() || i->second.gen != gen) return;
            try {
              apply_copy(self, key, bytes);
            } catch (const std::exception& e) {
              return fail_activation(
                self, key, make_error(skein_error::store_failure, "copy of " + key + ": " + e.what()));
            }
            finish_activation(self, key);
          },
          [self, key, gen](caf::error& err) {
            auto i = self->state.activating.find(key);
            if (i == self->state.activating.end() || i->second.gen != gen) return;
            fail_activation(self, key, make_error(skein_error::fetch_failed, "cannot fetch " + key + ": "
                                                                + self->system().render(err)));
          });
      return;
    }
  }
  finish_activation(self, key);
}

caf::result<caf::actor> activate(host_actor* self, const std::string& key) {
  auto& st = self->state;
  if (auto i = st.directory.find(key); i != st.directory.end()) return i->second.actor;
  auto rp = self->make_response_promise();
  if (auto i = st.activating.find(key); i != st.activating.end()) {
    i->second.waiters.push_back(rp);
    return rp;
  }
  auto& a = st.activating[key];
  a.gen = st.next_gen++;
  a.waiters.push_back(rp);
  std::vector<std::pair<std::string, caf::actor>> asked;
  for (auto& [n, p] : st.peers)
    if (p.handle) asked.emplace_back(n, p.handle);
  if (asked.empty() || st.init.unsafe_skip_fencing) {
    finish_activation(self, key);
    return rp;
  }
  a.pending_claims = asked.size();
  auto gen = a.gen;
  for (auto& [name, handle] : asked) {
    auto on_answer = [self, key, gen, name = name](bool active, std::uint64_t epoch,
                                                   std::uint64_t jseq) {
      auto i = self->state.activating.find(key);
      if (i == self->state.activating.end() || i->second.gen != gen) return;
      auto& a = i->second;
      a.max_epoch = std::max(a.max_epoch, epoch);
      if (active) a.active_node = name;
      if (std::make_pair(epoch, jseq) > a.best) {
        a.best = {epoch, jseq};
        a.best_node = name;
      }
      if (--a.pending_claims == 0) claims_done(self, key);
    };
    self->request(handle, std::chrono::seconds(2), claim_atom::value, key)
      .then([on_answer](bool active, std::uint64_t epoch,
                        std::uint64_t jseq) { on_answer(active, epoch, jseq); },
            [self, key, gen, name = name, on_answer](caf::error&) {
              // An unanswered claim may hide the freshest copy: the
              // activation fails (the connection retries) rather than
              // starting from an older one.
              auto i = self->state.activating.find(key);
              if (i != self->state.activating.end() && i->second.gen == gen)
                i->second.unanswered = name;
              on_answer(false, 0, 0);
            });
  }
  return rp;
}

caf::result<caf::actor> resolve(host_actor* self, const std::string& key, std::uint64_t hops) {
  auto& st = self->state;
  check_pause(self);
  auto parsed = session_key::parse(key);
  if (!parsed) return make_error(skein_error::malformed_key, "malformed session key: " + session_key::why_invalid(key));
  const std::string kind(parsed->kind());
  if (!st.init.registry->contains(kind)) return make_error(skein_error::unknown_kind, "unknown session kind '" + kind + "'");
  if (auto i = st.directory.find(key); i != st.directory.end()) return i->second.actor;
  std::string owner;
  if (auto o = st.overrides.find(key); o != st.overrides.end()) {
    auto m = st.view.find(o->second);
    if (m && m->state != member_state::down) owner = o->second;
    else st.overrides.erase(o);
  }
  auto up = st.view.up();
  if (!st.lease_held
      || (owner.empty() && (up.empty() || self_info(self).state == member_state::joining))) {
    // A joining node (also one rejoining after a pause) activates nothing:
    // its view may be empty or stale. The request waits until it is up.
    auto rp = self->make_response_promise();
    st.until_up.push_back({rp, key, hops});
    return rp;
  }
  if (owner.empty()) owner = hrw_owner(key, up);
  if (owner == self_name(self) || hops >= 3 || st.init.unsafe_skip_fencing) return activate(self, key);
  auto rp = self->make_response_promise();
  auto& p = st.peers[owner];
  if (p.handle) {
    rp.delegate(p.handle, resolve_atom::value, key, hops + 1);
  } else {
    auto& ws = st.waiting[owner];
    if (ws.size() >= 65536) return make_error(skein_error::owner_unreachable, "owner " + owner + " unreachable");
    ws.push_back({rp, key, hops});
    connect_peer(self, owner);
  }
  return rp;
}

std::string status_json(host_actor* self) {
  auto& st = self->state;
  json members = json::array();
  for (auto& [n, m] : st.view.members()) {
    bool is_self = n == self_name(self);
    bool connected = is_self || (st.peers.count(n) && st.peers.at(n).handle);
    members.push_back({{"name", n}, {"url", m.url}, {"state", member_state_name(m.state)},
                       {"connected", connected}, {"self", is_self},
                       {"sessions", is_self ? static_cast<std::int64_t>(st.directory.size())
                                            : m.sessions},
                       {"connections", is_self ? metrics().connections.load(std::memory_order_relaxed)
                                               : m.connections},
                       {"incarnation", m.incarnation}});
  }
  json sessions = json::array();
  json stats = json::array();  // per session: clients attached, inputs handled
  for (auto& [key, s] : st.directory) {
    sessions.push_back(key);
    const auto* c = s.counters.get();
    stats.push_back({{"key", key},
                     {"clients", c ? c->clients.load(std::memory_order_relaxed) : 0u},
                     {"inputs", c ? c->inputs.load(std::memory_order_relaxed) : 0u}});
  }
  return json{{"node", self_name(self)},
              {"url", st.init.self.url},
              {"state", member_state_name(self_info(self).state)},
              {"members", members},
              {"sessions", sessions},
              {"session_stats", stats}}
    .dump();
}

caf::behavior host_fun(host_actor* self, host_init init) {
  auto& st = self->state;
  st.init = std::move(init);
  st.seeds = st.init.seeds;
  st.view.merge(st.init.self);
  st.pause_gen = liveness::generation();
  st.lease_lost_since = clock::now();
  st.q = std::make_unique<quorum>(self_name(self),
                                  quorum::config{st.init.failure_timeout, st.init.lease});
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    for (auto i = st.directory.begin(); i != st.directory.end(); ++i)
      if (i->second.actor.address() == dm.source) {
        events().publish({{"type", "session_stopped"}, {"session", i->first}});
        if (i->second.handing_off && st.handoffs_in_flight > 0) --st.handoffs_in_flight;
        st.directory.erase(i);
        on_directory_changed(self);
        return;
      }
    for (auto& [name, p] : st.peers)
      if (p.handle && p.handle.address() == dm.source) {
        // Connection lost: a suspicion, not a verdict. The member is
        // declared down once a quorum has suspected it for the lease
        // (runtime/quorum.hpp); meanwhile the smaller name redials.
        spdlog::warn("member {} unreachable: its host actor went down (connection lost)", name);
        events().publish({{"type", "member_unreachable"}, {"member", name}});
        st.q->connected(name, false, clock::now());
        st.peers.erase(name);
        on_view_changed(self);
        return;
      }
  });
  self->set_exit_handler([self](caf::exit_msg& em) {
    for (auto& [_, s] : self->state.directory) self->send_exit(s.actor, em.reason);
    self->quit(em.reason);
  });
  on_view_changed(self);
  self->send(self, tick_atom::value);
  return {
    [self](resolve_atom, const std::string& key) { return resolve(self, key, 0); },
    [self](resolve_atom, const std::string& key, std::uint64_t hops) {
      return resolve(self, key, hops);
    },
    [self](tick_atom) { tick(self); },
    [self](hello_atom, const std::string& name, const std::string& view_json,
           caf::actor& handle) -> caf::result<std::string, std::string> {
      if (name == self_name(self)) return make_error(skein_error::name_conflict, "hello from a node with my name");
      peer_up(self, name, handle);
      try {
        self->state.view.merge(membership::from_json(view_json));
      } catch (const std::exception& e) {
        spdlog::warn("bad view from {}: {}", name, e.what());
      }
      on_view_changed(self);
      return {self_name(self), self->state.view.to_json()};
    },
    [self](gossip_atom, const std::string& name, const std::string& view_json, std::int64_t ts,
           std::int64_t echo, const std::vector<std::string>& suspects) {
      auto& st = self->state;
      auto now = clock::now();
      if (auto p = st.peers.find(name); p != st.peers.end()) p->second.last_heard = now;
      st.q->heard(name, now, ts, echo, suspects);
      check_lease(self, now);
      try {
        if (st.view.merge(membership::from_json(view_json))) on_view_changed(self);
      } catch (const std::exception& e) {
        spdlog::warn("bad gossip from {}: {}", name, e.what());
      }
      // A peer that talks to us but that we never registered (its hello
      // answer was lost when both sides dialed at once, e.g. a restarted
      // node dialing its seeds): take its handle from the message, or the
      // pair stays half-connected and a joining node never becomes up.
      auto m = st.view.find(name);
      auto p = st.peers.find(name);
      if (name != self_name(self) && m && m->state != member_state::down
          && (p == st.peers.end() || !p->second.handle))
        if (auto h = caf::actor_cast<caf::actor>(self->current_sender())) {
          peer_up(self, name, std::move(h));
          on_view_changed(self);
        }
    },
    [self](claim_atom,
           const std::string& key) -> caf::result<bool, std::uint64_t, std::uint64_t> {
      auto pos = local_position(self, key);
      bool active = self->state.directory.count(key) > 0;
      try {
        return {active, std::max(pos.first, known_epoch(self, key)), pos.second};
      } catch (const std::exception& e) {
        return make_error(skein_error::unrecoverable, e.what());
      }
    },
    [self](written_atom, std::uint64_t id, const std::string& err) {
      auto& st = self->state;
      auto w = st.writes.find(id);
      if (w == st.writes.end()) return;
      auto then = std::move(w->second);
      st.writes.erase(w);
      then(err);
    },
    [self](fetch_atom, const std::string& key) -> caf::result<std::string> {
      try {
        return full_copy(self, key).encode();
      } catch (const std::exception& e) {
        return make_error(skein_error::store_failure, "cannot copy " + key + ": " + e.what());
      }
    },
    [self](handoff_atom, const std::string& key, const std::string& target, bool pinned) {
      start_handoff(self, key, target, pinned);
    },
    [self](adopt_atom, const std::string& key, std::uint64_t epoch, const std::string& batch,
           const std::string& clients, bool pinned) -> caf::result<caf::actor> {
      auto& st = self->state;
      // Already active here (it activated from a copy or won a race): the
      // sender forwards to this activation and stops; its epoch is older.
      if (auto i = st.directory.find(key); i != st.directory.end()) return i->second.actor;
      // An activation that recovered already and waits for its fences would
      // not see the copy: refuse; the sender keeps serving and tries again.
      if (auto a = st.activating.find(key); a != st.activating.end() && a->second.ready)
        return make_error(skein_error::fenced, "an activation of " + key + " is starting here");
      std::uint64_t known = 0;
      try {
        known = known_epoch(self, key);
      } catch (const std::exception& e) {
        return make_error(skein_error::unrecoverable, "cannot adopt " + key + ": " + e.what());
      }
      if (epoch < known)
        return make_error(skein_error::fenced, "adopt of " + key + " at epoch "
                                                 + std::to_string(epoch) + " < known epoch "
                                                 + std::to_string(known));
      try {
        apply_copy(self, key, batch);
      } catch (const std::exception& e) {
        return make_error(skein_error::store_failure, "cannot adopt " + key + ": " + e.what());
      }
      auto rp = self->make_response_promise();
      auto& a = st.activating[key];
      if (a.gen == 0) a.gen = st.next_gen++;
      a.waiters.push_back(rp);
      a.max_epoch = std::max(a.max_epoch, epoch);
      a.clients_json = clients;
      a.pinned = pinned;
      st.overrides.erase(key);
      metrics().migrations_in.fetch_add(1, std::memory_order_relaxed);
      events().publish({{"type", "migration_in"}, {"session", key}});
      finish_activation(self, key);
      return rp;
    },
    [self](handed_atom, const std::string& key, bool ok) {
      auto& st = self->state;
      auto i = st.directory.find(key);
      if (i == st.directory.end()) return;
      if (i->second.handing_off && st.handoffs_in_flight > 0) --st.handoffs_in_flight;
      if (ok) {
        self->demonitor(i->second.actor);
        st.directory.erase(i);
        metrics().migrations_out.fetch_add(1, std::memory_order_relaxed);
        events().publish({{"type", "migration_out"}, {"session", key}});
      } else {
        i->second.handing_off = false;
        i->second.retry_after = clock::now() + std::chrono::seconds(1);
      }
      on_directory_changed(self);
    },
    [self](retry_atom, const std::string& key, std::uint64_t gen) {
      auto i = self->state.activating.find(key);
      if (i != self->state.activating.end() && i->second.gen == gen)
        fail_activation(self, key,
                        make_error(skein_error::handoff_timeout, "handoff of " + key + " timed out"));
    },
    [self](replicate_atom, const std::string& key, std::uint64_t epoch, const std::string& bytes,
           caf::actor& session, std::uint64_t id) {
      auto& st = self->state;
      std::uint64_t known = 0;
      try {
        known = known_epoch(self, key);
      } catch (const std::exception& e) {
        self->send(session, repl_ack_atom::value, self_name(self), id, std::string(e.what()));
        return;
      }
      if (epoch < known && !st.init.unsafe_skip_fencing) {
        self->send(session, repl_ack_atom::value, self_name(self), id,
                   "fenced: epoch " + std::to_string(epoch) + " < " + std::to_string(known));
        return;
      }
      persistence::write_batch batch;
      try {
        batch = persistence::write_batch::decode(bytes, key);
      } catch (const std::exception& e) {
        self->send(session, repl_ack_atom::value, self_name(self), id, std::string(e.what()));
        return;
      }
      if (epoch > known) {
        st.epochs[key] = epoch;
        batch.put_meta(epoch_meta_key(key), std::to_string(epoch));
      }
      st.init.committer->submit(std::move(batch),
                                [session, id, name = self_name(self)](const std::string& err) {
                                  caf::anon_send(session, repl_ack_atom::value, name, id, err);
                                });
    },
    [self](fence_atom, const std::string& key,
           std::uint64_t epoch) -> caf::result<std::uint64_t> {
      auto& st = self->state;
      std::uint64_t known = 0;
      try {
        known = known_epoch(self, key);
      } catch (const std::exception& e) {
        return make_error(skein_error::unrecoverable, e.what());
      }
      if (epoch <= known || st.init.unsafe_skip_fencing) return std::max(known, epoch);
      st.epochs[key] = epoch;
      // A local activation of an older epoch must stop.
      if (auto i = st.directory.find(key); i != st.directory.end() && !i->second.handing_off)
        self->send(i->second.actor, fence_atom::value, key, epoch);
      // Answered once the epoch is durable here; a failed write is an error.
      persistence::write_batch b;
      b.put_meta(epoch_meta_key(key), std::to_string(epoch));
      auto rp = self->make_response_promise();
      submit(self, std::move(b), [rp, key, epoch](const std::string& err) mutable {
        if (err.empty()) rp.deliver(epoch);
        else rp.deliver(make_error(skein_error::store_failure,
                                   "cannot write the epoch of " + key + ": " + err));
      });
      return rp;
    },
    [self](drain_atom, const std::string& name) -> caf::result<std::string> {
      auto& st = self->state;
      if (name == self_name(self)) {
        set_self_state(self, member_state::draining);
        events().publish({{"type", "drain_started"}, {"member", name}});
        on_view_changed(self);
        return json{{"node", name}, {"state", "draining"},
                    {"sessions", self->state.directory.size()}}.dump();
      }
      auto p = st.peers.find(name);
      if (p == st.peers.end() || !p->second.handle)
        return make_error(skein_error::no_member, "no connected member named '" + name + "'");
      auto rp = self->make_response_promise();
      rp.delegate(p->second.handle, drain_atom::value, name);
      return rp;
    },
    [self](move_atom, const std::string& key, const std::string& to) -> caf::result<std::string> {
      auto& st = self->state;
      if (!session_key::parse(key))
        return make_error(skein_error::malformed_key,
                          "malformed session key: " + session_key::why_invalid(key));
      auto target = st.view.find(to);
      if (!target || target->state != member_state::up)
        return make_error(skein_error::no_member, "no member '" + to + "' in state up");
      auto up = st.view.up();
      auto owner = hrw_owner(key, up);
      if (owner != self_name(self)) {
        auto p = st.peers.find(owner);
        if (p == st.peers.end() || !p->second.handle) return make_error(skein_error::owner_unreachable, "owner unreachable");
        auto rp = self->make_response_promise();
        rp.delegate(p->second.handle, move_atom::value, key, to);
        return rp;
      }
      // This node is the HRW owner: it records where the session lives.
      std::string from = self_name(self);
      if (auto o = st.overrides.find(key); o != st.overrides.end()) from = o->second;
      if (to == owner) st.overrides.erase(key);
      else st.overrides[key] = to;
      if (from == self_name(self)) {
        if (!st.directory.count(key))
          return json{{"key", key}, {"to", to}, {"moving", false},
                      {"note", "not active; it will activate on " + to}}.dump();
        start_handoff(self, key, to, to != owner);
      } else if (auto p = st.peers.find(from); p != st.peers.end() && p->second.handle) {
        self->send(p->second.handle, handoff_atom::value, key, to, to != owner);
      }
      return json{{"key", key}, {"from", from}, {"to", to}, {"moving", true}}.dump();
    },
    [self](status_atom) { return status_json(self); },
    // The member list with every member's load as it last gossiped it (this
    // node's own entry too), so every node answers alike: GET /gateway.
    [self](members_atom) { return self->state.view.to_json(); },
    [self](placement_atom, const std::string& key) {
      auto& st = self->state;
      auto ranking = hrw_ranking(key, st.view.up());
      std::string owner = ranking.empty() ? self_name(self) : ranking.front();
      if (auto o = st.overrides.find(key); o != st.overrides.end()) owner = o->second;
      std::vector<std::string> replicas;
      for (auto& n : ranking)
        if (n != owner && static_cast<int>(replicas.size()) < effective_replicas(self) - 1)
          replicas.push_back(n);
      return json{{"key", key}, {"owner", owner}, {"ranking", ranking}, {"replicas", replicas}}
        .dump();
    },
    [self](info_atom) { return std::make_tuple(self_name(self), self->state.init.self.url); },
  };
}

}  // namespace

caf::actor spawn_session_host(caf::actor_system& sys, host_init init) {
  return sys.spawn(host_fun, std::move(init));
}

}  // namespace skein
