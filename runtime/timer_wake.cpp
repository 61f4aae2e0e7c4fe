// Timer wake-up: a node that becomes the owner of sessions with pending
// timers, because their owner left the cluster (or because it starts up),
// activates them, so their timers fire without waiting for a client.
//
// Sessions with pending timers never passivate (actors/session_timers.cpp),
// so before the change each of them was active on its owner; the wake-up
// restores that on the new owner. The candidates come from the node's timer
// index (persistence/keys.hpp, timer_meta_key), which every copy of a session
// (the owner's and the replicas') carries in the batches that change its
// timers. On a view change that changes the up members, the directory reads
// the index and activates, in order of due time, every indexed session that
//   - this node owns by placement now (no admin override),
//   - is neither active nor activating here,
//   - had an owner in the previous up set that is now down or gone from the
//     view (or there was no previous up set: start-up).
// A join or a drain (the old owner still alive) is left to the rebalance,
// which hands the live activation off. At most `max_wakes_in_flight` activations are in
// flight at a time; each goes through resolve (existing sessions only), as
// a client's would. A stale index entry costs one activation, which then
// clears it (its first batch or its passivation rewrites the entry).
#include <algorithm>

#include <spdlog/spdlog.h>

#include "actors/liveness.hpp"
#include "runtime/directory_state.hpp"
#include "runtime/placement.hpp"

namespace skein::directory_detail {

namespace {

constexpr std::size_t max_wakes_in_flight = 8;
constexpr auto wake_timeout = std::chrono::seconds(60);
constexpr auto index_timeout = std::chrono::seconds(60);

bool ready(self_ptr self) {
  auto& st = self->state;
  return !st.held && st.cluster->self_state == member_state::up && liveness::lease_held();
}

void pump_wakes(self_ptr self) {
  auto& st = self->state;
  auto me = caf::actor_cast<directory_actor>(self);
  while (st.wakes_in_flight < max_wakes_in_flight && !st.to_wake.empty() && ready(self)) {
    auto key = std::move(st.to_wake.front());
    st.to_wake.pop_front();
    if (st.sessions.count(key) || st.activating.count(key)) continue;
    ++st.wakes_in_flight;
    spdlog::debug("timer wake: activating {}", key);
    self->request(me, wake_timeout, resolve_atom::value, key, std::uint64_t{0}, true)
      .then(
        [self](const caf::actor&) {
          --self->state.wakes_in_flight;
          pump_wakes(self);
        },
        [self, key](caf::error& err) {
          --self->state.wakes_in_flight;
          spdlog::warn("timer wake: cannot activate {}: {}", key, self->system().render(err));
          pump_wakes(self);
        });
  }
}

void on_index(self_ptr self, const persistence::timer_index_ptr& index,
              const std::vector<std::string>& previous_up, bool startup) {
  auto& st = self->state;
  if (!ready(self)) return;
  const auto up = st.cluster->view.up();
  std::vector<std::pair<std::int64_t, std::string>> due;
  for (const auto& [key, at] : *index) {
    if (st.overrides.count(key) || st.sessions.count(key) || st.activating.count(key)) continue;
    if (hrw_owner(key, up) != self_name(self)) continue;
    if (!startup) {  // only where the previous owner is down (a drain hands off)
      auto was = self->state.cluster->view.find(hrw_owner(key, previous_up));
      if (was && was->state != member_state::down) continue;
    }
    due.emplace_back(at, key);
  }
  if (due.empty()) return;
  std::sort(due.begin(), due.end());
  spdlog::info("timer wake: activating {} session(s) with pending timers", due.size());
  for (auto& [_, key] : due) st.to_wake.push_back(std::move(key));
  pump_wakes(self);
}

}  // namespace

void wake_timers(self_ptr self) {
  auto& st = self->state;
  if (!ready(self)) return;
  auto up = st.cluster->view.up();
  if (st.wake_scanned && up == st.wake_up) return;
  auto previous = std::exchange(st.wake_up, up);
  const bool startup = !std::exchange(st.wake_scanned, true);
  self->request(st.init.store, index_timeout, persistence::due_atom::value)
    .then(
      [self, previous, startup](const persistence::timer_index_ptr& index) {
        on_index(self, index, previous, startup);
      },
      [self](caf::error& err) {
        spdlog::warn("timer wake: cannot read the timer index: {}", self->system().render(err));
      });
}

}  // namespace skein::directory_detail
