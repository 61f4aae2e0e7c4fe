// The session's clients: joins (resume tokens, the delivery table's
// attach), messages applied in each connection's cseq order exactly once
// (early ones held, repeats and duplicates acknowledged without applying),
// and leaves. A resume's missed frames are session_resume.cpp's job.
#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/session_state.hpp"

namespace skein::session_internal {

namespace {

/// One input at the head of its connection's order: apply, or acknowledge a
/// repeat. Returns false if the actor stopped or the client is gone.
bool admit(session_actor* self, const std::string& client_id, const input_origin& o,
           const std::string& text, delivery_table::verdict v) {
  auto& st = self->state;
  if (v == delivery_table::verdict::repeat) {
    spdlog::debug("session {}: repeat of id {} (cseq {}) from {}", st.key, o.id, o.cseq, client_id);
    st.delivery.consume(client_id, o.token, o.cseq, o.id, wall_clock_ms());
    ack_later(self, o.reply_to, o.cseq, o.id, client_id);
    return true;
  }
  auto i = st.clients.find(client_id);
  if (i == st.clients.end()) return false;
  auto params = i->second.params_json;
  handle_input(self, input_kind::message, client_id, params, text, false, &o);
  // handle_input may have stopped the actor or the client may be gone.
  return st.clients.count(client_id) > 0;
}

/// Applies held inputs of the client's connection that are next in order,
/// and drops the client once a leave's cseq is reached.
void drain_early(session_actor* self, const std::string& client_id) {
  auto& st = self->state;
  while (true) {
    auto i = st.clients.find(client_id);
    if (i == st.clients.end()) return;
    auto& c = i->second;
    const auto next = st.delivery.next_cseq(client_id, c.token);
    if (c.leave_at != 0 && next >= c.leave_at) return drop_client(self, client_id);
    while (!c.early.empty() && c.early.begin()->first < next) c.early.erase(c.early.begin());
    auto e = c.early.find(next);
    if (e == c.early.end()) return;
    auto in = std::move(e->second);
    c.early.erase(e);
    input_origin o{c.token, next, in.id, in.reply_to};
    auto v = st.delivery.classify(client_id, o.token, o.cseq, o.id);
    if (v == delivery_table::verdict::duplicate) {
      ack_later(self, o.reply_to, o.cseq, o.id, client_id);
      continue;
    }
    if (v != delivery_table::verdict::apply && v != delivery_table::verdict::repeat) return;
    if (!admit(self, client_id, o, in.text, v)) return;
  }
}

}  // namespace

void drop_client(session_actor* self, const std::string& client_id) {
  auto& st = self->state;
  auto i = st.clients.find(client_id);
  if (i == st.clients.end()) return;
  member m = std::move(i->second);
  st.clients.erase(i);
  if (m.conn) {
    self->demonitor(m.conn);
    st.catching_up.erase(m.conn);
    forget_conn(self, m.conn);
  }
  handle_input(self, input_kind::close, client_id, m.params_json, {});
  if (st.clients.empty()) became_idle(self);
}

/// Inputs of one client are applied in its connection's cseq order, exactly
/// once, even when a handoff made some arrive through the old activation or
/// a failover made the connection send them again (actors/delivery.hpp).
void on_message(session_actor* self, const std::string& client_id, const input_origin& o,
                std::string text) {
  auto& st = self->state;
  auto i = st.clients.find(client_id);
  if (i == st.clients.end()) {
    // A client that left; a re-sent id is still acknowledged, not applied.
    if (st.delivery.classify(client_id, 0, 0, o.id) == delivery_table::verdict::duplicate && o.id != 0)
      return ack_later(self, o.reply_to, o.cseq, o.id, client_id);
    spdlog::warn("session {}: message from unknown client {}", st.key, client_id);
    return;
  }
  auto v = st.delivery.classify(client_id, o.token, o.cseq, o.id);
  switch (v) {
    case delivery_table::verdict::stale:
      spdlog::debug("session {}: input {} of a replaced connection of {} dropped", st.key, o.cseq,
                    client_id);
      return;
    case delivery_table::verdict::duplicate:
      spdlog::debug("session {}: duplicate cseq {} id {} from {}", st.key, o.cseq, o.id, client_id);
      return ack_later(self, o.reply_to, o.cseq, o.id, client_id);
    case delivery_table::verdict::early:
      i->second.early.emplace(o.cseq, early_input{o.id, std::move(text), o.reply_to});
      return;
    case delivery_table::verdict::apply:
    case delivery_table::verdict::repeat:
      if (!admit(self, client_id, o, text, v)) return;
      if (o.token != 0 && o.cseq != 0) drain_early(self, client_id);
      return;
  }
}

/// A connection of the client leaves. The leave of a connection that a newer
/// one replaced (the client resumed before the old one's leave arrived) is
/// ignored: it must not drop the client from under its new connection.
void on_leave(session_actor* self, const std::string& client_id, std::uint64_t token,
              std::uint64_t next_cseq, const caf::actor& conn) {
  auto& st = self->state;
  auto i = st.clients.find(client_id);
  if (i == st.clients.end()) return;
  auto& c = i->second;
  if (conn && c.conn && conn != c.conn) return;
  if (token != 0 && c.token != 0 && token != c.token) return;
  const auto expected = st.delivery.next_cseq(client_id, token);
  if (token != 0 && expected != 0 && next_cseq > expected) {
    c.leave_at = next_cseq;  // messages still on their way (through a handoff)
    return;
  }
  drop_client(self, client_id);
}

/// A client (re)attaches. Fresh: on_open. Resume: the events after
/// `last_seq` it may see, from the outbox and the gate; a `reset` open if
/// they are no longer there; then on_resume if it was not open here. A join of a connection the client already
/// replaced (a late one, forwarded through an old activation) is ignored.
void on_join(session_actor* self, const std::string& client_id, const std::string& params,
             const caf::actor& conn, std::uint64_t last_seq, bool resume, std::uint64_t token,
             std::uint64_t next_unacked, const std::string& credential) {
  auto& st = self->state;
  // A connection proves it speaks for the client with the resume token it
  // was given at its first open (one-shot senders, token 0, join as new
  // clients with fresh ids and no token).
  if (token != 0 && !st.delivery.admit_credential(client_id, credential, wall_clock_ms())) {
    spdlog::info("session {}: join as {} refused: wrong resume token", st.key, client_id);
    self->send(conn, deny_atom::value,
               std::string("resume refused: resume_token does not match this client"));
    return;
  }
  if (!st.delivery.attach(client_id, token, next_unacked, wall_clock_ms())) {
    spdlog::debug("session {}: late join of a replaced connection of {} ignored", st.key,
                  client_id);
    return;
  }
  became_busy(self);
  spdlog::debug("session {} (epoch {}): join of {} (token {}, last_seq {}, resume {}, next {})",
                st.key, st.epoch, client_id, token, last_seq, resume, next_unacked);
  const bool returning = resume && returns_here(st, client_id);  // on_resume
  auto& c = st.clients[client_id];
  if (c.conn && c.conn != conn) {
    self->demonitor(c.conn);
    st.catching_up.erase(c.conn);  // what it held goes nowhere: the client reconnected
  }
  if (token != 0 && c.token != token) {
    c.token = token;
    c.early.clear();
    c.leave_at = 0;
  }
  st.delivery.evict([&](const std::string& id) { return st.clients.count(id) > 0; });
  attach_member(self, client_id, params, conn, last_seq, resume);
  if (returning) run_resume(self, client_id);
  if (token != 0) drain_early(self, client_id);
  arm_hibernate(self);
}

}  // namespace skein::session_internal
