// The session's input path and output gate: an input is applied, journaled
// and committed as one batch (with a snapshot and the retention deletes when
// one is due); its acks and frames wait in the gate until the batch is
// committed locally (and, with durability replicated, acknowledged by every
// replica), then go out in order; with the poison guard they go out once the
// input's pending record is (run_input: early release). Frames and acks for
// a connection that is catching up on a resume are held for it
// (session_resume.cpp).
#include <algorithm>
#include <chrono>
#include <optional>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/errors.hpp"
#include "actors/liveness.hpp"
#include "actors/session_state.hpp"
#include "actors/poison.hpp"
#include "persistence/committer.hpp"
#include "persistence/keys.hpp"
#include "persistence/records.hpp"

namespace skein::session_internal {

namespace {

/// Holds a frame for `to` if it is catching up; false if it is not.
bool hold_frame(session_state& st, const caf::actor& to, std::uint64_t seq,
                const std::string& frame) {
  auto c = st.catching_up.find(to);
  if (c == st.catching_up.end()) return false;
  c->second.held.push_back({false, seq, frame});
  return true;
}

}  // namespace

/// Sends a frame to a connection, or holds it while the connection catches up.
void send_frame(session_actor* self, const caf::actor& to, std::uint64_t seq,
                const std::string& frame) {
  if (!hold_frame(self->state, to, seq, frame))
    to_conn(self, to, caf::make_message(frame_atom::value, frame));
}

void send_frames(session_actor* self, const std::vector<caf::actor>& to, std::uint64_t seq,
                 const std::string& frame) {
  if (to.size() == 1) return send_frame(self, to.front(), seq, frame);  // no vector
  std::vector<caf::actor> now;
  now.reserve(to.size());
  for (const auto& conn : to)
    if (!hold_frame(self->state, conn, seq, frame)) now.push_back(conn);
  if (!now.empty()) to_conns(self, now, caf::make_message(frame_atom::value, frame));
}

/// Sends an ack, or holds it (behind the held frames) while `to` catches up.
void send_ack(session_actor* self, const caf::actor& to, std::uint64_t cseq, std::uint64_t id,
              const std::string& error) {
  auto& st = self->state;
  if (auto c = st.catching_up.find(to); c != st.catching_up.end())
    c->second.held.push_back({true, 0, {}, cseq, id, error});
  else
    to_conn(self, to, caf::make_message(ack_atom::value, cseq, id, error));
}

void remember(session_state& st, std::uint64_t seq, const std::string& target, std::string data) {
  if (st.options.outbox_keep == 0) return;
  st.recent.push_back({seq, target, std::move(data)});
  while (st.recent.size() > st.options.outbox_keep) st.recent.pop_front();
}

void fenced(session_actor* self, const std::string& why) {
  spdlog::warn("session {} (epoch {}) stops: {}", self->state.key, self->state.epoch, why);
  self->quit(make_error(skein_error::fenced, "fenced: " + why));
}

void maybe_snapshot(session_actor* self, persistence::write_batch& batch, bool force) {
  auto& st = self->state;
  if (st.inputs_since_snapshot == 0) return;
  auto now = clock::now();
  // Sessions that start together (a benchmark's, or every session a
  // failover re-activates) and get inputs at the same pace would otherwise
  // snapshot, and trim their journal and outbox (two deletes per input), in
  // the same ms: a stall of every commit on the node, 35 ms per 100
  // sessions at 78 inputs/s each (stop 65). snapshot_phase spreads the
  // first snapshot of each activation over one period.
  const std::uint64_t every = st.options.snapshot_every, early = st.snapshot_phase;
  const auto interval = std::chrono::milliseconds(st.options.snapshot_interval_ms
                                                  - st.options.snapshot_interval_ms * early / every);
  if (!force && st.inputs_since_snapshot + early < every && now - st.last_snapshot < interval) return;
  st.snapshot_phase = 0;
  batch.put_snapshot(st.key, persistence::snapshot_record{st.seq, st.journal_seq, st.epoch,
                                                          wall_clock_ms(), st.logic->snapshot(),
                                                          st.delivery.to_records(),
                                                          static_cast<std::uint32_t>(st.logic->state_version()),
                                                          st.logic->runtime.encode()});
  st.snapshots.push_back({st.journal_seq, st.seq});
  st.inputs_since_snapshot = 0;
  st.last_snapshot = now;
  bool dropped = false;
  while (st.snapshots.size() > st.options.keep_snapshots) {
    batch.erase(persistence::column::snapshots,
                persistence::seq_key(st.key, st.snapshots.front().journal_seq));
    st.snapshots.erase(st.snapshots.begin());
    dropped = true;
  }
  if (!dropped && st.snapshots.size() > 1) return;
  const auto& oldest = st.snapshots.front();
  // Each range starts where this activation's previous trim ended: the keys
  // below it are gone, and reading from 0 walked their tombstones again on
  // every trim (docs/benchmarks.md, "Levers of stop 33").
  if (oldest.journal_seq + 1 > st.journal_trimmed) {
    batch.erase_range(persistence::column::journal, persistence::seq_key(st.key, st.journal_trimmed),
                      persistence::seq_key(st.key, oldest.journal_seq + 1));
    st.journal_trimmed = oldest.journal_seq + 1;
  }
  std::uint64_t keep_from = st.seq > st.options.outbox_keep ? st.seq - st.options.outbox_keep : 0;
  std::uint64_t upto = std::min(oldest.seq, keep_from);
  if (upto > 0 && upto + 1 > st.outbox_trimmed) {
    batch.erase_range(persistence::column::outbox, persistence::seq_key(st.key, st.outbox_trimmed),
                      persistence::seq_key(st.key, upto + 1));
    st.outbox_trimmed = upto + 1;
  }
}

/// A durability-none session's effects wait while this node's quorum lease
/// has lapsed, instead of the activation stopping: its state lives only
/// here, so stopping it for a lapse of a few ms (a late heartbeat under
/// load) restarted it empty. Safe for the same reason a fresh activation
/// after the lapse is: nothing is released without the lease, no other
/// node activates the key unless this one is declared down, and then this
/// node rejoins and its directory stops every activation. Durable kinds
/// still stop: they recover from their copies, fenced by a new epoch.
/// Looks again every `lease_wait_tick` (the membership renews the lease on
/// its own ticks, without telling sessions); stops after `lease_wait_limit`.
void wait_for_lease(session_actor* self) {
  auto& st = self->state;
  if (st.lease_wait_armed) return;
  st.lease_wait_armed = true;
  st.lease_wait_since = clock::now();
  metrics().lease_waits.fetch_add(1, std::memory_order_relaxed);
  self->delayed_send(self, lease_wait_tick, leasewait_atom::value);
}

bool gate_holds_effects(const session_state& st) {
  for (const auto& g : st.gate)
    if (!g.acks.empty() || !g.frames.empty()) return true;
  return false;
}

namespace {

/// True if the handled batch of an input released early (its pending record
/// durable, its ack and frames sent) may wait for the session's next batch:
/// it gates nothing (no tells, acks or frames held) and the activation
/// serves on (a handoff, passivation or hibernation writes everything first).
bool lingers(const session_state& st, const gated_output& g) {
  return st.options.handled_linger_ms != 0 && g.acks.empty() && g.frames.empty()
         && g.tells.empty() && g.runs == 0 && !g.await_replicas && st.m == mode::serving
         && !st.passivating;
}

/// True for a reset open: its frames continue above the client's last seq
/// (resume's jump of st.seq), which only its handled record journals (a
/// pending one re-run would number them from the journal's last seq).
bool reset_open(input_kind kind, const persistence::journal_record& rec) {
  if (kind != input_kind::open) return false;
  auto payload = json::parse(rec.payload, nullptr, false);
  return payload.is_object() && payload.value("reset", false);
}

/// Keeps `batch` (a handled batch, see lingers()) for the next commit; a
/// linger_handled_atom writes it on its own if none comes within
/// handled_linger_ms.
void linger(session_actor* self, persistence::write_batch batch) {
  auto& st = self->state;
  if (st.lingering) {
    st.lingering->append(std::move(batch));
  } else {
    st.lingering = std::make_unique<persistence::write_batch>(std::move(batch));
  }
  metrics().handled_lingered.fetch_add(1, std::memory_order_relaxed);
  if (st.linger_armed) return;
  st.linger_armed = true;
  self->delayed_send(self, std::chrono::milliseconds(st.options.handled_linger_ms),
                     linger_handled_atom::value);
}

}  // namespace

/// Sends every gated frame whose batch is durable enough, in order.
void release(session_actor* self) {
  auto& st = self->state;
  auto now = clock::now();
  sync_local(st);
  while (!st.gate.empty()) {
    auto& g = st.gate.front();
    // Replica acks first: a batch that still waits for one needs no word of
    // its local commit yet (the ack's release() reads st.local).
    if ((st.options.durable == durability::replicated || g.await_replicas)
        && (!g.replicas.empty() || g.short_of_replicas))
      break;
    if (!g.local_done && !want_local(st)) break;
    if (!g.local_done) continue;  // want_local() synced a later completion: look again
    const bool effects = !g.frames.empty() || !g.tells.empty();
    if (effects && !liveness::unpaused_since(st.pause_gen))
      return fenced(self, "the process was paused; the cluster may have moved this session");
    if (effects && !liveness::lease_held()) {
      if (st.options.durable == durability::none) return wait_for_lease(self);
      return fenced(self, "this node lost its quorum lease; the cluster may move this session");
    }
    metrics().commits.fetch_add(1, std::memory_order_relaxed);
    metrics().checkpoint_latency.observe(static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(now - g.handled).count()));
    {
      // One relay message per node for this input's acks and frames (the
      // sender's ack and its echo cross the cluster together).
      relay_batch batch(self);
      for (auto& a : g.acks) send_ack(self, a.to, a.cseq, a.id, a.error);
      for (auto& f : g.frames)
        send_frames(self, f.to, f.seq, f.frame);
    }
    const auto runs = g.runs;
    auto tells = std::move(g.tells);
    st.gate.pop_front();
    if (st.gate.empty()) st.gate.shrink_to_fit();  // an idle session keeps no block
    released_tells(self, tells);
    if (runs != 0 && !run_guarded(self, runs)) return;
  }
  if (st.gate.empty() && st.lingering && (st.m == mode::handing_off || st.passivating)) {
    // What a handoff ships and a stopped activation leaves must hold every
    // handled record: write the lingering one first (release() runs again
    // once it is durable).
    flush_lingering(self);
    return;
  }
  if (st.gate.empty() && st.m == mode::handing_off && !st.shipping) ship(self);
  if (st.gate.empty() && st.passivating && st.m == mode::serving) {
    if (st.hibernating) {
      if (!finish_hibernation(self)) return;  // an input came: it serves on
      self->quit();
      return;
    }
    spdlog::debug("session {}: passivated ({})", st.key, st.drain_passivating ? "drain" : "idle");
    metrics().passivations.fetch_add(1, std::memory_order_relaxed);
    self->quit();
  }
}

/// Writes `batch` locally and to the replica set; `g` waits for both.
void commit(session_actor* self, persistence::write_batch batch, gated_output g) {
  auto& st = self->state;
  g.commit = st.next_commit++;
  g.handled = clock::now();
  if (st.options.durable == durability::none) {
    // Nothing is written (options.hpp): what the batch would have held is
    // dropped, and whatever g holds (tells) is released in order at once.
    g.local_done = true;
    st.gate.push_back(std::move(g));
    release(self);
    return;
  }
  if (st.lingering) {
    // The last input's handled batch goes first, in this one write and one
    // replicate message (kind_options::handled_linger_ms); on its own when
    // flush_lingering() sent an empty batch.
    if (!batch.empty()) metrics().handled_coalesced.fetch_add(1, std::memory_order_relaxed);
    st.lingering->append(std::move(batch));
    batch = std::move(*st.lingering);
    st.lingering.reset();
  }
  auto me = caf::actor_cast<caf::actor>(self);
  const bool awaited = st.options.durable == durability::replicated || g.await_replicas;
  g.short_of_replicas = awaited && st.set_short;
  if (g.short_of_replicas) metrics().batches_held_short.fetch_add(1, std::memory_order_relaxed);
  if ((!st.replicas.empty() || !st.pending_copies.empty() || g.short_of_replicas) && st.view) {
    auto bytes = batch.encode();
    for (auto& r : st.replicas) {
      auto h = st.view->hosts.find(r);
      if (h == st.view->hosts.end()) continue;
      to_replica(self, h->second,
                 caf::make_message(replicate_atom::value, st.key, st.epoch, bytes, me, g.commit));
      g.replicas[r] = h->second;
      st.lag.waiting_on(g.commit, r);
    }
    // A replica whose copy is still being read gets this batch after it.
    for (auto& [name, p] : st.pending_copies) {
      p.batches.emplace_back(g.commit, bytes);
      if (st.options.durable == durability::replicated || g.await_replicas)
        g.replicas[name] = p.host;
    }
    if (st.options.durable == durability::replicated || g.await_replicas)
      g.bytes = std::move(bytes);
  }
  const bool awaits = !g.replicas.empty();
  // A batch that waits for replica acks learns of its local commit through
  // st.local, without a message (actors/local_commits.hpp); once st.local
  // exists every batch's completion is recorded there, so its done id
  // covers all earlier batches.
  const bool quiet = awaits && awaited;
  if (quiet && !st.local) st.local = std::make_shared<local_commits>();
  st.gate.push_back(std::move(g));
  if (awaits) arm_resend(self);
  st.committer->submit(std::move(batch), [me, id = st.gate.back().commit, lc = st.local,
                                          quiet](const std::string& e) {
    if (e.empty() && lc && !lc->completed(id) && quiet) {
      metrics().local_commits_unposted.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    caf::anon_send(me, committed_atom::value, id, e);
  });
}

void sync_local(session_state& st) {
  if (!st.local) return;
  const auto done = st.local->done.load();
  if (done <= st.local_seen) return;
  st.local_seen = done;
  for (auto& g : st.gate)
    if (g.commit != 0 && g.commit <= done) g.local_done = true;
  st.lag.local_done_upto(done, st.local->last_done_at());
}

bool want_local(session_state& st) {
  if (!st.local) return false;  // every batch posts its `committed`
  st.local->notify.store(true);
  const auto seen = st.local_seen;
  sync_local(st);
  return st.local_seen != seen;
}

/// Builds one input's record; runs it, or (poison guard) admits it first.
void handle_input(session_actor* self, input_kind kind, const std::string& client_id,
                  const std::string& params_json, const std::string& text, bool reset,
                  const input_origin* origin) {
  auto& st = self->state;
  st.last_input = clock::now();  // hibernation counts from the last input
  auto rec = make_input(kind, client_id, params_json, text, reset);
  rec.time_ms = wall_clock_ms();
  rec.epoch = st.epoch;
  if (kind == input_kind::open) rec.credential = st.delivery.credential(client_id);
  caf::actor reply_to;
  if (origin) {
    rec.token = origin->token;
    rec.cseq = origin->cseq;
    rec.msg_id = origin->id;
    st.delivery.consume(client_id, origin->token, origin->cseq, origin->id, rec.time_ms);
    if (origin->cseq != 0 || origin->id != 0) reply_to = origin->reply_to;
  }
  if (guard_on(st)) return admit_guarded(self, std::move(rec), reply_to);
  run_input(self, std::move(rec), st.journal_seq + 1, reply_to);
}

/// Runs one input's handler; commits its record (journal seq `jseq`) and
/// outputs. Returns false if the activation stopped.
bool run_input(session_actor* self, persistence::journal_record rec, std::uint64_t jseq,
               const caf::actor& reply_to, bool admitted_durable) {
  auto& st = self->state;
  // A pending record carries the time and seed it was admitted with
  // (admit_guarded); one journaled before they were has no seed.
  const bool fixed = rec.status == persistence::input_status::pending && rec.random.size() == 1;
  const std::uint64_t seed = fixed ? rec.random.front() : st.seeder();
  if (!fixed) rec.time_ms = wall_clock_ms();
  rec.random.clear();
  rec.status = persistence::input_status::applied;
  const auto kind = parse_input_kind(rec.kind_of_input);
  const auto first_id = st.logic->runtime.next_id();
  std::vector<output> outs;
  std::string rejected;
  try {
    outs = apply_input(*st.logic, rec, st.id, false, seed, &rejected);
  } catch (const std::exception& e) {
    // A bug in the behaviour, not bad input: the in-memory state may be
    // half-changed, so this activation stops without journaling the input
    // as handled; the next one recovers from the store (with the poison
    // guard, it finds the input pending and quarantines it).
    spdlog::error("session {}: handler failed, stopping activation: {}", st.key, e.what());
    self->quit(make_error(skein_error::handler_failed, std::string("handler failed: ") + e.what()));
    return false;
  } catch (...) {
    // Not a std::exception (apply_input rejects those): treated as above.
    spdlog::error("session {}: handler threw a non-std exception, stopping activation", st.key);
    self->quit(make_error(skein_error::handler_failed, "handler failed: a non-std exception"));
    return false;
  }
  if (kind == input_kind::publish) {
    // The publisher's answer rides on its ack; a keyed publish keeps it in
    // the delivery table (journaled with the input) for a repeat of the key.
    rejected = publish_answer(rec, outs);
    if (rec.msg_id != 0) {
      rec.credential = rejected;
      st.delivery.admit_credential(rec.client, rejected, rec.time_ms);
    }
  }
  persistence::write_batch batch;
  gated_output g;
  // At once only while this node holds its quorum lease and nothing waits
  // for it (order): otherwise through the gate, whose release() holds a
  // durability-none session's effects until the lease is back and stops an
  // async one (a durable kind: it recovers elsewhere from its copies).
  const bool immediate = releases_at_once(st.options.durable) && !st.lease_wait_armed
                         && liveness::lease_held();
  // Early: the input's pending record is durable wherever the handled one
  // would have to be, and it reproduces these outputs (same state, time and
  // seed) on whichever node runs it next after a crash. So its ack and
  // frames need not wait for the handled record, provided nothing released
  // before them still waits in the gate (order), and under the same checks
  // release() makes (not paused, lease held). Its tells still wait.
  const bool early = !immediate && admitted_durable && fixed && !gate_holds_effects(st)
                     && liveness::unpaused_since(st.pause_gen) && liveness::lease_held();
  const bool in_memory = st.options.durable == durability::none;
  std::optional<relay_batch> early_batch;  // one relay message per node, as release() sends
  if (early) {
    early_batch.emplace(self);
    metrics().early_releases.fetch_add(1, std::memory_order_relaxed);
  }
  if (reply_to) {
    pending_ack a{reply_to, rec.cseq, rec.msg_id, rejected};
    if (immediate || early) send_ack(self, a.to, a.cseq, a.id, a.error);
    else g.acks.push_back(std::move(a));
  }
  if (kind == input_kind::open)
    if (auto i = st.clients.find(rec.client); i != st.clients.end()) i->second.opened = true;
  for (auto& o : outs) {
    gated_frame f;
    f.target = o.target;
    if (o.target.empty()) {
      for (auto& [_, m] : st.clients)
        if (m.conn && m.opened) f.to.push_back(m.conn);
    } else if (auto i = st.clients.find(o.target); i != st.clients.end() && i->second.conn) {
      f.to.push_back(i->second.conn);
    }
    auto data = o.data.dump();
    f.seq = ++st.seq;
    f.frame = frame_text(f.seq, data);
    if (in_memory)
      remember(st, f.seq, o.target, std::move(data));
    else
      batch.put_outbox(st.key, f.seq, persistence::outbox_record{o.target, std::move(data)});
    if (immediate || early) {
      send_frames(self, f.to, f.seq, f.frame);
    } else {
      g.frames.push_back(std::move(f));
    }
  }
  note_effects(self, kind, g, first_id, immediate);
  rec.outputs = static_cast<std::uint32_t>(outs.size());
  rec.last_seq = st.seq;
  if (st.options.check_state) rec.state_hash = state_hash(st.logic->snapshot());
  st.journal_seq = jseq;
  st.admitted_seq = std::max(st.admitted_seq, jseq);
  if (!in_memory) {
    batch.put_journal(st.key, jseq, rec);
    index_timers(st, batch);
    ++st.inputs_since_snapshot;
  }
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
  if (!in_memory) maybe_snapshot(self, batch, false);
  early_batch.reset();  // the early ack and frames leave before the batch's replicate messages
  if (early && lingers(st, g) && !reset_open(kind, rec)) {
    linger(self, std::move(batch));
    return true;
  }
  commit(self, std::move(batch), std::move(g));
  return true;
}

void flush_lingering(session_actor* self) {
  if (self->state.lingering) commit(self, persistence::write_batch{}, gated_output{});
}

/// Owes `to` an ack for an input that needs no new batch (a duplicate): it
/// goes out once everything before it is released.
void ack_later(session_actor* self, const caf::actor& to, std::uint64_t cseq, std::uint64_t id,
               const std::string& client) {
  auto& st = self->state;
  if (!to) return;
  std::string error;
  if (!st.quarantine_acks.empty())
    if (auto q = st.quarantine_acks.find({client, cseq != 0 ? cseq : id});
        q != st.quarantine_acks.end())
      error = q->second;
  if (st.gate.empty()) {
    send_ack(self, to, cseq, id, error);
    return;
  }
  gated_output g;
  g.local_done = true;
  g.acks.push_back({to, cseq, id, error});
  st.gate.push_back(std::move(g));
}

}  // namespace skein::session_internal
