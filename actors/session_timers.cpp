// Timers of a session actor (ctx.after / ctx.at / ctx.cancel). The pending
// set lives in the behaviour instance's runtime (actors/timers.hpp), is
// checkpointed with the state and rebuilt by recovery, so a new activation
// (after a migration, a failover or a restart) re-arms every pending timer;
// one whose time passed while the session was down fires at once. A timer
// fires as a journaled input of kind "timer" whose application removes it
// from the pending set. The live firing is a CAF delayed message to the
// actor itself; a firing is journaled only while its timer is pending and
// not yet on its way (`armed`), so it is journaled once: a recovered
// activation runs the pending (poison guard) inputs, which include any
// firing in flight, before it arms what is still pending.
//
// Passivation: a session with an unacknowledged tell does not passivate (it
// stays active until the receiver acknowledges, then it becomes idle again).
// A session with pending timers does: it tells its directory when its
// earliest timer is due, and the directory activates it then (Durable
// Objects' alarms; runtime/timer_wake.cpp), and the timers are re-armed
// by recovery.
//
// Timer index: every batch that changes the session's wake time (its
// earliest due timer, or 0 while a tell is unacknowledged) also writes the
// session's timer index entry (persistence/keys.hpp, timer_meta_key), so
// the owner's and every replica's copy know when the session must run. A
// node that becomes the owner of such a session (or that starts up)
// schedules its activation from that index (runtime/timer_wake.cpp). The
// first batch of an activation (or its passivation) writes the entry
// whatever it was, which clears a stale one.
#include <algorithm>
#include <chrono>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/session_state.hpp"
#include "actors/poison.hpp"
#include "persistence/keys.hpp"
#include "persistence/write_batch.hpp"

namespace skein::session_internal {

namespace {

/// A timer_atom re-sent while a handoff decides where the session goes.
constexpr auto handoff_recheck = std::chrono::milliseconds(50);

void arm(session_actor* self, std::uint64_t id, std::int64_t due_ms) {
  auto delay = std::max<std::int64_t>(0, due_ms - wall_clock_ms());
  self->state.armed.insert(id);
  if (delay == 0) self->send(self, timer_atom::value, id);
  else self->delayed_send(self, std::chrono::milliseconds(delay), timer_atom::value, id);
}

/// Arms every pending timer without a timer_atom; forgets fired/cancelled ones.
void arm_timers(session_actor* self) {
  auto& st = self->state;
  const auto& timers = st.logic->runtime.timers();
  for (auto i = st.armed.begin(); i != st.armed.end();)
    i = timers.count(*i) ? std::next(i) : st.armed.erase(i);
  for (const auto& [id, t] : timers)
    if (!st.armed.count(id)) arm(self, id, t.due_ms);
}

}  // namespace

bool runtime_holds(const session_state& st) {
  return st.logic && !st.logic->runtime.tells().empty();
}

std::optional<std::int64_t> wake_due(const session_state& st) {
  if (!st.logic) return std::nullopt;
  if (!st.logic->runtime.tells().empty()) return std::int64_t{0};  // at once: re-send them
  return st.logic->runtime.earliest_due();
}

void index_timers(session_state& st, persistence::write_batch& batch) {
  auto due = wake_due(st);
  if (st.timer_index_known && st.timer_index_due == due) return;
  const auto key = persistence::timer_meta_key(st.key);
  if (due) batch.put_meta(key, std::to_string(*due));
  else batch.erase(persistence::column::meta, key);
  st.timer_index_known = true;
  st.timer_index_due = due;
}

void start_runtime(session_actor* self) {
  auto& st = self->state;
  for (const auto& [id, _] : st.logic->runtime.tells()) st.tells_ready.insert(id);
  arm_timers(self);
  pump_tells(self);
}

void note_effects(session_actor* self, input_kind kind, gated_output& g, std::uint64_t first_id,
                  bool immediate) {
  auto& st = self->state;
  arm_timers(self);
  std::vector<std::uint64_t> sent;
  for (auto i = st.logic->runtime.tells().lower_bound(first_id); i != st.logic->runtime.tells().end(); ++i)
    sent.push_back(i->first);
  if (immediate) released_tells(self, sent);
  else g.tells.insert(g.tells.end(), sent.begin(), sent.end());
  // A timer or tell handled with nobody connected: the idle countdown
  // restarts (passivate() waits for the runtime hold to end).
  if ((kind == input_kind::timer || kind == input_kind::tell) && st.clients.empty())
    became_idle(self);
}

void on_timer(session_actor* self, std::uint64_t id) {
  auto& st = self->state;
  const auto& timers = st.logic->runtime.timers();
  auto t = timers.find(id);
  if (t == timers.end()) {  // cancelled, or fired already
    st.armed.erase(id);
    return;
  }
  if (st.m == mode::forwarding) return;  // the next activation arms it
  if (st.m == mode::handing_off) {       // it may yet be aborted
    self->delayed_send(self, handoff_recheck, timer_atom::value, id);
    return;
  }
  if (t->second.due_ms > wall_clock_ms()) {  // the wall clock lags the timer's clock
    arm(self, id, t->second.due_ms);
    return;
  }
  // `id` stays in `armed` until the runtime drops it: the input is on its way.
  auto rec = make_timer_input(id, t->second.payload);
  rec.time_ms = wall_clock_ms();
  rec.epoch = st.epoch;
  if (guard_on(st)) return admit_guarded(self, std::move(rec), caf::actor{});
  run_input(self, std::move(rec), st.journal_seq + 1, caf::actor{});
}

}  // namespace skein::session_internal
