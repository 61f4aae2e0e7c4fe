// The gate watch: a batch whose replica ack never comes must not hold a
// session's outputs forever.
//
// BASP loses the messages in flight when a connection drops. A peer that
// reconnects before it is declared down keeps its name, incarnation and
// replica actor, so set_view sees no change and nothing sends that batch
// again: the gate (and with it every client of the session) would wait for
// an ack that is never coming. Every `gate_watch_period` the session checks
// whether its oldest gated batch is still the one it saw last time; if so it
// logs what it waits for and sends the batch again to each replica whose ack
// is missing (replicate is idempotent: the batch is blind puts and deletes at
// the same epoch, acknowledged by commit id). Replicas still waiting for
// their full copy are left to copy_read (session_replicas.cpp).
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/session_state.hpp"

namespace skein::session_internal {

namespace {

constexpr auto gate_watch_period = std::chrono::seconds(3);

}  // namespace

void watch_gate(session_actor* self) {
  auto& st = self->state;
  if (st.gate_watch_armed || st.gate.empty()) return;
  st.gate_watch_armed = true;
  self->delayed_send(self, gate_watch_period, gatecheck_atom::value, st.gate.front().commit);
}

void check_gate(session_actor* self, std::uint64_t commit) {
  auto& st = self->state;
  st.gate_watch_armed = false;
  if (st.gate.empty()) return;
  auto& g = st.gate.front();
  if (g.commit != commit) return watch_gate(self);  // it moved on
  std::string awaited;
  auto me = caf::actor_cast<caf::actor>(self);
  std::size_t resent = 0;
  for (auto& [name, host] : g.replicas) {
    awaited += (awaited.empty() ? "" : ",") + name;
    if (g.bytes.empty() || st.pending_copies.count(name) || !host) continue;
    self->send(host, replicate_atom::value, st.key, st.epoch, g.bytes, me, g.commit);
    ++resent;
  }
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - g.handled);
  spdlog::warn("session {} (epoch {}): batch {} gated for {} ms (local write {}, replica acks "
               "missing: [{}], copies pending: {}); sent again to {} replica(s)",
               st.key, st.epoch, g.commit, waited.count(), g.local_done ? "done" : "pending",
               awaited, st.pending_copies.size(), resent);
  watch_gate(self);
}

}  // namespace skein::session_internal
