// Session-to-session messages (ctx.tell), exactly once across failover.
//
// Sender: a tell is part of the runtime state of the input that made it
// (actors/timers.hpp), so it is journaled with that input and survives any
// loss of the sender's activation. It goes out only once that input's batch
// is released by the output gate, to the target resolved through the
// directory like a client's session (resolve_atom), as (tell_atom, from,
// id, payload, reply_to). Per target one tell is in flight at a time, in id
// order, re-sent every tell_retry until acknowledged; a new activation of
// the sender sends every pending tell again.
//
// Receiver: the tell's sender is the pseudo-client "@kind/id" of its
// delivery table (actors/delivery.hpp) and the tell id its message id, so a
// tell whose id it applied already is acknowledged again and not applied;
// otherwise it is journaled as an input of kind "tell" (msg_id = the id)
// and acknowledged (ack_atom, 0, id, error) once durable. Ids grow per
// sender and only one is in flight per target, so "id <= last applied id"
// is exactly "seen before".
#include <chrono>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/errors.hpp"
#include "actors/poison.hpp"
#include "actors/session_state.hpp"

namespace skein::session_internal {

namespace {

/// How long an unacknowledged tell waits before it is sent again.
constexpr auto tell_retry = std::chrono::milliseconds(1000);
constexpr auto resolve_timeout = std::chrono::seconds(10);

void arm_retry(session_actor* self) {
  auto& st = self->state;
  if (st.tell_retry_armed || st.logic->runtime.tells().empty()) return;
  st.tell_retry_armed = true;
  self->delayed_send(self, tell_retry, tellretry_atom::value);
}

void send_tell(session_actor* self, std::uint64_t id, const session_runtime::tell& t) {
  auto& st = self->state;
  st.tells_in_flight[t.target] = {id, clock::now()};
  auto me = caf::actor_cast<caf::actor>(self);
  self->request(st.host, resolve_timeout, resolve_atom::value, t.target, std::uint64_t{0}, false)
    .then(
      [self, me, id, payload = t.payload.dump()](caf::actor& session) {
        if (session) self->send(session, tell_atom::value, self->state.key, id, payload, me);
      },
      [self, id, target = t.target](caf::error& err) {
        if (is(err, skein_error::unknown_kind) || is(err, skein_error::malformed_key)) {
          spdlog::error("session {}: tell {} to {} dropped: {}", self->state.key, id, target,
                        self->system().render(err));
          tell_acked(self, id, {});
        }
        // Anything else (no quorum, owner unreachable, ...): the retry sends it again.
      });
}

}  // namespace

void released_tells(session_actor* self, const std::vector<std::uint64_t>& ids) {
  if (ids.empty()) return;
  self->state.tells_ready.insert(ids.begin(), ids.end());
  pump_tells(self);
}

void pump_tells(session_actor* self) {
  auto& st = self->state;
  if (st.m == mode::forwarding) return;  // the next activation sends them
  if (st.m == mode::serving) {
    const auto now = clock::now();
    std::set<std::string> seen;
    for (const auto& [id, t] : st.logic->runtime.tells()) {
      if (!seen.insert(t.target).second || !st.tells_ready.count(id)) continue;
      auto f = st.tells_in_flight.find(t.target);
      if (f != st.tells_in_flight.end() && f->second.id == id && now - f->second.sent < tell_retry)
        continue;
      send_tell(self, id, t);
    }
  }
  arm_retry(self);
}

void receive_tell(session_actor* self, const std::string& from, std::uint64_t id,
                  const std::string& payload, const caf::actor& reply_to) {
  auto& st = self->state;
  if (st.m != mode::serving || id == 0) return;  // the sender sends it again
  const auto client = "@" + from;
  if (st.delivery.classify(client, 0, 0, id) == delivery_table::verdict::duplicate)
    return ack_later(self, reply_to, 0, id, client);
  auto rec = make_tell_input(from, id, payload);
  rec.time_ms = wall_clock_ms();
  rec.epoch = st.epoch;
  st.delivery.consume(client, 0, 0, id, rec.time_ms);
  if (guard_on(st)) return admit_guarded(self, std::move(rec), reply_to);
  run_input(self, std::move(rec), st.journal_seq + 1, reply_to);
}

void tell_acked(session_actor* self, std::uint64_t id, const std::string& error) {
  auto& st = self->state;
  auto& rt = st.logic->runtime;
  auto t = rt.tells().find(id);
  if (t == rt.tells().end()) return;  // a repeated ack
  if (!error.empty())
    spdlog::warn("session {}: tell {} to {} rejected: {}", st.key, id, t->second.target, error);
  if (auto f = st.tells_in_flight.find(t->second.target);
      f != st.tells_in_flight.end() && f->second.id == id)
    st.tells_in_flight.erase(f);
  rt.ack(id);
  st.tells_ready.erase(id);
  pump_tells(self);
  if (st.clients.empty() && !runtime_holds(st)) became_idle(self);
}

}  // namespace skein::session_internal
