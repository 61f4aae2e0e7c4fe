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
#include "actors/delivery.hpp"
#include "actors/errors.hpp"
#include "actors/liveness.hpp"
#include "actors/metrics.hpp"
#include "actors/replication_lag.hpp"
#include "persistence/committer.hpp"
#include "persistence/keys.hpp"
#include "persistence/records.hpp"
#include "persistence/store_actor.hpp"
#include "persistence/write_batch.hpp"

namespace skein {

namespace {

using clock = std::chrono::steady_clock;

/// How long a read of the store actor may take before it counts as failed.
constexpr auto store_read_timeout = std::chrono::seconds(30);

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

/// An acknowledgement owed to the sender of an input (actors/delivery.hpp).
struct pending_ack {
  caf::actor to;
  std::uint64_t cseq = 0, id = 0;
  std::string error;
};

/// One input's batch: its acks and frames wait here until it is durable enough.
struct gated_output {
  std::uint64_t commit = 0;
  clock::time_point handled;
  bool local_done = false;
  std::map<std::string, caf::actor> replicas;  // replica acks still missing: name -> host sent to
  std::string bytes;               // the encoded batch, re-sent to a replica new to the set
  std::vector<pending_ack> acks;   // released before the frames
  std::vector<gated_frame> frames;
};

/// An input that overtook an earlier one of its connection.
struct early_input {
  std::uint64_t id = 0;
  std::string text;
  caf::actor reply_to;
};

/// Where an input came from: its connection, number and client message id.
struct input_origin {
  std::uint64_t token = 0, cseq = 0, id = 0;
  caf::actor reply_to;
};

struct member {
  std::string params_json;
  caf::actor conn;                         // null while detached (after a handoff)
  std::uint64_t token = 0;                 // the connection joined (delivery.hpp)
  std::map<std::uint64_t, early_input> early;  // messages that overtook others, by cseq
  std::uint64_t leave_at = 0;              // leave once its next cseq reaches it
};

/// An input received while handing off, forwarded in order afterwards.
struct stashed {
  enum { join, message, leave } kind;
  std::string client, params, text;
  caf::actor conn;          // join/leave: the connection; message: reply_to
  std::uint64_t last_seq = 0, cseq = 0;
  bool resume = false;
  std::uint64_t token = 0;
  std::uint64_t id = 0;     // message: client message id
  std::uint64_t next_unacked = 0;  // join: first cseq the connection saw no ack for
};

/// A frame or an ack for a connection that is catching up, held in order.
struct held_message {
  bool is_ack = false;
  std::uint64_t seq = 0;  // frame: its event seq
  std::string frame;      // frame: its text
  std::uint64_t cseq = 0, id = 0;  // ack
  std::string error;               // ack
};

/// A resuming connection whose missed frames are being read from the
/// outbox (see attach_member): what is sent to it meanwhile is held.
struct catch_up {
  std::string client;
  std::uint64_t request = 0;      // matches the store actor's answer
  std::uint64_t last_seq = 0;     // the client has every frame up to this seq
  std::uint64_t first_gated = 0;  // the first seq not released when the read was sent
  bool reset = false;             // needs a reset, deferred while handing off
  std::vector<held_message> held;
};

/// A replica new to the set whose full copy is being read: it joins
/// st.replicas when the copy is sent.
struct pending_copy {
  caf::actor host;
  std::uint64_t request = 0;  // matches the store actor's answer
  std::vector<std::pair<std::uint64_t, std::string>> batches;  // (commit, bytes) to send after it
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
  persistence::store_actor store;
  caf::actor host;
  std::shared_ptr<const cluster_view> view;
  std::vector<std::string> replicas;
  std::map<std::string, caf::actor> replica_hosts;  // the host each replica was last sent to
  std::map<std::string, pending_copy> pending_copies;  // replicas waiting for their copy
  std::map<caf::actor, catch_up> catching_up;        // resuming connections, by connection
  std::uint64_t next_request = 1;                    // ids of store reads
  std::deque<snapshot_mark> snapshots;
  std::uint32_t inputs_since_snapshot = 0;
  clock::time_point last_snapshot = clock::now();
  std::map<std::string, member> clients;
  delivery_table delivery;                           // per-client dedup, checkpointed
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
                                                          wall_clock_ms(), st.logic->snapshot(),
                                                          st.delivery.to_records()});
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

/// Sends a frame to a connection, or holds it while the connection catches up.
void send_frame(session_actor* self, const caf::actor& to, std::uint64_t seq,
                const std::string& frame) {
  auto& st = self->state;
  if (auto c = st.catching_up.find(to); c != st.catching_up.end())
    c->second.held.push_back({false, seq, frame});
  else
    self->send(to, frame_atom::value, frame);
}

/// Sends an ack, or holds it (behind the held frames) while `to` catches up.
void send_ack(session_actor* self, const caf::actor& to, std::uint64_t cseq, std::uint64_t id,
              const std::string& error) {
  auto& st = self->state;
  if (auto c = st.catching_up.find(to); c != st.catching_up.end())
    c->second.held.push_back({true, 0, {}, cseq, id, error});
  else
    self->send(to, ack_atom::value, cseq, id, error);
}

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
    for (auto& a : g.acks) send_ack(self, a.to, a.cseq, a.id, a.error);
    for (auto& f : g.frames)
      for (auto& conn : f.to) send_frame(self, conn, f.seq, f.frame);
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
  if ((!st.replicas.empty() || !st.pending_copies.empty()) && st.view) {
    auto bytes = batch.encode();
    for (auto& r : st.replicas) {
      auto h = st.view->hosts.find(r);
      if (h == st.view->hosts.end()) continue;
      self->send(h->second, replicate_atom::value, st.key, st.epoch, bytes, me, g.commit);
      g.replicas[r] = h->second;
      st.lag.waiting_on(g.commit, r);
    }
    // A replica whose copy is still being read gets this batch after it.
    for (auto& [name, p] : st.pending_copies) {
      p.batches.emplace_back(g.commit, bytes);
      if (st.options.durable == durability::replicated) g.replicas[name] = p.host;
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
                  const std::string& params_json, const std::string& text, bool reset = false,
                  const input_origin* origin = nullptr) {
  auto& st = self->state;
  auto rec = make_input(kind, client_id, params_json, text, reset);
  rec.time_ms = wall_clock_ms();
  rec.epoch = st.epoch;
  if (kind == input_kind::open) rec.credential = st.delivery.credential(client_id);
  if (origin) {
    rec.token = origin->token;
    rec.cseq = origin->cseq;
    rec.msg_id = origin->id;
  }
  std::vector<output> outs;
  std::string rejected;
  try {
    outs = apply_input(*st.logic, rec, st.id, false, st.seeder(), &rejected);
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
  if (origin) {
    st.delivery.consume(client_id, origin->token, origin->cseq, origin->id, rec.time_ms);
    if (origin->reply_to && (origin->cseq != 0 || origin->id != 0)) {
      pending_ack a{origin->reply_to, origin->cseq, origin->id, rejected};
      if (immediate) send_ack(self, a.to, a.cseq, a.id, a.error);
      else g.acks.push_back(std::move(a));
    }
  }
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
      for (auto& conn : f.to) send_frame(self, conn, f.seq, f.frame);
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
  if (m.conn) {
    self->demonitor(m.conn);
    st.catching_up.erase(m.conn);
  }
  handle_input(self, input_kind::close, client_id, m.params_json, {});
}

/// Owes `to` an ack for an input that needs no new batch (a duplicate): it
/// goes out once everything before it is released.
void ack_later(session_actor* self, const caf::actor& to, std::uint64_t cseq, std::uint64_t id) {
  auto& st = self->state;
  if (!to) return;
  if (st.gate.empty()) {
    send_ack(self, to, cseq, id, std::string{});
    return;
  }
  gated_output g;
  g.local_done = true;
  g.acks.push_back({to, cseq, id, {}});
  st.gate.push_back(std::move(g));
}

/// One input at the head of its connection's order: apply, or acknowledge a
/// repeat. Returns false if the actor stopped or the client is gone.
bool admit(session_actor* self, const std::string& client_id, const input_origin& o,
           const std::string& text, delivery_table::verdict v) {
  auto& st = self->state;
  if (v == delivery_table::verdict::repeat) {
    spdlog::debug("session {}: repeat of id {} (cseq {}) from {}", st.key, o.id, o.cseq, client_id);
    st.delivery.consume(client_id, o.token, o.cseq, o.id, wall_clock_ms());
    ack_later(self, o.reply_to, o.cseq, o.id);
    return true;
  }
  auto i = st.clients.find(client_id);
  if (i == st.clients.end()) return false;
  auto params = i->second.params_json;
  handle_input(self, input_kind::message, client_id, params, text, false, &o);
  // handle_input may have stopped the actor or the client may be gone.
  return st.clients.count(client_id) > 0;
}

/// Applies held inputs of the client's connection that are next in order,
/// and drops the client once a leave's cseq is reached.
void drain_early(session_actor* self, const std::string& client_id) {
  auto& st = self->state;
  while (true) {
    auto i = st.clients.find(client_id);
    if (i == st.clients.end()) return;
    auto& c = i->second;
    const auto next = st.delivery.next_cseq(client_id, c.token);
    if (c.leave_at != 0 && next >= c.leave_at) return drop_client(self, client_id);
    while (!c.early.empty() && c.early.begin()->first < next) c.early.erase(c.early.begin());
    auto e = c.early.find(next);
    if (e == c.early.end()) return;
    auto in = std::move(e->second);
    c.early.erase(e);
    input_origin o{c.token, next, in.id, in.reply_to};
    auto v = st.delivery.classify(client_id, o.token, o.cseq, o.id);
    if (v == delivery_table::verdict::duplicate) {
      ack_later(self, o.reply_to, o.cseq, o.id);
      continue;
    }
    if (v != delivery_table::verdict::apply && v != delivery_table::verdict::repeat) return;
    if (!admit(self, client_id, o, in.text, v)) return;
  }
}

/// Inputs of one client are applied in its connection's cseq order, exactly
/// once, even when a handoff made some arrive through the old activation or
/// a failover made the connection send them again (actors/delivery.hpp).
void on_message(session_actor* self, const std::string& client_id, const input_origin& o,
                std::string text) {
  auto& st = self->state;
  auto i = st.clients.find(client_id);
  if (i == st.clients.end()) {
    // A client that left; a re-sent id is still acknowledged, not applied.
    if (st.delivery.classify(client_id, 0, 0, o.id) == delivery_table::verdict::duplicate && o.id != 0)
      return ack_later(self, o.reply_to, o.cseq, o.id);
    spdlog::warn("session {}: message from unknown client {}", st.key, client_id);
    return;
  }
  auto v = st.delivery.classify(client_id, o.token, o.cseq, o.id);
  switch (v) {
    case delivery_table::verdict::stale:
      spdlog::debug("session {}: input {} of a replaced connection of {} dropped", st.key, o.cseq,
                    client_id);
      return;
    case delivery_table::verdict::duplicate:
      spdlog::debug("session {}: duplicate cseq {} id {} from {}", st.key, o.cseq, o.id, client_id);
      return ack_later(self, o.reply_to, o.cseq, o.id);
    case delivery_table::verdict::early:
      i->second.early.emplace(o.cseq, early_input{o.id, std::move(text), o.reply_to});
      return;
    case delivery_table::verdict::apply:
    case delivery_table::verdict::repeat:
      if (!admit(self, client_id, o, text, v)) return;
      if (o.token != 0 && o.cseq != 0) drain_early(self, client_id);
      return;
  }
}

/// A connection of the client leaves. The leave of a connection that a newer
/// one replaced (the client resumed before the old one's leave arrived) is
/// ignored: it must not drop the client from under its new connection.
void on_leave(session_actor* self, const std::string& client_id, std::uint64_t token,
              std::uint64_t next_cseq, const caf::actor& conn) {
  auto& st = self->state;
  auto i = st.clients.find(client_id);
  if (i == st.clients.end()) return;
  auto& c = i->second;
  if (conn && c.conn && conn != c.conn) return;
  if (token != 0 && c.token != 0 && token != c.token) return;
  const auto expected = st.delivery.next_cseq(client_id, token);
  if (token != 0 && expected != 0 && next_cseq > expected) {
    c.leave_at = next_cseq;  // messages still on their way (through a handoff)
    return;
  }
  drop_client(self, client_id);
}

void attach_member(session_actor* self, const std::string& client_id, const std::string& params,
                   const caf::actor& conn, std::uint64_t last_seq, bool resume);

/// A client (re)attaches. Fresh: on_open. Resume: the events after
/// `last_seq` it may see, from the outbox and the gate; a `reset` open if
/// they are no longer there. A join of a connection the client already
/// replaced (a late one, forwarded through an old activation) is ignored.
void on_join(session_actor* self, const std::string& client_id, const std::string& params,
             const caf::actor& conn, std::uint64_t last_seq, bool resume, std::uint64_t token,
             std::uint64_t next_unacked, const std::string& credential) {
  auto& st = self->state;
  // A connection proves it speaks for the client with the resume token it
  // was given at its first open (one-shot senders, token 0, join as new
  // clients with fresh ids and no token).
  if (token != 0 && !st.delivery.admit_credential(client_id, credential, wall_clock_ms())) {
    spdlog::info("session {}: join as {} refused: wrong resume token", st.key, client_id);
    self->send(conn, deny_atom::value,
               std::string("resume refused: resume_token does not match this client"));
    return;
  }
  if (!st.delivery.attach(client_id, token, next_unacked, wall_clock_ms())) {
    spdlog::debug("session {}: late join of a replaced connection of {} ignored", st.key,
                  client_id);
    return;
  }
  auto& c = st.clients[client_id];
  if (c.conn && c.conn != conn) {
    self->demonitor(c.conn);
    st.catching_up.erase(c.conn);  // what it held goes nowhere: the client reconnected
  }
  if (token != 0 && c.token != token) {
    c.token = token;
    c.early.clear();
    c.leave_at = 0;
  }
  st.delivery.evict([&](const std::string& id) { return st.clients.count(id) > 0; });
  attach_member(self, client_id, params, conn, last_seq, resume);
  if (token != 0) drain_early(self, client_id);
}

// Resume: a client that comes back with `last_seq` must receive, in seq
// order, every frame meant for it with seq > last_seq, exactly once (the
// connection drops a frame whose seq is not above the last one it passed on,
// so a frame that overtakes an older one loses the older one). The missed
// frames come from two places:
//  - the output gate: frames not released yet. When the join is handled, the
//    connection is added to the recipients of every gated frame after
//    last_seq; frames produced later include it as a member. Let first_gated
//    be the seq of the first gated frame at that moment (st.seq + 1 if none).
//  - the outbox: frames below first_gated were all released before the join,
//    so (with durability local or replicated) their batches were committed
//    before it, and a read sent now sees them (store_actor.hpp: a read sees
//    every batch whose committer callback ran before it was sent).
// The outbox read is answered later while inputs go on being committed and
// released. Meanwhile the connection is *catching up*: whatever is released
// to it (frames and acks, in release order) is held in st.catching_up, not
// sent. The answer then sends the stored frames in [last_seq + 1,
// first_gated) -- the ones at or above first_gated, also in the outbox by
// now, are skipped -- followed by the held messages, whose frames all have
// seqs >= first_gated in increasing order (the gate releases in seq order),
// and from then on frames go straight to the connection. Every seq after
// last_seq is thus sent once and in order. If the outbox no longer starts at
// last_seq + 1 (retention trimmed it) or cannot be read, the client gets a
// `reset` open instead, as before: the held frames and the gated ones it was
// added to predate the reset and are dropped; held acks are still sent.
// The catch-up ends without sending anything if the client leaves, its
// connection goes down or is replaced by a newer one, or the session hands
// off (the connection then resumes at the successor, whose copy holds the
// whole outbox); a reset due while handing off waits for the handoff's end.
// With durability none, frames are sent before they are committed, so the
// outbox may miss the newest frames, as before.

/// The seq of the first frame still in the gate (st.seq + 1 if none).
std::uint64_t first_gated(const session_state& st) {
  for (auto& g : st.gate)
    if (!g.frames.empty()) return g.frames.front().seq;
  return st.seq + 1;
}

/// The catching-up connection `conn` gets a reset open instead of its missed frames.
void reset_member(session_actor* self, const caf::actor& conn) {
  auto& st = self->state;
  auto cu = st.catching_up.find(conn);
  if (cu == st.catching_up.end()) return;
  auto done = std::move(cu->second);
  st.catching_up.erase(cu);
  for (auto& h : done.held)
    if (h.is_ack) self->send(conn, ack_atom::value, h.cseq, h.id, h.error);
  for (auto& g : st.gate)
    for (auto& f : g.frames) f.to.erase(std::remove(f.to.begin(), f.to.end(), conn), f.to.end());
  auto m = st.clients.find(done.client);
  if (m == st.clients.end() || m->second.conn != conn) return;
  handle_input(self, input_kind::open, done.client, m->second.params_json, {}, true);
}

/// The outbox read of a catch-up answered (`stored` null: it failed): the
/// stored frames, then the held messages (see above), or a reset.
void end_catch_up(session_actor* self, const caf::actor& conn, std::uint64_t request,
                  const persistence::outbox_ptr& stored) {
  auto& st = self->state;
  auto cu = st.catching_up.find(conn);
  if (cu == st.catching_up.end() || cu->second.request != request) return;  // ended already
  std::uint64_t first = cu->second.first_gated;
  if (stored && !stored->empty()) first = std::min(first, stored->front().first);
  if (first > cu->second.last_seq + 1) {
    // The gap is older than the outbox (or it could not be read): reset,
    // then the current state. Not while handing off: no input is applied then.
    if (st.m == mode::serving) return reset_member(self, conn);
    cu->second.reset = true;
    return;
  }
  auto done = std::move(cu->second);
  st.catching_up.erase(cu);
  std::uint64_t sent = done.last_seq;
  if (stored)
    for (auto& [seq, r] : *stored) {
      if (seq >= done.first_gated) break;
      if (seq <= sent) continue;
      if (r.target.empty() || r.target == done.client)
        self->send(conn, frame_atom::value, frame_text(seq, r.data));
      sent = seq;
    }
  for (auto& h : done.held) {
    if (h.is_ack) {
      self->send(conn, ack_atom::value, h.cseq, h.id, h.error);
    } else if (h.seq > sent) {
      self->send(conn, frame_atom::value, h.frame);
      sent = h.seq;
    }
  }
}

/// The member part of a join: its connection, then on_open or the events it missed.
void attach_member(session_actor* self, const std::string& client_id, const std::string& params,
                   const caf::actor& conn, std::uint64_t last_seq, bool resume) {
  auto& st = self->state;
  auto& c = st.clients[client_id];
  if (c.params_json.empty()) c.params_json = params;
  c.conn = conn;
  self->monitor(conn);
  st.catching_up.erase(conn);  // a join again of the same connection starts over
  if (!resume) return handle_input(self, input_kind::open, client_id, c.params_json, {});
  if (last_seq >= st.seq) return;
  const auto gated_from = first_gated(st);
  for (auto& g : st.gate)
    for (auto& f : g.frames)
      if (f.seq > last_seq && (f.target.empty() || f.target == client_id)
          && std::find(f.to.begin(), f.to.end(), conn) == f.to.end())
        f.to.push_back(conn);
  if (gated_from <= last_seq + 1) return;  // the gate holds everything it missed
  const auto request = st.next_request++;
  st.catching_up[conn] = catch_up{client_id, request, last_seq, gated_from, false, {}};
  self->request(st.store, store_read_timeout, persistence::outbox_atom::value, st.key, last_seq + 1)
    .then(
      [self, conn, request](persistence::outbox_ptr& stored) {
        end_catch_up(self, conn, request, stored);
      },
      [self, conn, request](caf::error& err) {
        spdlog::warn("session {}: outbox unreadable for resume: {}", self->state.key,
                     self->system().render(err));
        end_catch_up(self, conn, request, nullptr);
      });
}

// ---------------------------------------------------------------- handoff --

/// `stored` (a session copy the store actor read) plus a snapshot of the
/// state in memory, encoded: a batch that replaces the target's copy of this
/// session. nullopt (logged) if `stored` does not decode.
std::optional<std::string> with_memory_snapshot(session_actor* self, const std::string& stored) {
  auto& st = self->state;
  persistence::write_batch b;
  try {
    b = persistence::write_batch::decode(stored, st.key);
  } catch (const std::exception& e) {
    spdlog::warn("session {}: copy: {}", st.key, e.what());
    return std::nullopt;
  }
  b.put_snapshot(st.key, persistence::snapshot_record{st.seq, st.journal_seq, st.epoch,
                                                      wall_clock_ms(), st.logic->snapshot(),
                                                      st.delivery.to_records()});
  return b.encode();
}

std::string clients_json(session_actor* self) {
  auto arr = json::array();
  for (auto& [id, c] : self->state.clients)
    arr.push_back({{"id", id}, {"params", c.params_json}, {"token", c.token}});
  return arr.dump();
}

/// The handoff failed: serve again (stashed inputs first) and tell the host.
void abort_handoff(session_actor* self, const std::string& why) {
  auto& st = self->state;
  spdlog::warn("session {}: handoff to {} failed: {}", st.key, st.target_name, why);
  st.m = mode::serving;
  st.shipping = false;
  // Resets of resuming clients that waited for the handoff's end, first.
  std::vector<caf::actor> resets;
  for (auto& [conn, cu] : st.catching_up)
    if (cu.reset) resets.push_back(conn);
  for (auto& conn : resets) reset_member(self, conn);
  auto stash = std::move(st.stash);
  st.stash.clear();
  for (auto& s : stash) handle_stashed(self, std::move(s));
  self->send(st.host, handed_atom::value, st.key, false);
}

void adopt(session_actor* self, const std::string& bytes);

/// The gate is empty and inputs are stashed: read the session's copy, then
/// offer it to the target. A copy without the journal or outbox must never
/// be shipped: a failed read aborts the handoff.
void ship(session_actor* self) {
  auto& st = self->state;
  st.shipping = true;
  self->request(st.store, store_read_timeout, persistence::copy_atom::value, st.key,
                std::uint64_t{0})
    .then(
      [self](std::string& stored) {
        auto copy = with_memory_snapshot(self, stored);
        if (!copy) return abort_handoff(self, "the session's records cannot be read");
        adopt(self, *copy);
      },
      [self](caf::error& err) {
        spdlog::warn("session {}: copy reads: {}", self->state.key, self->system().render(err));
        abort_handoff(self, "the session's records cannot be read");
      });
}

/// Offers the copy to the target host; its new activation takes over.
void adopt(session_actor* self, const std::string& bytes) {
  auto& st = self->state;
  self->request(st.target_host, std::chrono::seconds(10), adopt_atom::value, st.key, st.epoch,
                bytes, clients_json(self), st.pinned)
    .then(
      [self](caf::actor& successor) {
        auto& st = self->state;
        st.successor = successor;
        st.m = mode::forwarding;
        // Resuming connections resume again at the successor: what they hold
        // is dropped (their inputs are re-sent there and acknowledged).
        st.catching_up.clear();
        for (auto& s : st.stash) handle_stashed(self, std::move(s));
        st.stash.clear();
        for (auto& [_, c] : st.clients)
          if (c.conn) self->send(c.conn, moved_atom::value, successor);
        self->send(st.host, handed_atom::value, st.key, true);
        spdlog::info("session {} handed off to {}", st.key, st.target_name);
        self->delayed_send(self, std::chrono::seconds(5), linger_atom::value, st.forwarded);
      },
      [self](caf::error& err) {
        // The target may have fenced the replica set with a newer epoch
        // before it failed (e.g. it lost its lease while activating): serving
        // on at this epoch could release inputs that the next activation,
        // recovering from the fenced copy, never sees. Stop instead; the
        // connections re-resolve and re-send what was not acknowledged.
        auto& st = self->state;
        spdlog::warn("session {}: handoff to {} failed: {}; stopping this activation",
                     st.key, st.target_name, self->system().render(err));
        self->quit(make_error(skein_error::handoff_failed,
                              "handoff to " + st.target_name + " failed"));
      });
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
                   s.resume, s.token, s.next_unacked, s.text);
        break;
      case stashed::message:
        self->send(st.successor, message_atom::value, s.client, s.token, s.cseq, s.id, s.text,
                   s.conn);
        break;
      case stashed::leave:
        self->send(st.successor, leave_atom::value, s.client, s.token, s.cseq, s.conn);
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
      return on_join(self, s.client, s.params, s.conn, s.last_seq, s.resume, s.token,
                     s.next_unacked, s.text);
    case stashed::message:
      return on_message(self, s.client, input_origin{s.token, s.cseq, s.id, s.conn},
                        std::move(s.text));
    case stashed::leave: return on_leave(self, s.client, s.token, s.cseq, s.conn);
  }
}

/// Drops `name` from every gated batch's awaited acks that were owed by `host`.
void forget_acks(session_actor* self, const std::string& name, const caf::actor& host) {
  for (auto& g : self->state.gate)
    if (auto r = g.replicas.find(name); r != g.replicas.end() && r->second == host)
      g.replicas.erase(r);
}

void copy_read(session_actor* self, const std::string& name, std::uint64_t request,
               const std::string* stored);

/// Replica `name` on `host` is new to the set: its full copy is read; until
/// then it stays out of st.replicas, every batch committed meanwhile is kept
/// for it (commit), and with durability replicated the gated batches wait
/// for its ack.
void request_copy(session_actor* self, const std::string& name, const caf::actor& host) {
  auto& st = self->state;
  auto& p = st.pending_copies[name];
  p.host = host;
  p.request = st.next_request++;
  p.batches.clear();
  for (auto& g : st.gate)
    if (!g.bytes.empty()) {
      p.batches.emplace_back(g.commit, g.bytes);
      g.replicas[name] = host;
    }
  self->request(st.store, store_read_timeout, persistence::copy_atom::value, st.key,
                std::uint64_t{0})
    .then(
      [self, name, request = p.request](std::string& stored) {
        copy_read(self, name, request, &stored);
      },
      [self, name, request = p.request](caf::error& err) {
        spdlog::warn("session {}: copy for replica {}: {}", self->state.key, name,
                     self->system().render(err));
        copy_read(self, name, request, nullptr);
      });
}

/// The copy for a new replica was read (`stored` null: it failed). The copy
/// (plus the state in memory) goes first, then every batch committed since
/// the read was requested: the read saw at least what was committed before
/// the request, and the batches after it are applied again on top (blind
/// puts and deletes, so the replica ends as if it had seen each batch once).
/// A replica whose copy cannot be read stays out of the set until the next
/// view change tries again.
void copy_read(session_actor* self, const std::string& name, std::uint64_t request,
               const std::string* stored) {
  auto& st = self->state;
  auto i = st.pending_copies.find(name);
  if (i == st.pending_copies.end() || i->second.request != request) return;  // superseded
  auto p = std::move(i->second);
  st.pending_copies.erase(i);
  std::optional<std::string> copy;
  if (stored && st.m != mode::forwarding) copy = with_memory_snapshot(self, *stored);
  if (!copy) {
    forget_acks(self, name, p.host);
    return release(self);
  }
  auto me = caf::actor_cast<caf::actor>(self);
  self->send(p.host, replicate_atom::value, st.key, st.epoch, *copy, me, std::uint64_t{0});
  for (auto& [commit, bytes] : p.batches)
    self->send(p.host, replicate_atom::value, st.key, st.epoch, bytes, me, commit);
  st.replica_hosts[name] = p.host;
  if (std::find(st.replicas.begin(), st.replicas.end(), name) == st.replicas.end())
    st.replicas.push_back(name);
}

void set_view(session_actor* self, std::shared_ptr<const cluster_view> view) {
  auto& st = self->state;
  st.view = std::move(view);
  auto next = st.view && st.view->replicas_of ? st.view->replicas_of(st.key)
                                              : std::vector<std::string>{};
  auto host_of = [&](const std::string& n) -> caf::actor {
    if (!st.view) return {};
    auto h = st.view->hosts.find(n);
    return h == st.view->hosts.end() ? caf::actor{} : h->second;
  };
  // A copy still being read for a replica that left the set or whose host
  // changed is not needed any more: its batches never went out.
  for (auto it = st.pending_copies.begin(); it != st.pending_copies.end();) {
    if (std::find(next.begin(), next.end(), it->first) != next.end()
        && host_of(it->first) == it->second.host) {
      ++it;
      continue;
    }
    forget_acks(self, it->first, it->second.host);
    it = st.pending_copies.erase(it);
  }
  // A replica that is new to the set gets a full copy first, then every
  // batch still waiting for acks (the copy holds only what is committed
  // locally), and those batches wait for its ack too: an output is released
  // only once it is on every current replica. The copy is read by the store
  // actor (request_copy); the replica joins st.replicas once it is sent.
  // A replica is new too when its host changed: a new incarnation under the
  // same name has none of what was sent to the old one.
  for (auto it = next.begin(); it != next.end();) {
    auto h = host_of(*it);
    if (!h) {
      ++it;
      continue;
    }
    auto known = st.replica_hosts.find(*it);
    if (std::find(st.replicas.begin(), st.replicas.end(), *it) != st.replicas.end()
        && known != st.replica_hosts.end() && known->second == h) {
      ++it;
      continue;
    }
    if (!st.pending_copies.count(*it)) {
      // Lag is measured for first sends only: acks owed by a replaced host never come.
      if (known != st.replica_hosts.end()) st.lag.forget(*it);
      request_copy(self, *it, h);
    }
    it = next.erase(it);
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
  st.delivery = std::move(init.recovered.delivery);
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
      m.token = c.value("token", std::uint64_t{0});
      st.clients.emplace(c.value("id", std::string{}), std::move(m));
    }
  if (st.counters) st.counters->clients.store(static_cast<std::uint32_t>(st.clients.size()));
  set_view(self, init.view);
  self->set_down_handler([self](caf::down_msg& dm) {
    for (auto& [id, m] : self->state.clients)
      if (m.conn && m.conn.address() == dm.source) {
        auto client_id = id;
        if (self->state.m == mode::serving) {
          drop_client(self, client_id);
        } else {
          self->state.catching_up.erase(m.conn);
          m.conn = nullptr;
        }
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
           std::uint64_t last_seq, bool resume, std::uint64_t token, std::uint64_t next_unacked,
           std::string& credential) {
      // join: `text` carries the resume token
      stashed s{stashed::join, std::move(client), std::move(params), std::move(credential), conn,
                last_seq, 0, resume};
      s.token = token;
      s.next_unacked = next_unacked;
      handle_stashed(self, std::move(s));
    },
    [self](message_atom, std::string& client, std::uint64_t token, std::uint64_t cseq,
           std::uint64_t id, std::string& text, caf::actor& reply_to) {
      stashed s{stashed::message, std::move(client), {}, std::move(text), reply_to, 0, cseq, false};
      s.token = token;
      s.id = id;
      handle_stashed(self, std::move(s));
    },
    [self](leave_atom, std::string& client, std::uint64_t token, std::uint64_t next_cseq,
           caf::actor& conn) {
      stashed s{stashed::leave, std::move(client), {}, {}, conn, 0, next_cseq, false};
      s.token = token;
      handle_stashed(self, std::move(s));
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
