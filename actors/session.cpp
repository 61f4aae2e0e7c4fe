// The session actor's behaviour: the message handlers, each wiring one part
// (session_state.hpp lists them), the down and exit handlers, and
// spawn_session. See session.hpp for what the session does.
#include "actors/session.hpp"

#include <caf/all.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/errors.hpp"
#include "actors/lane_barrier.hpp"
#include "actors/liveness.hpp"
#include "actors/session_state.hpp"
#include "actors/stray_errors.hpp"
#include "persistence/committer.hpp"
#include "persistence/keys.hpp"

namespace skein {

namespace {

using namespace session_internal;

/// Passivates the session if it is still idle: a forced snapshot, then the
/// actor stops once it is committed (release() in session_gate.cpp). The
/// directory forgets it on the down message; the next resolve recovers it.
/// `drain`: its node drains; the snapshot waits for every replica (the next
/// owner is the first of them, so it recovers from its own copy). Returns
/// false if the session cannot passivate (a client, a handoff, guarded input).
bool passivate(session_actor* self, bool drain) {
  auto& st = self->state;
  if (!st.clients.empty() || st.m != mode::serving || st.passivating || !st.guarded.empty()
      || releases_at_once(st.options.durable) || runtime_holds(st))
    return false;
  st.passivating = true;
  st.drain_passivating = drain;
  persistence::write_batch batch;
  maybe_snapshot(self, batch, true);
  index_timers(st, batch);  // clears a stale index entry
  gated_output g;
  g.await_replicas = drain;
  if (!batch.empty()) commit(self, std::move(batch), std::move(g));
  release(self);
  // Pending timers: the directory activates the session when the first is
  // due (it forwards to the owner if that is another node, as in a drain).
  if (auto due = wake_due(st)) self->send(st.host, alarm_atom::value, st.key, *due, false);
  return true;
}

/// Durability none, recovered from records (a handoff's copy, or ones left
/// by an earlier durability of the kind): they are erased, since nothing
/// keeps them current and a later activation must not go back to them. The
/// erase needs no gate: nothing of this activation depends on it.
void forget_records(session_actor* self) {
  auto& st = self->state;
  persistence::write_batch batch;
  batch.erase_session(st.key);
  st.snapshots.clear();
  st.committer->submit(std::move(batch), [key = st.key](const std::string& e) {
    if (!e.empty()) spdlog::warn("session {}: its old records were not erased: {}", key, e);
  });
}

}  // namespace

namespace session_internal {

namespace {

/// The first check of an activation's idle countdown comes after this (or
/// idle_ms if shorter): an activation usually starts for a client that
/// joins a moment later, and a check for idle_ms would stay in the clock
/// for the whole idle_ms (300 s by default) after the join made it moot.
constexpr auto first_idle_check = std::chrono::seconds(5);

void send_idle_check(session_actor* self, std::chrono::milliseconds after) {
  auto& st = self->state;
  st.idle_check_armed = true;
  const auto gen = ++st.idle_check_gen;
  if (!st.host) {
    self->delayed_send(self, after, passivate_atom::value, gen);
    return;
  }
  // Through the directory, which forwards it to this activation if it still
  // runs: a delayed message to self would hold the actor (its receiver and
  // sender are strong references) until it fires, after the actor stopped,
  // which is what a hibernated session must not cost.
  caf::delayed_anon_send(st.host, after, passivate_atom::value, st.key, self->id(), gen);
}

}  // namespace

void became_idle(session_actor* self) {
  auto& st = self->state;
  const bool may = !releases_at_once(st.options.durable);
  if (st.counters) st.counters->idle_since_ms.store(may ? wall_clock_ms() : 0, std::memory_order_relaxed);
  if (!may || st.options.idle_ms == 0) return;
  st.idle_since = clock::now();
  if (st.idle_check_armed) return;  // the check on its way sends the next one
  auto after = std::chrono::milliseconds(st.options.idle_ms);
  if (!st.idle_checked) after = std::min<std::chrono::milliseconds>(after, first_idle_check);
  send_idle_check(self, after);
}

void on_idle_check(session_actor* self) {
  auto& st = self->state;
  st.idle_check_armed = false;
  st.idle_checked = true;
  if (!st.idle_since) return;  // busy since; the next became_idle sends a check
  const auto idle_for = clock::now() - *st.idle_since;
  const auto limit = std::chrono::milliseconds(st.options.idle_ms);
  if (idle_for >= limit) {
    passivate(self, false);
    return;
  }
  send_idle_check(self, std::chrono::ceil<std::chrono::milliseconds>(limit - idle_for));
}

void became_busy(session_actor* self) {
  auto& st = self->state;
  st.idle_since.reset();
  st.passivating = false;  // a final snapshot in flight is harmless
  st.hibernating = false;
  st.last_input = clock::now();
  if (st.drain_passivating) {
    // The directory waits for this passivation: it hands the session off now.
    st.drain_passivating = false;
    self->send(st.host, handed_atom::value, st.key, false);
  }
  if (st.counters) st.counters->idle_since_ms.store(0, std::memory_order_relaxed);
}

}  // namespace session_internal

namespace {

/// A client's connection ended (its down message, after the relay barrier):
/// serving, the client is dropped (its close input); catching up, only the
/// connection is forgotten. A client that has a newer connection keeps it.
void connection_down(session_actor* self, const caf::actor_addr& source) {
  for (auto& [id, m] : self->state.clients)
    if (m.conn && m.conn.address() == source) {
      auto client_id = id;
      if (self->state.m == mode::serving) {
        drop_client(self, client_id);
      } else {
        self->state.catching_up.erase(m.conn);
        forget_conn(self, m.conn);
        m.conn = nullptr;
      }
      return;
    }
}

caf::behavior session_fun(session_actor* self, session_init init) {
  auto& st = self->state;
  st.key = std::move(init.key);
  st.id = std::move(init.id);
  st.logic = std::move(init.recovered.logic);
  st.seq = init.recovered.seq;
  st.journal_seq = init.recovered.journal_seq;
  st.admitted_seq = st.journal_seq;
  st.quarantined = std::move(init.recovered.quarantined);
  st.snapshots.assign(init.recovered.snapshots.begin(), init.recovered.snapshots.end());
  st.delivery = std::move(init.recovered.delivery);
  st.epoch = init.epoch;
  st.options = init.options;
  st.snapshot_phase = static_cast<std::uint32_t>(std::hash<std::string>{}(st.key) % st.options.snapshot_every);
  st.committer = init.committer;
  st.store = init.store;
  st.host = init.host;
  st.lane = init.lane;
  st.relay = init.relay;
  st.adopt_timeout = init.adopt_timeout;
  st.adopt_attempts = init.adopt_attempts;
  st.pause_gen = liveness::generation();
  st.counters = std::move(init.counters);
  st.kind_slot = metrics().kinds.find(std::string_view(st.key).substr(0, st.key.find('/')));
  // Checked by the host before the adopt wrote anything (activation.cpp);
  // a hibernation's are this node's own.
  std::string why;
  if (auto adopted = parse_handoff_clients(init.clients_json, &why)) {
    for (auto& c : *adopted) {
      member m;
      m.params_json = std::move(c.params_json);
      m.token = c.token;
      st.clients.emplace(std::move(c.id), std::move(m));
    }
  } else {
    spdlog::warn("session {}: the clients it was handed are unreadable ({}): none adopted", st.key, why);
  }
  if (st.counters) st.counters->clients.store(static_cast<std::uint32_t>(st.clients.size()));
  set_view(self, init.view);
  if (st.options.durable == durability::none) {
    for (auto& [seq, r] : init.recent)
      if (seq <= st.seq) remember(st, seq, r.target, std::move(r.data));
    // Records whose inputs are all still pending (the guard's first record
    // of each, their handled ones lingering or lost) count as records too.
    if (!st.snapshots.empty() || st.journal_seq != 0 || !init.recovered.pending.empty())
      forget_records(self);
  }
  // Inputs the last activation admitted but did not finish (poison guard).
  run_recovered(self, std::move(init.recovered.pending), init.recovered.poison,
                init.recovered.poison_why);
  start_runtime(self);  // pending timers and tells (session_timers.cpp)
  await_recovered_clients(self);  // their resume grace (session_presence.cpp)
  if (st.clients.empty()) became_idle(self);
  // A connection on another node sent its last inputs and its leave through
  // the lanes; its down message may arrive while they wait in this node's
  // relay (actors/lane_barrier.hpp).
  self->set_down_handler([self](caf::down_msg& dm) {
    // A forwarder watches its node's directory (session_handoff.cpp): when
    // the node stops, nothing is left to forward to it, and lingering would
    // hold the node's shutdown for the linger time.
    if (self->state.m == mode::forwarding && dm.source == self->state.host.address())
      return self->quit();
    after_relay(self, self->state.relay, dm.source,
                [self, source = dm.source] { connection_down(self, source); });
  });
  static stray_error_log stray{"session"};
  log_stray_errors(self, stray);
  self->set_exit_handler([self](caf::exit_msg& em) {
    auto& st = self->state;
    if (em.reason != caf::exit_reason::kill && st.m == mode::serving) {
      persistence::write_batch batch;
      maybe_snapshot(self, batch, true);
      // A lingering handled record goes too (commit() puts it first), even
      // when the snapshot it would come with is already written.
      if (!batch.empty() || st.lingering) commit(self, std::move(batch), gated_output{});
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
      // By id, not only through sync_local: a batch submitted before st.local
      // existed (or in a session that never had one) is known only by this
      // message, and st.local's done need not cover it.
      for (auto& g : st.gate)
        if (g.commit == id) g.local_done = true;
      st.lag.local_done(id, clock::now());
      sync_local(st);  // batches before id that were done without a message
      if (!st.catching_up.empty()) read_after_commits(self);
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
    [self](publish_atom, std::string& client, bool keyed, std::string& body, caf::actor& reply_to) {
      on_publish(self, client, keyed, std::move(body), reply_to);
    },
    [self](members_atom, std::shared_ptr<const cluster_view>& view) { set_view(self, view); },
    [self](passivate_atom, std::uint64_t gen) {
      auto& st = self->state;
      if (gen == drain_passivation) {
        if (!passivate(self, true)) self->send(st.host, handed_atom::value, st.key, false);
        return;
      }
      if (gen == 0) passivate(self, false);
      else if (st.idle_check_armed && gen == st.idle_check_gen) on_idle_check(self);
    },
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
    [self](timer_atom, std::uint64_t id) { on_timer(self, id); },
    [self](tell_atom, const std::string& from, std::uint64_t id, const std::string& payload,
           const caf::actor& reply_to) { receive_tell(self, from, id, payload, reply_to); },
    [self](ack_atom, std::uint64_t, std::uint64_t id, const std::string& error) {
      tell_acked(self, id, error);  // the receiver of a tell made it durable
    },
    [self](grace_atom) { on_grace(self); },
    [self](leasewait_atom) {
      // Inputs stay in the gate (in order) until this tick sees the lease.
      if (!liveness::lease_held()) {
        if (clock::now() - self->state.lease_wait_since > lease_wait_limit)
          return fenced(self, "no quorum lease for 1.5 s; the cluster may move this session");
        self->delayed_send(self, lease_wait_tick, leasewait_atom::value);
        return;
      }
      self->state.lease_wait_armed = false;
      release(self);
    },
    [self](hibernate_atom) { on_hibernate_check(self); },
    [self](resend_atom) { resend_overdue(self); },
    [self](linger_handled_atom) {
      self->state.linger_armed = false;
      flush_lingering(self);
    },
    [self](tellretry_atom) {
      self->state.tell_retry_armed = false;
      pump_tells(self);
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
