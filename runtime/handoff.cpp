// Moving local activations to their owner (runtime/directory.hpp):
// rebalance after a view change, drain, bounded handoffs in flight, the end
// of a handoff, and stopping every activation when the node loses its lease.
#include <spdlog/spdlog.h>

#include "actors/events.hpp"
#include "actors/metrics.hpp"
#include "actors/registry.hpp"
#include "actors/session_key.hpp"
#include "runtime/directory_state.hpp"
#include "runtime/placement.hpp"
#include "runtime/session_host.hpp"

namespace skein::directory_detail {

namespace {

constexpr std::size_t max_handoffs = 64;
/// After a failed handoff, no new attempt for that session before this.
constexpr auto handoff_retry_delay = std::chrono::seconds(1);

/// A retry tick once handoff_retry_delay has passed, unless one is armed:
/// without it a failed handoff waited for the next view change, and a drain
/// whose target refused an adopt never ended.
void arm_retry(self_ptr self) {
  if (self->state.handoff_retry_armed) return;
  self->state.handoff_retry_armed = true;
  self->delayed_send(self, handoff_retry_delay + std::chrono::milliseconds(10),
                     retry_atom::value);
}
constexpr std::size_t max_passivations = 128;

/// An idle session (no client; durable kind) leaves its node by passivation
/// instead of a handoff: a final snapshot that every replica acknowledges,
/// then it stops. The new owner is the first of those replicas and activates
/// it from its own copy when it is next used (as Orleans deactivates grains
/// and Akka's rebalance stops entities). Nothing is shipped in bulk and no
/// fence round trip is paid per session; a drain of 20,000 idle sessions is
/// 20,000 small replicated writes. Only while this node drains: applied to
/// the rebalance after a paused node rejoined (cluster.migration's SIGSTOP
/// case), it lost acknowledged adds in 1 run of 2, not explained yet, so
/// rebalancing on a join or a rejoin still hands every session off.
bool leaves_by_passivation(const local_session& s) {
  return !s.passivation_refused && s.counters
         && s.counters->idle_since_ms.load(std::memory_order_relaxed) != 0;
}

void start_passivation(self_ptr self, local_session& s) {
  s.passivating = true;
  ++self->state.passivations_in_flight;
  caf::anon_send(s.actor, passivate_atom::value, drain_passivation);
}

/// Starts queued moves, at most `max_handoffs` handoffs and `max_passivations`
/// passivations in flight; each key is checked again, since the view or the
/// directory may have changed.
void pump_handoffs(self_ptr self) {
  auto& st = self->state;
  auto up = st.cluster->view.up();
  if (up.empty()) return;
  const bool drain = out_of_placement(self);
  while (!st.to_hand_off.empty()) {
    const auto& key = st.to_hand_off.front();
    auto i = st.sessions.find(key);
    if (i == st.sessions.end() || i->second.handing_off || i->second.passivating
        || (i->second.pinned && !drain)) {
      st.to_hand_off.pop_front();
      continue;
    }
    auto owner = hrw_owner(key, up);
    if (owner == self_name(self)) {
      st.to_hand_off.pop_front();
      continue;
    }
    if (drain && leaves_by_passivation(i->second)) {
      if (st.passivations_in_flight >= max_passivations) break;
      st.to_hand_off.pop_front();
      start_passivation(self, i->second);
    } else {
      if (st.handoffs_in_flight >= max_handoffs) break;
      auto k = std::move(st.to_hand_off.front());
      st.to_hand_off.pop_front();
      start_handoff(self, k, owner, false);
    }
  }
}

void publish_counts(self_ptr self) {
  auto n = static_cast<std::int64_t>(self->state.sessions.size());
  self->state.init.status->active_sessions = static_cast<int>(n);
  metrics().sessions.store(n);
}

}  // namespace

void start_handoff(self_ptr self, const std::string& key, const std::string& target,
                   bool pinned) {
  auto& st = self->state;
  auto i = st.sessions.find(key);
  if (i == st.sessions.end() || i->second.handing_off) return;
  if (clock::now() < i->second.retry_after) return;
  auto target_directory = peer_directory(self, target);
  if (!target_directory) return;
  i->second.handing_off = true;
  ++st.handoffs_in_flight;
  spdlog::debug("handing {} off to {}", key, target);
  caf::anon_send(i->second.actor, handoff_atom::value, target_directory, target, pinned);
}

/// Queues every local activation whose owner changed (all of them while
/// draining) and starts the first handoffs.
void rebalance(self_ptr self) {
  auto& st = self->state;
  auto up = st.cluster->view.up();
  st.to_hand_off.clear();
  if (up.empty()) return;
  const bool drain = out_of_placement(self);
  for (auto& [key, s] : st.sessions) {
    if (s.handing_off || s.passivating || (s.pinned && !drain)) continue;
    if (hrw_owner(key, up) != self_name(self)) st.to_hand_off.push_back(key);
  }
  pump_handoffs(self);
}

/// After the directory changed (a handoff ended, a session stopped): more
/// handoffs, the published counts, and the end of a drain.
void on_directory_changed(self_ptr self) {
  auto& st = self->state;
  pump_handoffs(self);
  publish_counts(self);
  if (draining(self) && st.sessions.empty() && st.activating.empty() && !st.drained_called) {
    st.drained_called = true;
    spdlog::info("node {} drained", self_name(self));
    events().publish({{"type", "drain_finished"}, {"member", self_name(self)}});
    // Leave the cluster before on_drained (which exits the process): the
    // peers drop this node now rather than count it for a lease after it is
    // gone (runtime/membership_actor.cpp, leave).
    auto done = [self] {
      if (self->state.init.on_drained) self->state.init.on_drained();
    };
    if (!st.membership) return done();
    self->request(st.membership, std::chrono::seconds(3), leave_atom::value)
      .then(
        [self, done](bool all) {
          if (!all) spdlog::warn("node {} left the cluster; some peers did not acknowledge",
                                 self_name(self));
          else spdlog::info("node {} left the cluster", self_name(self));
          done();
        },
        [self, done](caf::error& e) {
          spdlog::warn("node {}: leaving the cluster failed ({}); stopping anyway",
                       self_name(self), caf::to_string(e));
          done();
        });
  }
}

void handed(self_ptr self, const std::string& key, bool ok) {
  auto& st = self->state;
  auto i = st.sessions.find(key);
  if (i == st.sessions.end()) return;
  if (i->second.passivating) {
    // It could not passivate (a client joined): hand it off instead.
    i->second.passivating = false;
    i->second.passivation_refused = true;
    if (st.passivations_in_flight > 0) --st.passivations_in_flight;
    st.to_hand_off.push_back(key);
    return on_directory_changed(self);
  }
  if (i->second.handing_off && st.handoffs_in_flight > 0) --st.handoffs_in_flight;
  if (ok) {
    self->demonitor(i->second.actor);
    st.sessions.erase(i);
    metrics().migrations_out.fetch_add(1, std::memory_order_relaxed);
    events().publish({{"type", "migration_out"}, {"session", key}});
  } else {
    i->second.handing_off = false;
    i->second.retry_after = clock::now() + handoff_retry_delay;
    arm_retry(self);
  }
  on_directory_changed(self);
}

void retry_handoffs(self_ptr self) {
  self->state.handoff_retry_armed = false;
  rebalance(self);
}

bool unjournaled(self_ptr self, const std::string& key) {
  auto parsed = session_key::parse(key);
  if (!parsed) return false;
  const std::string kind(parsed->kind());
  const auto& reg = *self->state.init.registry;
  return reg.contains(kind) && reg.options(kind).durable == durability::none;
}

void stop_activations(self_ptr self, const caf::error& why, bool keep_unjournaled) {
  auto& st = self->state;
  std::size_t kept = 0;
  st.handoffs_in_flight = 0;
  st.passivations_in_flight = 0;
  for (auto it = st.sessions.begin(); it != st.sessions.end();) {
    auto& s = it->second;
    if (keep_unjournaled && unjournaled(self, it->first)) {
      // Its handoff or passivation goes on; count it again.
      if (s.handing_off) ++st.handoffs_in_flight;
      if (s.passivating) ++st.passivations_in_flight;
      ++kept;
      ++it;
      continue;
    }
    self->demonitor(s.actor);
    self->send_exit(s.actor, caf::exit_reason::kill);
    it = st.sessions.erase(it);
  }
  if (kept) {
    metrics().lapse_kept.fetch_add(kept, std::memory_order_relaxed);
    spdlog::info("kept {} durability-none activation(s) through the lapse: their outputs wait "
                 "for the lease", kept);
  }
  std::erase_if(st.to_hand_off, [&](const std::string& k) { return !st.sessions.count(k); });
  auto activating = std::move(st.activating);
  st.activating.clear();
  for (auto& [_, a] : activating) fail_waiters(a, why);
  publish_counts(self);
}

}  // namespace skein::directory_detail
