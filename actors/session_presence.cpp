// Who is connected, across failures: the clients a new activation finds open
// in the recovered state (behaviour_instance::runtime, actors/timers.hpp)
// but not attached get `resume_grace_ms` to come back; those that do not get
// a journaled close (on_close), so a crashed owner's clients do not stay
// online forever. A client that resumes into an activation where it is not
// open (it is one of those, or its connection was dropped by a down_msg, or
// the activation adopted it in a handoff) gets a journaled "resume" input
// (on_resume) if the kind declares one.
#include <chrono>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/session_state.hpp"

namespace skein::session_internal {

namespace {

/// A grace_atom re-sent while a handoff decides where the session goes.
constexpr auto handoff_recheck = std::chrono::milliseconds(50);

}  // namespace

void await_recovered_clients(session_actor* self) {
  auto& st = self->state;
  for (const auto& [id, params] : st.logic->runtime.clients())
    if (!st.clients.count(id)) st.clients[id].params_json = params;  // detached: no conn
  for (const auto& [id, m] : st.clients)
    if (!m.conn) st.awaiting_resume.insert(id);
  if (st.awaiting_resume.empty()) return;
  if (st.counters) st.counters->clients.store(static_cast<std::uint32_t>(st.clients.size()));
  spdlog::debug("session {}: {} recovered client(s) have {} ms to resume", st.key,
                st.awaiting_resume.size(), st.options.resume_grace_ms);
  self->delayed_send(self, std::chrono::milliseconds(st.options.resume_grace_ms),
                     grace_atom::value);
}

void on_grace(session_actor* self) {
  auto& st = self->state;
  if (st.m == mode::forwarding) return;  // the successor has its own grace
  if (st.m == mode::handing_off) {       // it may yet be aborted
    self->delayed_send(self, handoff_recheck, grace_atom::value);
    return;
  }
  auto awaited = std::move(st.awaiting_resume);
  st.awaiting_resume.clear();
  for (const auto& id : awaited) {
    auto i = st.clients.find(id);
    if (i == st.clients.end() || i->second.conn) continue;  // left, or came back
    spdlog::debug("session {}: client {} did not resume within {} ms: closed", st.key, id,
                  st.options.resume_grace_ms);
    drop_client(self, id);
    if (st.m != mode::serving) return;  // the activation stopped or hands off
  }
}

bool returns_here(const session_state& st, const std::string& client_id) {
  auto i = st.clients.find(client_id);
  return i == st.clients.end() || !i->second.conn;
}

void run_resume(session_actor* self, const std::string& client_id) {
  auto& st = self->state;
  if (!st.logic->has_on_resume()) return;
  auto i = st.clients.find(client_id);
  if (i == st.clients.end()) return;
  handle_input(self, input_kind::resume, client_id, i->second.params_json, {});
}

}  // namespace skein::session_internal
