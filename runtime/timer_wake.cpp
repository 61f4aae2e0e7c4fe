// Timer wake-up: sessions with pending timers (or unacknowledged tells)
// that are not active anywhere are activated by their owner's directory when
// the earliest of them is due, as Durable Objects' alarms wake an evicted
// object. Without a client nothing else would run them.
//
// A session is not active with pending timers in three cases, each covered:
//   - it passivated (idle_ms, a drain, --max-sessions): its last act is an
//     alarm_atom(key, due) to its directory, which keeps it in its schedule
//     or forwards it to the owner's directory (in a drain the owner is
//     another node);
//   - its owner died, or the node restarted: the copies of the session carry
//     its timer index entry (persistence/keys.hpp, timer_meta_key; written
//     by every batch that changes the session's wake time, replicated with
//     it); on every change of the up members, and at start-up, the directory
//     reads the index and schedules each indexed session it owns by
//     placement that is not active or activating here;
//   - ownership moved by a join: the same scan on the joining node.
//
// The schedule (wake_due / wake_at in directory_state) is in memory: a node
// that restarts rebuilds it from the index. When an entry falls due, the
// directory resolves the key as a client would (existing sessions only); the
// resolve routes to the owner and fences any older activation. An entry that
// falls due while the session is still active here (it passivated a moment
// later, or it fires its own timer) waits in wake_on_stop for the session's
// stop. At most `max_wakes_in_flight` activations are in flight at a time;
// a failed one is tried again with a backoff (max_attempts).
// A stale entry (the timer was cancelled since) costs one activation, which
// then rewrites or clears the index entry and passivates again after idle_ms.
#include <algorithm>

#include <spdlog/spdlog.h>

#include "actors/errors.hpp"
#include "actors/liveness.hpp"
#include "actors/session_state.hpp"
#include "runtime/directory_state.hpp"
#include "runtime/placement.hpp"

using skein::session_internal::wall_clock_ms;

namespace skein::directory_detail {

namespace {

constexpr std::size_t max_wakes_in_flight = 8;
constexpr auto wake_timeout = std::chrono::seconds(60);
/// While the node cannot activate (joining, paused, no lease): look again.
constexpr std::int64_t not_ready_retry_ms = 1000;
/// A wake whose activation failed (a claim unanswered during a failover, a
/// store error) is tried again after 1, 2, 4 ... 30 s, `max_attempts` times
/// in all (as Durable Objects retry a failed alarm).
constexpr int max_attempts = 10;
constexpr std::int64_t max_backoff_ms = 30000;

bool ready(self_ptr self) {
  auto& st = self->state;
  return !st.held && st.cluster->self_state == member_state::up && liveness::lease_held();
}

void put(self_ptr self, const std::string& key, std::int64_t due_ms);

void pump_wakes(self_ptr self) {
  auto& st = self->state;
  auto me = caf::actor_cast<directory_actor>(self);
  while (st.wakes_in_flight < max_wakes_in_flight && !st.to_wake.empty() && ready(self)) {
    auto key = std::move(st.to_wake.front());
    st.to_wake.pop_front();
    if (st.sessions.count(key) || st.activating.count(key)) continue;
    ++st.wakes_in_flight;
    spdlog::info("timer wake: activating {}", key);
    self->request(me, wake_timeout, resolve_atom::value, key, std::uint64_t{0}, true)
      .then(
        [self, key](const caf::actor&) {
          --self->state.wakes_in_flight;
          self->state.wake_attempts.erase(key);
          pump_wakes(self);
        },
        [self, key](caf::error& err) {
          auto& st = self->state;
          --st.wakes_in_flight;
          const int attempt = ++st.wake_attempts[key];
          if (is(err, skein_error::no_session) || attempt >= max_attempts) {
            spdlog::warn("timer wake: cannot activate {} (attempt {}, giving up until the next "
                         "view change): {}", key, attempt, self->system().render(err));
            st.wake_attempts.erase(key);
          } else {
            const auto backoff = std::min<std::int64_t>(max_backoff_ms, 1000LL << (attempt - 1));
            spdlog::info("timer wake: cannot activate {} (attempt {}), again in {} ms: {}", key,
                         attempt, backoff, self->system().render(err));
            put(self, key, wall_clock_ms() + backoff);
          }
          pump_wakes(self);
        });
  }
}

/// Sends the alarm tick for the earliest entry unless one is on its way for
/// an earlier or equal time.
void arm_tick(self_ptr self) {
  auto& st = self->state;
  if (st.wake_at.empty()) return;
  const auto due = st.wake_at.begin()->first;
  if (st.tick_for != 0 && st.tick_for <= due) return;
  st.tick_for = due;
  const auto delay = std::max<std::int64_t>(0, due - wall_clock_ms());
  self->delayed_send(self, std::chrono::milliseconds(delay), alarm_atom::value);
}

void put(self_ptr self, const std::string& key, std::int64_t due_ms) {
  auto& st = self->state;
  if (auto i = st.wake_due.find(key); i != st.wake_due.end()) {
    if (i->second <= due_ms) return;  // an earlier wake is already planned
    st.wake_at.erase({i->second, key});
    i->second = due_ms;
  } else {
    st.wake_due.emplace(key, due_ms);
  }
  st.wake_at.emplace(due_ms, key);
  arm_tick(self);
}

void on_index(self_ptr self, const persistence::timer_index_ptr& index) {
  auto& st = self->state;
  const auto me = self_name(self);
  std::size_t n = 0;
  std::string some;  // the first few keys, for the log
  for (const auto& [key, at] : *index) {
    if (st.sessions.count(key) || st.activating.count(key)) continue;  // runs its own timers
    if (placement_owner(self, key) != me) continue;
    put(self, key, at);
    if (++n <= 4) some += (n > 1 ? ", " : "") + key;
  }
  if (n > 0)
    spdlog::info("timer wake: {} session(s) with pending timers scheduled ({}{}) of {} indexed", n,
                 some, n > 4 ? ", ..." : "", index->size());
}

}  // namespace

void wake_timers(self_ptr self) {
  auto& st = self->state;
  // Scheduling needs no lease (the tick checks); reading at every change of
  // the up members means no change is missed while the node is not ready.
  auto up = st.cluster->view.up();
  if (up.empty() || (st.wake_scanned && up == st.wake_up)) return;
  st.wake_up = up;
  st.wake_scanned = true;
  self->request(st.init.store, persistence::store_wait, persistence::due_atom::value)
    .then([self](const persistence::timer_index_ptr& index) { on_index(self, index); },
          [self](caf::error& err) {
            spdlog::warn("timer wake: cannot read the timer index: {}", self->system().render(err));
          });
}

void schedule_wake(self_ptr self, const std::string& key, std::int64_t due_ms, bool forwarded) {
  auto owner = placement_owner(self, key);
  if (!forwarded && !owner.empty() && owner != self_name(self)) {
    if (auto d = peer_directory(self, owner)) {
      caf::anon_send(caf::actor_cast<directory_actor>(d), alarm_atom::value, key, due_ms, true);
      return;
    }
  }
  put(self, key, due_ms);  // the owner, or kept here while it is unreachable
}

void on_alarm_tick(self_ptr self) {
  auto& st = self->state;
  st.tick_for = 0;
  if (!ready(self)) {
    if (!st.wake_at.empty()) {
      st.tick_for = wall_clock_ms() + not_ready_retry_ms;
      self->delayed_send(self, std::chrono::milliseconds(not_ready_retry_ms), alarm_atom::value);
    }
    return;
  }
  const auto now = wall_clock_ms();
  while (!st.wake_at.empty() && st.wake_at.begin()->first <= now) {
    auto key = st.wake_at.begin()->second;
    st.wake_at.erase(st.wake_at.begin());
    st.wake_due.erase(key);
    if (st.sessions.count(key)) st.wake_on_stop.insert(std::move(key));
    else if (!st.activating.count(key)) st.to_wake.push_back(std::move(key));
  }
  pump_wakes(self);
  arm_tick(self);
}

void forget_wake(self_ptr self, const std::string& key) {
  auto& st = self->state;
  st.wake_on_stop.erase(key);
  if (auto i = st.wake_due.find(key); i != st.wake_due.end()) {
    st.wake_at.erase({i->second, key});
    st.wake_due.erase(i);
  }
}

void session_stopped(self_ptr self, const std::string& key) {
  auto& st = self->state;
  if (st.wake_on_stop.erase(key) == 0) return;
  st.to_wake.push_back(key);
  pump_wakes(self);
}

}  // namespace skein::directory_detail
