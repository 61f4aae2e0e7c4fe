// Hibernation (kind option hibernate_ms; as Durable Objects' WebSocket
// hibernation): an activation whose clients are all attached and which has
// had no input for hibernate_ms takes a forced snapshot and stops, while
// its clients' streams stay open.
//
//  - One check timer per activation (not one per input): it fires
//    hibernate_ms after it was armed and re-arms for what is left when an
//    input came meanwhile (last_input).
//  - It hibernates only when nothing is in flight: no gated or guarded
//    input, no resume catching up, no replica copy being made, no tell
//    awaiting its ack, no client detached, early or half-open, serving (not
//    handing off), no timer armed (its delayed message would keep the
//    stopped actor's memory until due).
//  - The final snapshot commits like a passivation's (release() stops the
//    actor once the gate is empty). An input or a join that arrives
//    meanwhile aborts it: the activation serves on.
//  - Then the directory gets (dormant, key, clients json, connections) and
//    each connection (hibernate, directory): it attaches to nothing, and on
//    its client's next message, a leave, the directory's death or a wake it
//    resolves the session again and joins with resume from its last seq.
//  - The next activation adopts the clients from the directory (as after a
//    handoff: open, with the resume grace), and the directory wakes every
//    hibernated connection (runtime/directory.cpp), so a broadcast that
//    activated the session reaches them all; a client that closed while
//    hibernated gets on_close after the grace.
#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/session_state.hpp"

namespace skein::session_internal {

namespace {

/// `committing`: its final snapshot is committed (passivating is set).
bool may_hibernate(const session_state& st, bool committing) {
  if (st.options.hibernate_ms == 0 || releases_at_once(st.options.durable)) return false;
  if (st.clients.empty() || st.m != mode::serving || (st.passivating && !committing)
      || !st.guarded.empty()
      || !st.gate.empty() || !st.catching_up.empty() || !st.pending_copies.empty()
      || !st.awaiting_resume.empty() || !st.stash.empty() || runtime_holds(st)
      // An armed timer is a delayed message to this actor: it would hold
      // the stopped actor's memory until due (the directory wakes a
      // passivated session for its timers; a hibernated one waits for them).
      || !st.armed.empty())
    return false;
  for (auto& [id, c] : st.clients)
    if (!c.conn || !c.opened || !c.early.empty() || c.leave_at != 0) return false;
  return true;
}

void arm(session_actor* self, std::chrono::milliseconds after) {
  auto& st = self->state;
  st.hibernate_armed = true;
  self->delayed_send(self, after, hibernate_atom::value);
}

}  // namespace

void arm_hibernate(session_actor* self) {
  auto& st = self->state;
  if (st.hibernate_armed || st.options.hibernate_ms == 0
      || releases_at_once(st.options.durable) || st.clients.empty())
    return;
  arm(self, std::chrono::milliseconds(st.options.hibernate_ms));
}

void on_hibernate_check(session_actor* self) {
  auto& st = self->state;
  st.hibernate_armed = false;
  if (st.clients.empty() || st.options.hibernate_ms == 0) return;  // passivation's business
  const auto limit = std::chrono::milliseconds(st.options.hibernate_ms);
  const auto quiet = clock::now() - st.last_input;
  if (quiet < limit) {
    arm(self, std::chrono::duration_cast<std::chrono::milliseconds>(limit - quiet)
                + std::chrono::milliseconds(1));
    return;
  }
  if (!may_hibernate(st, false)) {
    arm(self, limit);
    return;
  }
  spdlog::debug("session {}: hibernating ({} clients, no input for {} ms)", st.key,
                st.clients.size(), st.options.hibernate_ms);
  st.passivating = true;
  st.hibernating = true;
  st.hibernate_at = clock::now();
  persistence::write_batch batch;
  maybe_snapshot(self, batch, true);
  index_timers(st, batch);
  if (!batch.empty()) commit(self, std::move(batch), gated_output{});
  release(self);  // stops it at once if nothing was written
}

bool finish_hibernation(session_actor* self) {
  auto& st = self->state;
  st.hibernating = false;
  // The snapshot covers everything handled before hibernate_at; an input
  // or join since (or a client that detached) means the session serves on.
  if (st.last_input > st.hibernate_at || !may_hibernate(st, true)) {
    st.passivating = false;
    arm_hibernate(self);
    return false;
  }
  std::vector<caf::actor> conns;
  conns.reserve(st.clients.size());
  for (auto& [id, c] : st.clients) {
    conns.push_back(c.conn);
    // A monitor lives in the monitored actor: left in place, each kept
    // connection would hold this actor's memory (CAF frees an actor's
    // block with its last weak reference) for as long as it is open.
    self->demonitor(c.conn);
  }
  self->send(st.host, dormant_atom::value, st.key, clients_json(self), conns);
  for (auto& c : conns) self->send(c, hibernate_atom::value, st.host);
  // Pending timers: the directory activates the session when the first is due.
  if (auto due = wake_due(st)) self->send(st.host, alarm_atom::value, st.key, *due, false);
  metrics().hibernations.fetch_add(1, std::memory_order_relaxed);
  return true;
}

}  // namespace skein::session_internal
