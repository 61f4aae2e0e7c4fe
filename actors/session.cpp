#include "actors/session.hpp"

#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/apply.hpp"
#include "actors/atoms.hpp"
#include "actors/errors.hpp"
#include "actors/liveness.hpp"
#include "actors/metrics.hpp"
#include "actors/replication_lag.hpp"
#include "persistence/committer.hpp"
#include "persistence/keys.hpp"
#include "persistence/records.hpp"
#include "persistence/store.hpp"

namespace skein {

namespace {

using clock = std::chrono::steady_clock;

std::int64_t wall_clock_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string frame_text(std::uint64_t seq, const std::string& data) {
  return "{\"seq\":" + std::to_string(seq) + ",\"data\":" + data + "}";
}

struct gated_frame {
  std::uint64_t seq = 0;
  std::string target;           // "" = all
  std::vector<caf::actor> to;   // recipients attached when produced (or resumed since)
  std::string frame;
};

/// One input's batch: its frames wait here until it is durable enough.
struct gated_output {
  std::uint64_t commit = 0;
  clock::time_point handled;
  bool local_done = false;
  std::map<std::string, caf::actor> replicas;  // replica acks still missing: name -> host sent to
  std::string bytes;               // the encoded batch, re-sent to a replica new to the set
  std::vector<gated_frame> frames;
};

struct member {
  std::string params_json;
  caf::actor conn;                         // null while detached (after a handoff)
  std::uint64_t next_cseq = 0;             // 0: not known yet
  std::map<std::uint64_t, std::string> early;  // messages that overtook others
  std::uint64_t leave_at = 0;              // leave once next_cseq reaches it
};

/// An input received while handing off, forwarded in order afterwards.
struct stashed {
  enum { join, message, leave } kind;
  std::string client, params, text;
  caf::actor conn;
  std::uint64_t last_seq = 0, cseq = 0;
  bool resume = false;
  bool fresh_conn = false;  // join only: the connection has sent nothing yet
};

enum class mode { serving, handing_off, forwarding };

struct session_state {
  static inline const char* name = "skein.session";
  std::string key, id;
  std::shared_ptr<behaviour_instance> logic;
  std::uint64_t seq = 0;          // last event seq
  std::uint64_t journal_seq = 0;  // last journal seq
  std::uint64_t epoch = 0;
  kind_options options;
  persistence::committer* committer = nullptr;
  const persistence::store* store = nullptr;
  caf::actor host;
  std::shared_ptr<const cluster_view> view;
  std::vector<std::string> replicas;
  std::map<std::string, caf::actor> replica_hosts;  // the host each replica was last sent to
  std::deque<snapshot_mark> snapshots;
  std::uint32_t inputs_since_snapshot = 0;
  clock::time_point last_snapshot = clock::now();
  std::map<std::string, member> clients;
  std::deque<gated_output> gate;
  std::uint64_t next_commit = 1;
  replication_lag_tracker lag;
  std::size_t kind_slot = kind_table::other;         // in metrics().kinds
  std::shared_ptr<session_counters> counters;        // read by the host
  std::uint64_t pause_gen = 0;
  std::mt19937_64 seeder{std::random_device{}()};
  // handoff
  mode m = mode::serving;
  caf::actor target_host;
  std::string target_name;
  bool pinned = false;
  bool shipping = false;
  std::vector<stashed> stash;
  caf::actor successor;
  std::uint64_t forwarded = 0;
};

using session_actor = caf::stateful_actor<session_state>;

void handle_stashed(session_actor* self, stashed s);

void fenced(session_actor* self, const std::string& why) {
  spdlog::warn("session {} (epoch {}) stops: {}", self->state.key, self->state.epoch, why);
  self->quit(make_error(skein_error::fenced, "fenced: " + why));
}

void maybe_snapshot(session_actor* self, persistence::write_batch& batch, bool force) {
  auto& st = self->state;
  if (st.inputs_since_snapshot == 0) return;
  auto now = clock::now();
  if (!force && st.inputs_since_snapshot < st.options.snapshot_every
      && now - st.last_snapshot < std::chrono::milliseconds(st.options.snapshot_interval_ms))
    return;
  batch.put_snapshot(st.key, persistence::snapshot_record{st.seq, st.journal_seq, st.epoch,
                                                          wall_clock_ms(), st.logic->snapshot()});
  st.snapshots.push_back({st.journal_seq, st.seq});
  st.inputs_since_snapshot = 0;
  st.last_snapshot = now;
  bool dropped = false;
  while (st.snapshots.size() > st.options.keep_snapshots) {
    batch.erase(persistence::column::snapshots,
                persistence::seq_key(st.key, st.snapshots.front().journal_seq));
    st.snapshots.pop_front();
    dropped = true;
  }
  if (!dropped && st.snapshots.size() > 1) return;
  const auto& oldest = st.snapshots.front();
  batch.erase_range(persistence::column::journal, persistence::seq_key(st.key, 0),
                    persistence::seq_key(st.key, oldest.journal_seq + 1));
  std::uint64_t keep_from = st.seq > st.options.outbox_keep ? st.seq - st.options.outbox_keep : 0;
  std::uint64_t upto = std::min(oldest.seq, keep_from);
  if (upto > 0)
    batch.erase_range(persistence::column::outbox, persistence::seq_key(st.key, 0),
                      persistence::seq_key(st.key, upto + 1));
}

void ship(session_actor* self);

/// Sends every gated frame whose batch is durable enough, in order.
void release(session_actor* self) {
  auto& st = self->state;
  auto now = clock::now();
  while (!st.gate.empty()) {
    auto& g = st.gate.front();
    if (!g.local_done) break;
    if (st.options.durable == durability::replicated && !g.replicas.empty()) break;
    if (!g.frames.empty() && !liveness::unpaused_since(st.pause_gen))
      return fenced(self, "the process was paused; the cluster may have moved this session");
    if (!g.frames.empty() && !liveness::lease_held())
      return fenced(self, "this node lost its quorum lease; the cluster may move this session");
    metrics().commits.fetch_add(1, std::memory_order_relaxed);
    metrics().checkpoint_latency.observe(static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(now - g.handled).count()));
    for (auto& f : g.frames)
      for (auto& conn : f.to) self->send(conn, frame_atom::value, f.frame);
    st.gate.pop_front();
  }
  if (st.gate.empty() && st.m == mode::handing_off && !st.shipping) ship(self);
}

/// Writes `batch` locally and to the replica set; `g` waits for both.
void commit(session_actor* self, persistence::write_batch batch, gated_output g) {
  auto& st = self->state;
  g.commit = st.next_commit++;
  g.handled = clock::now();
  auto me = caf::actor_cast<caf::actor>(self);
  if (!st.replicas.empty() && st.view) {
    auto bytes = batch.encode();
    for (auto& r : st.replicas) {
      auto h = st.view->hosts.find(r);
      if (h == st.view->hosts.end()) continue;
      self->send(h->second, replicate_atom::value, st.key, st.epoch, bytes, me, g.commit);
      g.replicas[r] = h->second;
      st.lag.waiting_on(g.commit, r);
    }
    if (st.options.durable == durability::replicated) g.bytes = std::move(bytes);
  }
  st.gate.push_back(std::move(g));
  st.committer->submit(std::move(batch), [me, id = st.gate.back().commit](const std::string& e) {
    caf::anon_send(me, committed_atom::value, id, e);
  });
}

/// Journals one input, runs it, records and routes its outputs.
void handle_input(session_actor* self, input_kind kind, const std::string& client_id,
                  const std::string& params_json, const std::string& text, bool reset = false) {
  auto& st = self->state;
  auto rec = make_input(kind, client_id, params_json, text, reset);
  rec.time_ms = wall_clock_ms();
  rec.epoch = st.epoch;
  std::vector<output> outs;
  try {
    outs = apply_input(*st.logic, rec, st.id, false, st.seeder());
  } catch (const std::exception& e) {
    // A bug in the behaviour, not bad input: the in-memory state may be
    // half-changed, so this activation stops without journaling the input;
    // the next one recovers from the store.
    spdlog::error("session {}: handler failed, stopping activation: {}", st.key, e.what());
    self->quit(make_error(skein_error::handler_failed, std::string("handler failed: ") + e.what()));
    return;
  }
  persistence::write_batch batch;
  gated_output g;
  const bool immediate = st.options.durable == durability::none;
  for (auto& o : outs) {
    gated_frame f;
    f.target = o.target;
    if (o.target.empty()) {
      for (auto& [_, m] : st.clients)
        if (m.conn) f.to.push_back(m.conn);
    } else if (auto i = st.clients.find(o.target); i != st.clients.end() && i->second.conn) {
      f.to.push_back(i->second.conn);
    }
    auto data = o.data.dump();
    f.seq = ++st.seq;
    f.frame = frame_text(f.seq, data);
    batch.put_outbox(st.key, f.seq, persistence::outbox_record{o.target, std::move(data)});
    if (immediate) {
      for (auto& conn : f.to) self->send(conn, frame_atom::value, f.frame);
    } else {
      g.frames.push_back(std::move(f));
    }
  }
  rec.outputs = static_cast<std::uint32_t>(outs.size());
  rec.last_seq = st.seq;
  batch.put_journal(st.key, ++st.journal_seq, rec);
  ++st.inputs_since_snapshot;
  metrics().inputs.fetch_add(1, std::memory_order_relaxed);
  auto& kc = metrics().kinds.at(st.kind_slot);
  kc.inputs.fetch_add(1, std::memory_order_relaxed);
  if (kind == input_kind::message) kc.messages.fetch_add(1, std::memory_order_relaxed);
  if (st.counters) {
    st.counters->inputs.fetch_add(1, std::memory_order_relaxed);
    st.counters->clients.store(static_cast<std::uint32_t>(st.clients.size()),
                               std::memory_order_relaxed);
  }
  metrics().outbox_events.fetch_add(outs.size(), std::memory_order_relaxed);
  maybe_snapshot(self, batch, false);
  commit(self, std::move(batch), std::move(g));
}

void drop_client(session_actor* self, const std::string& client_id) {
  auto& st = self->state;
  auto i = st.clients.find(client_id);
  if (i == st.clients.end()) return;
  member m = std::move(i->second);
  st.clients.erase(i);
  if (m.conn) self->demonitor(m.conn);
  handle_input(self, input_kind::close, client_id, m.params_json, {});
}

/// Messages of one client are applied in its cseq order, exactly once, even
/// when a handoff made some arrive through the old activation.
void on_message(session_actor* self, const std::string& client_id, std::uint64_t cseq,
                const std::string& text) {
  auto& st = self->state;
  auto i = st.clients.find(client_id);
  if (i == st.clients.end()) {
    spdlog::warn("session {}: message from unknown client {}", st.key, client_id);
    return;
  }
  auto& c = i->second;
  if (cseq == 0)  // a one-shot sender (e.g. an HTTP POST): no ordering to keep
    return handle_input(self, input_kind::message, client_id, c.params_json, text);
  if (c.next_cseq == 0) c.next_cseq = cseq;
  if (cseq < c.next_cseq) return;  // duplicate
  if (cseq > c.next_cseq) {
    c.early.emplace(cseq, text);
    return;
  }
  handle_input(self, input_kind::message, client_id, c.params_json, text);
  // handle_input may have stopped the actor or the client may be gone.
  i = st.clients.find(client_id);
  if (i == st.clients.end()) return;
  ++i->second.next_cseq;
  while (true) {
    i = st.clients.find(client_id);
    if (i == st.clients.end()) return;
    auto& cc = i->second;
    if (cc.leave_at != 0 && cc.next_cseq >= cc.leave_at) return drop_client(self, client_id);
    auto e = cc.early.find(cc.next_cseq);
    if (e == cc.early.end()) return;
    auto t = std::move(e->second);
    cc.early.erase(e);
    handle_input(self, input_kind::message, client_id, cc.params_json, t);
    if (auto j = st.clients.find(client_id); j != st.clients.end()) ++j->second.next_cseq;
  }
}

/// A connection of the client leaves. The leave of a connection that a newer
/// one replaced (the client resumed before the old one's leave arrived) is
/// ignored: it must not drop the client from under its new connection.
void on_leave(session_actor* self, const std::string& client_id, std::uint64_t next_cseq,
              const caf::actor& conn) {
  auto& st = self->state;
  auto i = st.clients.find(client_id);
  if (i == st.clients.end()) return;
  auto& c = i->second;
  if (conn && c.conn && conn != c.conn) return;
  if (c.next_cseq != 0 && next_cseq > c.next_cseq) {
    c.leave_at = next_cseq;  // messages still on their way (through a handoff)
    return;
  }
  drop_client(self, client_id);
}

/// A client (re)attaches. Fresh: on_open. Resume: the events after
/// `last_seq` it may see, from the outbox and the gate; a `reset` open if
/// they are no longer there. `fresh_conn`: a connection that never sent a
/// message numbers its messages from cseq 1, whatever the client's previous
/// connection had reached; one re-attaching after a move keeps its numbering.
void on_join(session_actor* self, const std::string& client_id, const std::string& params,
             const caf::actor& conn, std::uint64_t last_seq, bool resume, bool fresh_conn) {
  auto& st = self->state;
  auto& c = st.clients[client_id];
  if (c.conn && c.conn != conn) self->demonitor(c.conn);
  if (fresh_conn) {
    if (c.next_cseq > 1 || !c.early.empty() || c.leave_at != 0)
      spdlog::info("session {}: client {} resumes on a new connection (was at cseq {})", st.key,
                   client_id, c.next_cseq);
    c.next_cseq = 1;
    c.early.clear();
    c.leave_at = 0;
  }
  if (c.params_json.empty()) c.params_json = params;
  c.conn = conn;
  self->monitor(conn);
  if (!resume) return handle_input(self, input_kind::open, client_id, c.params_json, {});
  if (last_seq >= st.seq) return;
  std::vector<std::pair<std::uint64_t, persistence::outbox_record>> stored;
  try {
    stored = st.store->load_outbox(st.key, last_seq + 1);
  } catch (const std::exception& e) {
    spdlog::warn("session {}: outbox unreadable for resume: {}", st.key, e.what());
  }
  std::uint64_t first_gated = st.gate.empty() || st.gate.front().frames.empty()
                                ? st.seq + 1
                                : st.gate.front().frames.front().seq;
  for (auto& g : st.gate)
    if (!g.frames.empty()) {
      first_gated = std::min(first_gated, g.frames.front().seq);
      break;
    }
  std::uint64_t first = stored.empty() ? first_gated : std::min(stored.front().first, first_gated);
  if (first > last_seq + 1) {
    // The gap is older than the outbox: reset, then the current state.
    return handle_input(self, input_kind::open, client_id, c.params_json, {}, true);
  }
  for (auto& [seq, r] : stored) {
    if (seq >= first_gated) break;
    if (r.target.empty() || r.target == client_id)
      self->send(conn, frame_atom::value, frame_text(seq, r.data));
  }
  for (auto& g : st.gate)
    for (auto& f : g.frames)
      if (f.seq > last_seq && (f.target.empty() || f.target == client_id)
          && std::find(f.to.begin(), f.to.end(), conn) == f.to.end())
        f.to.push_back(conn);
}

// ---------------------------------------------------------------- handoff --

/// A batch that replaces the target's copy of this session, plus a snapshot
/// of the state in memory; nullopt (logged) if the store cannot be read: a
/// copy without the journal or outbox must never be shipped.
std::optional<persistence::write_batch> session_copy(session_actor* self) {
  auto& st = self->state;
  persistence::write_batch b;
  try {
    b = st.store->session_copy(st.key);
  } catch (const std::exception& e) {
    spdlog::warn("session {}: copy reads: {}", st.key, e.what());
    return std::nullopt;
  }
  b.put_snapshot(st.key, persistence::snapshot_record{st.seq, st.journal_seq, st.epoch,
                                                      wall_clock_ms(), st.logic->snapshot()});
  return b;
}

std::string clients_json(session_actor* self) {
  auto arr = json::array();
  for (auto& [id, c] : self->state.clients)
    arr.push_back({{"id", id}, {"params", c.params_json}, {"next_cseq", c.next_cseq}});
  return arr.dump();
}

/// The handoff failed: serve again (stashed inputs first) and tell the host.
void abort_handoff(session_actor* self, const std::string& why) {
  auto& st = self->state;
  spdlog::warn("session {}: handoff to {} failed: {}", st.key, st.target_name, why);
  st.m = mode::serving;
  st.shipping = false;
  auto stash = std::move(st.stash);
  st.stash.clear();
  for (auto& s : stash) handle_stashed(self, std::move(s));
  self->send(st.host, handed_atom::value, st.key, false);
}

void ship(session_actor* self) {
  auto& st = self->state;
  st.shipping = true;
  auto copy = session_copy(self);
  if (!copy) return abort_handoff(self, "the session's records cannot be read");
  auto bytes = copy->encode();
  self->request(st.target_host, std::chrono::seconds(10), adopt_atom::value, st.key, st.epoch,
                bytes, clients_json(self), st.pinned)
    .then(
      [self](caf::actor& successor) {
        auto& st = self->state;
        st.successor = successor;
        st.m = mode::forwarding;
        for (auto& s : st.stash) handle_stashed(self, std::move(s));
        st.stash.clear();
        for (auto& [_, c] : st.clients)
          if (c.conn) self->send(c.conn, moved_atom::value, successor);
        self->send(st.host, handed_atom::value, st.key, true);
        spdlog::info("session {} handed off to {}", st.key, st.target_name);
        self->delayed_send(self, std::chrono::seconds(5), linger_atom::value, st.forwarded);
      },
      [self](caf::error& err) { abort_handoff(self, self->system().render(err)); });
}

/// Routes one input by mode: serve it, stash it, or forward it.
void handle_stashed(session_actor* self, stashed s) {
  auto& st = self->state;
  if (st.m == mode::handing_off) {
    st.stash.push_back(std::move(s));
    return;
  }
  if (st.m == mode::forwarding) {
    ++st.forwarded;
    switch (s.kind) {
      case stashed::join:
        self->send(st.successor, join_atom::value, s.client, s.params, s.conn, s.last_seq,
                   s.resume, s.fresh_conn);
        break;
      case stashed::message:
        self->send(st.successor, message_atom::value, s.client, s.cseq, s.text);
        break;
      case stashed::leave:
        self->send(st.successor, leave_atom::value, s.client, s.cseq, s.conn);
        break;
    }
    caf::actor who = s.conn;
    if (!who)
      if (auto i = st.clients.find(s.client); i != st.clients.end()) who = i->second.conn;
    if (who) self->send(who, moved_atom::value, st.successor);
    return;
  }
  switch (s.kind) {
    case stashed::join:
      return on_join(self, s.client, s.params, s.conn, s.last_seq, s.resume, s.fresh_conn);
    case stashed::message: return on_message(self, s.client, s.cseq, s.text);
    case stashed::leave: return on_leave(self, s.client, s.cseq, s.conn);
  }
}

void set_view(session_actor* self, std::shared_ptr<const cluster_view> view) {
  auto& st = self->state;
  st.view = std::move(view);
  auto next = st.view && st.view->replicas_of ? st.view->replicas_of(st.key)
                                              : std::vector<std::string>{};
  // A replica that is new to the set gets a full copy first, then every
  // batch still waiting for acks (the copy holds only what is committed
  // locally), and those batches wait for its ack too: an output is released
  // only once it is on every current replica. One that cannot get the copy
  // (the store cannot be read) stays out of the set until the next view
  // change tries again.
  auto me = caf::actor_cast<caf::actor>(self);
  // A replica is new too when its host changed: a new incarnation under the
  // same name has none of what was sent to the old one.
  for (auto it = next.begin(); it != next.end();) {
    auto h = st.view->hosts.find(*it);
    if (h == st.view->hosts.end()) {
      ++it;
      continue;
    }
    auto known = st.replica_hosts.find(*it);
    if (std::find(st.replicas.begin(), st.replicas.end(), *it) != st.replicas.end()
        && known != st.replica_hosts.end() && known->second == h->second) {
      ++it;
      continue;
    }
    auto copy = session_copy(self);
    if (!copy) {
      it = next.erase(it);
      continue;
    }
    self->send(h->second, replicate_atom::value, st.key, st.epoch, copy->encode(), me,
               std::uint64_t{0});
    // Lag is measured for first sends only: acks owed by a replaced host never come.
    if (known != st.replica_hosts.end()) st.lag.forget(*it);
    st.replica_hosts[*it] = h->second;
    for (auto& g : st.gate)
      if (!g.bytes.empty()) {
        self->send(h->second, replicate_atom::value, st.key, st.epoch, g.bytes, me, g.commit);
        g.replicas[*it] = h->second;
      }
    ++it;
  }
  st.replicas = std::move(next);
  // Acks are no longer awaited only from members declared down: one that is
  // merely unreachable may hold the only copy besides ours, and a node that
  // loses its quorum stops this activation anyway.
  auto alive = [&](const std::string& n) {
    return st.view && std::binary_search(st.view->alive.begin(), st.view->alive.end(), n);
  };
  // An ack is not awaited either from a host that a new incarnation of the
  // same member replaced: the old one is gone for good.
  auto replaced = [&](const std::string& n, const caf::actor& sent_to) {
    if (!st.view) return false;
    auto h = st.view->hosts.find(n);
    return h != st.view->hosts.end() && h->second != sent_to;
  };
  for (auto& g : st.gate)
    for (auto it = g.replicas.begin(); it != g.replicas.end();)
      it = alive(it->first) && !replaced(it->first, it->second) ? std::next(it)
                                                                 : g.replicas.erase(it);
  st.lag.forget_if([&](const std::string& n) { return !alive(n); });
  release(self);
}

caf::behavior session_fun(session_actor* self, session_init init) {
  auto& st = self->state;
  st.key = std::move(init.key);
  st.id = std::move(init.id);
  st.logic = std::move(init.recovered.logic);
  st.seq = init.recovered.seq;
  st.journal_seq = init.recovered.journal_seq;
  st.snapshots.assign(init.recovered.snapshots.begin(), init.recovered.snapshots.end());
  st.epoch = init.epoch;
  st.options = init.options;
  st.committer = init.committer;
  st.store = init.store;
  st.host = init.host;
  st.pause_gen = liveness::generation();
  st.counters = std::move(init.counters);
  st.kind_slot = metrics().kinds.find(std::string_view(st.key).substr(0, st.key.find('/')));
  auto adopted = json::parse(init.clients_json, nullptr, false);
  if (adopted.is_array())
    for (auto& c : adopted) {
      member m;
      m.params_json = c.value("params", std::string("{}"));
      m.next_cseq = c.value("next_cseq", std::uint64_t{0});
      st.clients.emplace(c.value("id", std::string{}), std::move(m));
    }
  if (st.counters) st.counters->clients.store(static_cast<std::uint32_t>(st.clients.size()));
  set_view(self, init.view);
  self->set_down_handler([self](caf::down_msg& dm) {
    for (auto& [id, m] : self->state.clients)
      if (m.conn && m.conn.address() == dm.source) {
        auto client_id = id;
        if (self->state.m == mode::serving) drop_client(self, client_id);
        else m.conn = nullptr;
        return;
      }
  });
  self->set_exit_handler([self](caf::exit_msg& em) {
    auto& st = self->state;
    if (em.reason != caf::exit_reason::kill && st.m == mode::serving) {
      persistence::write_batch batch;
      maybe_snapshot(self, batch, true);
      if (!batch.empty()) commit(self, std::move(batch), gated_output{});
    }
    self->quit(em.reason);
  });
  return {
    [self](join_atom, std::string& client, std::string& params, caf::actor& conn,
           std::uint64_t last_seq, bool resume, bool fresh_conn) {
      handle_stashed(self, stashed{stashed::join, std::move(client), std::move(params), {}, conn,
                                   last_seq, 0, resume, fresh_conn});
    },
    [self](message_atom, std::string& client, std::uint64_t cseq, std::string& text) {
      handle_stashed(self, stashed{stashed::message, std::move(client), {}, std::move(text), {},
                                   0, cseq, false});
    },
    [self](leave_atom, std::string& client, std::uint64_t next_cseq, caf::actor& conn) {
      handle_stashed(self, stashed{stashed::leave, std::move(client), {}, {}, conn, 0, next_cseq,
                                   false});
    },
    [self](committed_atom, std::uint64_t id, const std::string& error) {
      auto& st = self->state;
      if (!error.empty()) {
        // The batch did not reach disk: nothing it gated may be released.
        spdlog::error("session {}: commit failed, stopping: {}", st.key, error);
        self->quit(make_error(skein_error::store_failure, "commit failed: " + error));
        return;
      }
      for (auto& g : st.gate)
        if (g.commit == id) g.local_done = true;
      st.lag.local_done(id, clock::now());
      release(self);
    },
    [self](repl_ack_atom, const std::string& node, std::uint64_t id, const std::string& error) {
      auto& st = self->state;
      if (!error.empty()) return fenced(self, "replica " + node + ": " + error);
      for (auto& g : st.gate)
        if (g.commit == id) g.replicas.erase(node);
      st.lag.acked(id, node, clock::now());
      release(self);
    },
    [self](members_atom, std::shared_ptr<const cluster_view>& view) { set_view(self, view); },
    [self](fence_atom, const std::string&, std::uint64_t epoch) {
      if (epoch > self->state.epoch)
        fenced(self, "a newer activation (epoch " + std::to_string(epoch) + ") exists");
    },
    [self](handoff_atom, caf::actor& target_host, std::string& target, bool pinned) {
      auto& st = self->state;
      if (st.m != mode::serving) return;
      st.m = mode::handing_off;
      st.target_host = target_host;
      st.target_name = target;
      st.pinned = pinned;
      release(self);  // ships once the gate is empty
    },
    [self](linger_atom, std::uint64_t seen) {
      // The forwarder stays while connections still reach it.
      if (self->state.forwarded == seen) self->quit();
      else self->delayed_send(self, std::chrono::seconds(5), linger_atom::value,
                              self->state.forwarded);
    },
  };
}

}  // namespace

caf::actor spawn_session(caf::actor_system& sys, session_init init) {
  return sys.spawn(session_fun, std::move(init));
}

}  // namespace skein
