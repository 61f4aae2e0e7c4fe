// The membership actor (runtime/membership_actor.hpp): dialing, hello,
// gossip, suspicion, quorum leases, pause detection and rejoin.
#include "runtime/membership_actor.hpp"

#include <algorithm>
#include <array>
#include <functional>
#include <map>
#include <set>

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <spdlog/spdlog.h>

#include "actors/errors.hpp"
#include "actors/events.hpp"
#include "actors/liveness.hpp"
#include "actors/metrics.hpp"
#include "persistence/committer.hpp"
#include "persistence/keys.hpp"
#include "runtime/cluster_state.hpp"
#include "runtime/heartbeat_channel.hpp"
#include "runtime/heartbeat_wire.hpp"
#include "runtime/quorum.hpp"
#include "runtime/session_host.hpp"
#include "actors/stray_errors.hpp"
#include "runtime/tcp_probe.hpp"

namespace skein {

namespace {

using clock = std::chrono::steady_clock;

std::int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

struct peer {
  membership_actor handle;  // its membership actor (monitored)
  peer_handles actors;      // its directory and replica
  bool connecting = false;
};

/// Per peer: what the heartbeat channel needs, and the gap metrics.
struct beat_peer {
  std::string key;           // its heartbeat key, as its gossip last gave it
  std::int64_t last_ts = 0;  // the newest ts taken from its datagrams (replays are older)
  std::array<clock::time_point, 2> last{};  // its last heartbeat per channel (0 BASP, 1 UDP)
  clock::time_point answered{};  // our last answer to one of its datagrams
};

struct membership_state {
  static inline const char* name = "skein.membership";
  membership_init init;
  membership view;
  std::map<std::string, peer> peers;
  std::vector<std::pair<std::string, std::uint16_t>> seeds;
  std::size_t next_seed = 0;
  bool seed_dialing = false;
  bool seed_reached = false;
  bool dialled_in = false;          // a member dialled us (counts as a contact)
  clock::time_point joining_since = clock::now();
  std::uint64_t pause_gen = 0;
  std::unique_ptr<quorum> q;        // leases and down decisions
  bool lease_held = false;          // as of the last check
  clock::time_point lease_lost_since{};
  bool rejoined = false;            // after a rejoin a node never forms a cluster alone
  std::string recorded_view;        // the view last written to the store
  std::shared_ptr<const cluster_view> sessions_view;  // last sent (reused while unchanged)
  heartbeat_channel_ptr channel;    // UDP heartbeats (null: BASP gossip only)
  std::string beat_key = heartbeat_wire::new_key();  // HMAC key of our datagrams
  std::map<std::string, beat_peer> beat_peers;
  bool left = false;                // drained and left: inert until the process exits
  clock::time_point last_until{};   // the lease end as of the last check (renewal margins)
  clock::time_point routes_checked{};  // the last check_routes round
};

using self_ptr = membership_actor::stateful_pointer<membership_state>;

const std::string& self_name(self_ptr self) { return self->state.init.self.name; }
const member_info& self_info(self_ptr self) { return *self->state.view.find(self_name(self)); }
caf::actor my_directory(self_ptr self) { return caf::actor_cast<caf::actor>(self->state.init.directory); }
caf::actor my_replica(self_ptr self) { return caf::actor_cast<caf::actor>(self->state.init.replica); }

void on_view_changed(self_ptr self);
bool check_lease(self_ptr self, clock::time_point now);

/// Counts a heartbeat from `name` on `channel` (0 BASP, 1 UDP) and the gap
/// since its previous one on that channel (docs/metrics.md).
void note_heartbeat(self_ptr self, const std::string& name, int channel, clock::time_point now) {
  auto& m = metrics();
  m.heartbeats[channel].fetch_add(1, std::memory_order_relaxed);
  auto& last = self->state.beat_peers[name].last[channel];
  if (last != clock::time_point{}) {
    auto gap = std::chrono::duration_cast<std::chrono::microseconds>(now - last).count();
    if (gap > std::chrono::duration_cast<std::chrono::microseconds>(self->state.init.lease).count())
      m.heartbeats_late[channel].fetch_add(1, std::memory_order_relaxed);
    auto& max = m.heartbeat_gap_max_us[channel];
    auto seen = max.load(std::memory_order_relaxed);
    auto g = static_cast<std::uint64_t>(gap > 0 ? gap : 0);
    while (g > seen && !max.compare_exchange_weak(seen, g, std::memory_order_relaxed)) {}
  }
  last = now;
}

void publish_counts(self_ptr self) {
  auto& st = self->state;
  int alive = 0, connected = 0;
  for (auto& [n, m] : st.view.members()) {
    if (n == self_name(self) || m.state == member_state::down) continue;
    ++alive;
    if (auto p = st.peers.find(n); p != st.peers.end() && p->second.handle) ++connected;
  }
  st.init.status->peers = alive;
  st.init.status->peers_connected = connected;
  st.init.status->state = static_cast<int>(self_info(self).state);
}

void set_self_state(self_ptr self, member_state s) {
  auto me = self_info(self);
  if (me.state == s) return;
  me.state = s;
  self->state.view.merge(me);
  spdlog::info("node {} is {}", me.name, member_state_name(s));
  events().publish({{"type", "member_state"}, {"member", me.name}, {"state", member_state_name(s)}});
}

/// One UDP heartbeat to `to` (runtime/heartbeat_wire.hpp), if the channel
/// is up and its address known; true if sent.
bool send_beat(self_ptr self, const std::string& to, std::int64_t ts, std::int64_t echo) {
  auto& st = self->state;
  auto m = st.view.find(to);
  if (!st.channel || !m || m->host.empty() || !m->cluster_port) return false;
  st.channel->send(m->host, m->cluster_port,
                   heartbeat_wire::encode({self_name(self), self_info(self).incarnation, to, ts,
                                           echo, {}},
                                          st.beat_key));
  return true;
}

/// One heartbeat: the view, our clock reading, the echo of the peer's last
/// reading and whom we suspect (runtime/quorum.hpp).
void gossip(self_ptr self) {
  auto& st = self->state;
  auto me = self_info(self);
  me.sessions = st.init.status->active_sessions.load();
  me.connections = metrics().connections.load(std::memory_order_relaxed);
  st.view.merge(me);
  auto now = clock::now();
  auto view = st.view.to_json();
  auto suspects = st.q->suspects(now);
  auto ts = quorum::stamp(now);
  for (auto& [name, p] : st.peers) {
    if (!p.handle) continue;
    auto echo = st.q->echo_for(name, now);
    self->send(p.handle, gossip_atom::value, self_name(self), view, ts, echo, suspects,
               my_directory(self), my_replica(self), st.beat_key);
    // The same ts and echo on the heartbeat channel: it arrives even while
    // the gossip waits behind bulk state in BASP's stream.
    send_beat(self, name, ts, echo);
  }
}

/// A UDP heartbeat: taken only from a connected member of this incarnation,
/// addressed to us, authenticated with the key its gossip gave, and newer
/// than the last one taken (runtime/heartbeat_wire.hpp).
void on_beat(self_ptr self, const std::string& datagram) {
  auto& st = self->state;
  if (st.left) return;
  auto reject = [] { metrics().heartbeats_rejected.fetch_add(1, std::memory_order_relaxed); };
  auto b = heartbeat_wire::decode(datagram);
  if (!b || b->to != self_name(self) || b->from == self_name(self)) return reject();
  auto m = st.view.find(b->from);
  auto p = st.peers.find(b->from);
  auto bp = st.beat_peers.find(b->from);
  if (!m || m->state == member_state::down || m->incarnation != b->incarnation
      || p == st.peers.end() || !p->second.handle || bp == st.beat_peers.end()
      || !heartbeat_wire::verify(*b, bp->second.key) || b->ts <= bp->second.last_ts)
    return reject();
  bp->second.last_ts = b->ts;
  auto now = clock::now();
  note_heartbeat(self, b->from, 1, now);
  st.q->beat(b->from, now, b->ts, b->echo);
  check_lease(self, now);
  // Answer at once with our clock reading and the echo of theirs, at most
  // once per half interval and peer (an answer to an answer is then the
  // last: no ping-pong; a tick, its answer and the answer back are three
  // datagrams). The sender's support from us is then as fresh as its own
  // last heartbeat, not up to one of our ticks older: at its worst moment
  // it holds about a second of lease instead of half a second (lease
  // 1.5 s, interval 0.5 s), and that margin is what a loaded node's late
  // heartbeat eats (stop 47: the survivors' leases lapsed for ~25 ms).
  // The echo follows the quorum's rule (0 while we suspect the peer),
  // exactly as in a tick's heartbeat.
  if (now - bp->second.answered > st.init.heartbeat_interval / 2
      && send_beat(self, b->from, quorum::stamp(now), st.q->echo_for(b->from, now))) {
    bp->second.answered = now;
    metrics().heartbeats_answered.fetch_add(1, std::memory_order_relaxed);
  }
}

void peer_up(self_ptr self, const std::string& name, membership_actor handle, peer_handles actors) {
  auto& st = self->state;
  auto& p = st.peers[name];
  if (p.handle && p.handle != handle) self->demonitor(p.handle.address());
  p.handle = std::move(handle);
  p.actors = std::move(actors);
  p.connecting = false;
  st.q->connected(name, true, clock::now());
  st.beat_peers[name].last = {clock::now(), clock::now()};  // gaps count within a connection
  self->monitor(p.handle);
  spdlog::info("peer {} connected", name);
  events().publish({{"type", "member_up"}, {"member", name}});
  metrics().membership_changes.fetch_add(1, std::memory_order_relaxed);
}

void declare_down(self_ptr self, const std::string& name, const char* why) {
  auto& st = self->state;
  if (auto p = st.peers.find(name); p != st.peers.end()) {
    if (p->second.handle) self->demonitor(p->second.handle.address());
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

/// Stops every local activation without releasing anything (their clients
/// resume elsewhere), forgets the cached epochs and joins the cluster again
/// as a new incarnation (after a pause or being declared down).
void rejoin(self_ptr self, const char* why) {
  auto& st = self->state;
  spdlog::warn("node {} rejoins as a new incarnation: {}", self_name(self), why);
  events().publish({{"type", "rejoin"}, {"member", self_name(self)}, {"reason", why}});
  self->send(st.init.directory, reset_atom::value,
             make_error(skein_error::rejoining, "node rejoining the cluster"), true);
  self->send(st.init.replica, reset_atom::value);
  st.rejoined = true;
  // Everything known becomes a seed: a node started without seeds must
  // still find its way back.
  for (auto& [n, m] : st.view.members())
    if (n != self_name(self)) {
      auto addr = std::make_pair(m.host, m.cluster_port);
      if (std::find(st.seeds.begin(), st.seeds.end(), addr) == st.seeds.end())
        st.seeds.push_back(addr);
    }
  for (auto& [_, p] : st.peers)
    if (p.handle) self->demonitor(p.handle.address());
  st.peers.clear();
  auto me = st.init.self;
  me.incarnation = static_cast<std::uint64_t>(std::max<std::int64_t>(
    wall_ms(), static_cast<std::int64_t>(self_info(self).incarnation) + 1));
  me.state = member_state::joining;
  st.init.self = me;
  // The new incarnation keeps the last known membership: its quorum and its
  // "connected to every member known alive" test (joining -> up) are taken
  // over it, and the members' gossip updates it. Starting from an empty view
  // let two nodes of a minority that both rejoined during a partition reach
  // each other as seeds, see a view of two, hold a quorum of 2 of 2 and
  // serve beside the majority (nemesis seed 9713: {n1,n2} up with a lease
  // while {n3,n4,n5} held one, and they never dialled each other again).
  auto last = std::move(st.view);
  st.view = membership{};
  st.view.merge(me);
  for (auto& [n, m] : last.members())
    if (n != me.name) st.view.merge(m);
  st.seed_reached = false;
  st.dialled_in = false;
  st.seed_dialing = false;
  st.next_seed = 0;
  st.joining_since = clock::now();
  st.pause_gen = liveness::generation();
  on_view_changed(self);
}

/// True (after rejoining) if the process was paused since we last looked.
bool check_pause(self_ptr self) {
  if (liveness::generation() == self->state.pause_gen) return false;
  rejoin(self, "the process was paused longer than the failure timeout");
  return true;
}

/// Records the view in the store when it changed (counts left out), so that
/// a restarted process starts from it (restore_view).
void record_view(self_ptr self) {
  auto& st = self->state;
  if (!st.init.committer) return;
  membership v;
  for (auto [_, m] : st.view.members()) {
    m.sessions = 0;
    m.connections = 0;
    v.merge(m);
  }
  auto text = v.to_json();
  if (text == st.recorded_view) return;
  st.recorded_view = text;
  persistence::write_batch b;
  b.put_meta(persistence::membership_meta_key, text);
  st.init.committer->submit(std::move(b), [](const std::string& err) {
    if (!err.empty()) spdlog::warn("cannot record the cluster membership: {}", err);
  });
}

/// A restarted process starts from the membership its store recorded, as an
/// in-process rejoin keeps its last view: it is up only once connected to
/// every member that view calls alive (or once a quorum has declared the
/// missing ones down), and it never forms a cluster alone. Starting from its
/// seeds alone let two restarted nodes of a minority that reach only each
/// other see a view of two and hold a quorum of 2 of 2 beside the majority.
void restore_view(self_ptr self) {
  auto& st = self->state;
  if (st.init.last_view.empty()) return;
  membership last;
  try {
    last = membership::from_json(st.init.last_view);
  } catch (const std::exception& e) {
    spdlog::warn("the recorded cluster membership is unreadable ({}): starting from the seeds",
                 e.what());
    return;
  }
  if (!last.find(self_name(self))) {
    spdlog::warn("the recorded cluster membership does not list {} (was the node renamed?): "
                 "starting from the seeds", self_name(self));
    return;
  }
  std::size_t alive = 0;
  for (auto& [n, m] : last.members()) {
    if (n == self_name(self)) continue;
    st.view.merge(m);
    if (m.state == member_state::down) continue;
    ++alive;
    auto addr = std::make_pair(m.host, m.cluster_port);
    if (std::find(st.seeds.begin(), st.seeds.end(), addr) == st.seeds.end())
      st.seeds.push_back(addr);
  }
  if (alive == 0) return;  // alone before: a fresh start
  st.rejoined = true;
  spdlog::info("starting from the recorded membership: {} other member(s) alive in it", alive);
}

void merge_view(self_ptr self, const std::string& from, const std::string& view_json) {
  try {
    if (self->state.view.merge(membership::from_json(view_json))) on_view_changed(self);
  } catch (const std::exception& e) {
    spdlog::warn("bad view from {}: {}", from, e.what());
  }
}

/// membership -> a detached prober: is host:port reachable? (runtime/tcp_probe.hpp)
using probe_atom = caf::atom_constant<caf::atom("probe")>;

/// How long a dial's reachability probe may take.
constexpr auto probe_timeout = std::chrono::milliseconds(1000);

void dial_reachable(self_ptr self, const std::string& host, std::uint16_t port,
                    std::string expected, std::function<void(bool)> done);

void dial(self_ptr self, const std::string& host, std::uint16_t port, std::string expected,
          std::function<void(bool)> done) {
  // The middleman connects with a blocking connect(2), one dial at a time:
  // probe first, so that a host whose packets are dropped never reaches it
  // (runtime/tcp_probe.hpp). Not over TLS: libcaf-openssl's acceptor and
  // skein's half-open handshake reaper treat the probe's empty connection
  // as a failed handshake (cluster.tls failed with it), so a TLS cluster
  // still waits out a dial into a partition (docs/operations.md).
  if (self->state.init.tls) return dial_reachable(self, host, port, std::move(expected), std::move(done));
  auto prober = self->spawn<caf::detached>([](caf::event_based_actor* p) -> caf::behavior {
    return {[p](probe_atom, const std::string& h, std::uint16_t port) {
      p->quit();
      return tcp_probe(h, port, probe_timeout);
    }};
  });
  self->request(prober, probe_timeout + std::chrono::seconds(1), probe_atom::value, host, port)
    .then(
      [self, host, port, expected, done](bool reachable) {
        if (!reachable) return done(false);
        dial_reachable(self, host, port, expected, done);
      },
      [done](caf::error&) { done(false); });
}

/// True (and the actor quits with skein_error::misrouted) if the answer now
/// being handled came from another node than the one `asked` lives on.
///
/// Nothing skein sends is forwarded or delegated between nodes, so such an
/// answer means this process's BASP routing table sends that node's
/// messages down another node's connection. CAF 0.17.6 gets there when a
/// socket descriptor is reused before the cleanup of the connection that
/// last held it has run (basp_broker defers it through its worker queue,
/// and routing_table::add_direct does not overwrite a stale handle):
/// nemesis seed 6270 (stop 61) after a partition and an 8.6 s SIGSTOP, where
/// every dial of n1 to n5 was answered by n2 for as long as the run lasted.
/// A message there reaches whatever actor of the wrong node has the same
/// actor id (every node spawns its directory, replica and membership in the
/// same order), and CAF 0.17 offers no call that drops a route, so the
/// process cannot mend it: the node exits 75 (node.cpp) for its supervisor
/// to restart it, as after a crash.
bool misrouted(self_ptr self, const membership_actor& asked, const std::string& name) {
  const auto& from = self->current_sender();
  if (!from || !asked || from->node() == asked.node()) return false;
  spdlog::critical("a message to the membership actor of node {} was answered by {} ({}): "
                   "this process's cluster routing is corrupt; exiting to be restarted",
                   caf::to_string(asked.node()), name, caf::to_string(from->node()));
  self->quit(make_error(skein_error::misrouted, "a message to " + caf::to_string(asked.node())
                                                   + " was answered by " + name));
  return true;
}

void dial_reachable(self_ptr self, const std::string& host, std::uint16_t port,
                    std::string expected, std::function<void(bool)> done) {
  // One connection per pair (the smaller name dials) also over TLS: two
  // nodes that both dial each other over libcaf-openssl stall their requests.
  auto mm = self->state.init.tls ? self->system().openssl_manager().actor_handle()
                                 : self->system().middleman().actor_handle();
  self->request(mm, std::chrono::seconds(3), caf::connect_atom::value, host, port)
    .then(
      [self, expected, done](caf::node_id&, caf::strong_actor_ptr& ptr, std::set<std::string>&) {
        auto handle = caf::actor_cast<membership_actor>(ptr);
        if (!handle) return done(false);
        self->request(handle, std::chrono::seconds(3), hello_atom::value, self_name(self),
                      self->state.view.to_json(), caf::actor_cast<caf::actor>(self),
                      my_directory(self), my_replica(self))
          .then(
            [self, handle, expected, done](std::string& name, std::string& view_json,
                                           caf::actor& directory, caf::actor& replica) {
              if (misrouted(self, handle, name)) return done(false);
              if (!expected.empty() && name != expected) {
                spdlog::error("member {} answers as {}; check the addresses", expected, name);
                return done(false);
              }
              if (name == self_name(self)) return done(false);  // dialed ourselves
              peer_up(self, name, handle, {directory, replica});
              merge_view(self, name, view_json);
              on_view_changed(self);
              done(true);
            },
            [done](caf::error&) { done(false); });
      },
      [done](caf::error&) { done(false); });
}

/// Of each pair of alive members, the one with the smaller name dials.
void connect_peer(self_ptr self, const std::string& name) {
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

void dial_next_seed(self_ptr self) {
  auto& st = self->state;
  if (st.seed_dialing || st.seeds.empty()) return;
  // The next seed that is neither this node nor a connected member (a
  // second connection to a connected peer is what CAF 0.17 mishandles).
  auto connected = [&](const std::string& host, std::uint16_t port) {
    for (auto& [n, p] : st.peers)
      if (auto m = st.view.find(n); p.handle && m && m->host == host && m->cluster_port == port)
        return true;
    return false;
  };
  std::string host;
  std::uint16_t port = 0;
  for (std::size_t i = 0; i < st.seeds.size() && port == 0; ++i) {
    auto& s = st.seeds[st.next_seed++ % st.seeds.size()];
    if (s.first == st.init.self.host && s.second == st.init.self.cluster_port) continue;
    if (connected(s.first, s.second)) {
      st.seed_reached = true;  // a contact; the dials go on (see tick)
      continue;
    }
    host = s.first;
    port = s.second;
  }
  if (port == 0) return;
  st.seed_dialing = true;
  dial(self, host, port, {}, [self](bool ok) {
    self->state.seed_dialing = false;
    if (ok) self->state.seed_reached = true;
  });
}

/// True once this node is connected to a member that its view calls up or
/// draining: an established member, which knows the cluster. Until then a
/// joining node goes on dialling its seeds, even after one answered: two
/// members of a minority killed and restarted behind a partition reach each
/// other first, and the majority, which declared their previous
/// incarnations down, never dials them (nemesis seed 25001, stop 25: a
/// restarted {n5,n6} connected to each other, stopped dialling and stayed
/// joining after the heal). Reaching a seed (any member) still counts for
/// becoming up: after a split in which every node rejoined, all are joining
/// and none is established (seed 25106 stayed joining for 90 s when only an
/// established member counted).
bool connected_to_established(self_ptr self) {
  auto& st = self->state;
  for (auto& [n, p] : st.peers) {
    if (!p.handle) continue;
    auto m = st.view.find(n);
    if (m && (m->state == member_state::up || m->state == member_state::draining)) return true;
  }
  return false;
}

/// The value the directory (and through it every session) sees.
cluster_state_ptr snapshot(self_ptr self) {
  auto& st = self->state;
  std::map<std::string, peer_handles> peers;
  for (auto& [n, p] : st.peers)
    if (p.handle) peers.emplace(n, p.actors);
  return make_cluster_state(self_name(self), st.view, std::move(peers), st.init.replicas,
                            st.sessions_view);
}

void on_view_changed(self_ptr self) {
  auto& st = self->state;
  if (st.left) return;  // this incarnation is down by its own word; nothing more to do
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
        if (p->second.handle) self->demonitor(p->second.handle.address());
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
    // forms one alone only if it is the first seed and none answers; after a
    // rejoin it never does: it may be the minority side of a partition, and
    // alone it would hold a quorum of one.
    bool first_seed = !st.init.seeds.empty() && st.init.seeds.front().first == st.init.self.host
                      && st.init.seeds.front().second == st.init.self.cluster_port;
    bool seeded = st.seed_reached || st.dialled_in || (!st.rejoined && st.init.seeds.empty())
                  || (!st.rejoined && first_seed
                      && clock::now() - st.joining_since > st.init.seed_timeout);
    if (all && seeded) set_self_state(self, member_state::up);
  }
  std::vector<std::string> joining;
  for (auto& [name, m] : st.view.members())
    if (m.state == member_state::joining) joining.push_back(name);
  st.q->set_members(st.view.alive(), clock::now(), joining);
  liveness::set_lease_until(st.q->lease_until());  // the transitions happen in check_lease
  self->send(st.init.directory, view_atom::value, snapshot(self));
  gossip(self);
  publish_counts(self);
  record_view(self);
}

/// Publishes the quorum lease. Losing it stops every activation (clients
/// resume on the majority side); without it for longer than the others need
/// to declare this node down, the node rejoins as a new incarnation. Returns
/// true if it rejoined.
bool check_lease(self_ptr self, clock::time_point now) {
  auto& st = self->state;
  auto until = st.q->lease_until();
  liveness::set_lease_until(until);
  const bool held = now < until;
  // A renewal while held: how much of the lease was left (the margin a
  // later heartbeat would have had to lose it).
  if (held && st.lease_held && st.last_until > now && until > st.last_until
      && until != clock::time_point::max()) {
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(st.last_until - now).count();
    auto& min = metrics().lease_margin_min_us;
    auto seen = min.load(std::memory_order_relaxed);
    while ((seen < 0 || left < seen) && !min.compare_exchange_weak(seen, left, std::memory_order_relaxed)) {}
  }
  st.last_until = until;
  if (held == st.lease_held) {
    if (!held && self_info(self).state != member_state::joining
        && now - st.lease_lost_since > st.init.failure_timeout + 2 * st.init.lease) {
      rejoin(self, "no quorum for longer than the failure timeout plus two leases");
      return true;
    }
    return false;
  }
  st.lease_held = held;
  metrics().lease_held.store(held ? 1 : 0, std::memory_order_relaxed);
  // A joining node's lease rests on its peers' connect grace until it is up
  // and gossiping (it activates nothing meanwhile): its lapses are not counted.
  if (!held && self_info(self).state != member_state::joining)
    metrics().leases_lost.fetch_add(1, std::memory_order_relaxed);
  if (held) {
    spdlog::info("node {} holds a quorum lease again", self_name(self));
    events().publish({{"type", "quorum_regained"}, {"member", self_name(self)}});
    on_view_changed(self);
  } else {
    st.lease_lost_since = now;
    spdlog::warn("node {} lost its quorum lease: stops activating and releasing", self_name(self));
    events().publish({{"type", "quorum_lost"}, {"member", self_name(self)}});
    self->send(st.init.directory, reset_atom::value,
               make_error(skein_error::no_quorum, "this node cannot see a majority of the cluster"),
               false);
  }
  return false;
}

/// How often each connected peer's route is checked (check_routes).
constexpr auto route_check_interval = std::chrono::seconds(5);

/// Asks every connected peer's membership for its name, at most every
/// route_check_interval: the answer must come from the peer's node
/// (misrouted()). A dial's hello checks a route once; this catches a route
/// that went astray under a connection that stayed up. An error or a
/// timeout proves nothing (a stall, a peer of an older version) and is
/// ignored.
void check_routes(self_ptr self, clock::time_point now) {
  auto& st = self->state;
  if (now - st.routes_checked < route_check_interval) return;
  st.routes_checked = now;
  for (auto& [name, p] : st.peers) {
    if (!p.handle) continue;
    self->request(p.handle, std::chrono::seconds(3), info_atom::value)
      .then([self, asked = p.handle](std::string& answered) { misrouted(self, asked, answered); },
            [](caf::error&) {});
  }
}

void tick(self_ptr self) {
  auto& st = self->state;
  if (st.left) return;  // no more heartbeats: the peers removed this node
  auto now = clock::now();
  if (!check_pause(self)) {
    // Down only what a quorum has suspected for a lease (runtime/quorum.hpp).
    for (auto& name : st.q->downable(now))
      declare_down(self, name, "suspected by a quorum of the members for the lease time");
    if (check_lease(self, now)) {
      // rejoined: nothing else to do this tick
    } else if (self_info(self).state == member_state::joining) {
      if (!st.seed_reached || !connected_to_established(self)) dial_next_seed(self);
      on_view_changed(self);
    } else {
      for (auto& n : st.view.alive()) connect_peer(self, n);
      // The directory retries failed handoffs on every view it gets.
      self->send(st.init.directory, view_atom::value, snapshot(self));
      publish_counts(self);
      gossip(self);
      check_routes(self, now);
    }
  }
  self->delayed_send(self, st.init.heartbeat_interval, tick_atom::value);
}

/// Graceful leave, after a drain (Akka's Leaving -> Removed): this
/// incarnation marks itself down and hands that view to every connected
/// peer, which drops it from the membership at once instead of suspecting it
/// for a lease after the process exits. A node that holds no session is
/// safe to remove without the quorum's verdict: from here on it neither
/// heartbeats, echoes nor serves (its lease is withdrawn), exactly as if it
/// had crashed, only announced. Without this, a drained node that exited
/// still counted as a member for the lease time, and the survivors of a
/// four-node cluster needed all three of themselves for a quorum: one late
/// heartbeat under load lapsed their leases and stopped every activation
/// (stop 47: 79 of 120 durability-none counters reset). Answers true once
/// every peer acknowledged, false if one did not within a second (it then
/// learns of the leave from the others' gossip, or suspects the node).
caf::result<bool> leave(self_ptr self) {
  auto& st = self->state;
  auto rp = self->make_response_promise<bool>();
  if (st.left) {
    rp.deliver(true);
    return rp;
  }
  set_self_state(self, member_state::down);
  publish_counts(self);
  st.left = true;
  liveness::set_lease_until(clock::time_point{});
  metrics().lease_held.store(0, std::memory_order_relaxed);
  auto view = st.view.to_json();
  struct tally {
    std::size_t pending = 0;
    bool all = true;
  };
  auto t = std::make_shared<tally>();
  for (auto& [_, p] : st.peers)
    if (p.handle) ++t->pending;
  if (t->pending == 0) {
    rp.deliver(true);
    return rp;
  }
  for (auto& [name, p] : st.peers) {
    if (!p.handle) continue;
    self->request(p.handle, std::chrono::seconds(1), leave_atom::value, self_name(self), view)
      .then(
        [t, rp](bool) mutable {
          if (--t->pending == 0) rp.deliver(t->all);
        },
        [t, rp, name](caf::error& e) mutable {
          spdlog::warn("member {} did not acknowledge the leave: {}", name, caf::to_string(e));
          t->all = false;
          if (--t->pending == 0) rp.deliver(t->all);
        });
  }
  return rp;
}

membership_actor::behavior_type membership_fun(self_ptr self, membership_init init) {
  auto& st = self->state;
  st.init = std::move(init);
  st.seeds = st.init.seeds;
  st.view.merge(st.init.self);
  restore_view(self);
  st.pause_gen = liveness::generation();
  st.lease_lost_since = clock::now();
  st.q = std::make_unique<quorum>(self_name(self),
                                  quorum::config{st.init.failure_timeout, st.init.lease});
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    if (st.left) return;
    for (auto& [key, p] : st.peers)
      if (p.handle && p.handle.address() == dm.source) {
        const std::string name = key;  // a copy: erasing the peer frees its key
        // Connection lost: a suspicion, not a verdict. The member is
        // declared down once a quorum has suspected it for the lease
        // (runtime/quorum.hpp); meanwhile the smaller name redials.
        spdlog::warn("member {} unreachable: its membership actor went down (connection lost)",
                     name);
        events().publish({{"type", "member_unreachable"}, {"member", name}});
        st.q->connected(name, false, clock::now());
        st.peers.erase(name);
        st.beat_peers[name].last = {};
        on_view_changed(self);
        return;
      }
  });
  // A gossip that a peer of another version did not take comes back as an
  // error message; CAF's default handler would quit (actors/stray_errors.hpp).
  static stray_error_log stray{"membership"};
  log_stray_errors(self, stray);
  on_view_changed(self);
  self->send(self, tick_atom::value);
  return {
    [self](hello_atom, const std::string& name, const std::string& view_json, caf::actor& handle,
           caf::actor& directory,
           caf::actor& replica) -> caf::result<std::string, std::string, caf::actor, caf::actor> {
      if (name == self_name(self))
        return make_error(skein_error::name_conflict, "hello from a node with my name");
      // A member that dialled us is as good a contact as a seed that
      // answered (a node restarted from its recorded view on a relaunch whose
      // ports all changed reaches no recorded address, but the others dial
      // it); it is still up only once connected to every member known alive.
      // It does not stop the seed dials: members that declared this node's
      // previous incarnation down do not dial it, so it must reach one of
      // them itself (nemesis seed 9905, stop 24: a restarted minority dialled
      // by each other stayed joining after the heal).
      self->state.dialled_in = true;
      peer_up(self, name, caf::actor_cast<membership_actor>(handle), {directory, replica});
      merge_view(self, name, view_json);
      on_view_changed(self);
      return {self_name(self), self->state.view.to_json(), my_directory(self), my_replica(self)};
    },
    [self](gossip_atom, const std::string& name, const std::string& view_json, std::int64_t ts,
           std::int64_t echo, const std::vector<std::string>& suspects, caf::actor& directory,
           caf::actor& replica, const std::string& beat_key) {
      auto& st = self->state;
      if (st.left) return;
      auto now = clock::now();
      if (name != self_name(self)) {
        auto& bp = st.beat_peers[name];
        if (beat_key.size() == heartbeat_wire::key_bytes && beat_key != bp.key) {
          bp.key = beat_key;  // a new process: its datagrams' ts start over
          bp.last_ts = 0;
        }
        note_heartbeat(self, name, 0, now);
      }
      st.q->heard(name, now, ts, echo, suspects);
      check_lease(self, now);
      merge_view(self, name, view_json);
      // A peer that talks to us but that we never registered (its hello
      // answer was lost when both sides dialed at once, e.g. a restarted
      // node dialing its seeds): take its handles from the message, or the
      // pair stays half-connected and a joining node never becomes up.
      auto m = st.view.find(name);
      auto p = st.peers.find(name);
      if (name != self_name(self) && m && m->state != member_state::down
          && (p == st.peers.end() || !p->second.handle))
        if (auto h = caf::actor_cast<membership_actor>(self->current_sender())) {
          peer_up(self, name, std::move(h), {directory, replica});
          on_view_changed(self);
        }
    },
    [self](tick_atom) { tick(self); },
    [self](beat_atom, const std::string& datagram) { on_beat(self, datagram); },
    [self](beat_atom, heartbeat_channel_ptr& channel) { self->state.channel = std::move(channel); },
    [self](drain_atom) {
      set_self_state(self, member_state::draining);
      events().publish({{"type", "drain_started"}, {"member", self_name(self)}});
      on_view_changed(self);
    },
    [self](leave_atom) -> caf::result<bool> { return leave(self); },
    [self](leave_atom, const std::string& name, const std::string& view_json) {
      auto& st = self->state;
      if (st.left || name == self_name(self)) return true;
      // Counted even if a third member's gossip told us first (it merged
      // the leave and gossiped before this request arrived): one request
      // per peer and leave.
      spdlog::info("member {} leaves the cluster (drained)", name);
      metrics().members_left.fetch_add(1, std::memory_order_relaxed);
      events().publish({{"type", "member_left"}, {"member", name}});
      // Its entry in that view is down: on_view_changed drops the peer and
      // the quorum no longer counts it.
      merge_view(self, name, view_json);
      return true;
    },
    [self](check_atom) { if (!self->state.left) check_pause(self); },
    [self](info_atom) -> std::string { return self_name(self); },
  };
}

}  // namespace

membership_actor spawn_membership(caf::actor_system& sys, membership_init init) {
  // Detached: its own thread, so heartbeats are sent and taken on time even
  // while the scheduler's threads are busy with sessions and handoffs (a
  // join into 60,000 sessions queued it long enough for the old members to
  // lose their leases and stop every activation; bench/drain_scale.mjs
  // --mode join, stop 25).
  return sys.spawn<caf::detached>(membership_fun, std::move(init));
}

}  // namespace skein
