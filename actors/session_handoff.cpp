// The session's handoff: once the gate is empty, inputs are stashed, the
// session's copy (read by the store actor, plus the state in memory) is
// offered to the target host, and on success the old activation forwards
// what still reaches it to the successor; a failed read or an adopt the
// target refused before fencing aborts the handoff (serve again, stash
// first), an adopt of a durability-none session that got no answer is asked
// again (session_init::adopt_attempts), any other failed adopt stops the
// activation.
#include <algorithm>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/errors.hpp"
#include "actors/session_state.hpp"
#include "persistence/keys.hpp"
#include "persistence/records.hpp"
#include "persistence/write_batch.hpp"

namespace skein::session_internal {

std::string clients_json(session_actor* self) {
  auto arr = json::array();
  for (auto& [id, c] : self->state.clients)
    arr.push_back({{"id", id}, {"params", c.params_json}, {"token", c.token}});
  return arr.dump();
}

namespace {

/// The handoff failed: serve again (stashed inputs first) and tell the host.
void abort_handoff(session_actor* self, const std::string& why) {
  auto& st = self->state;
  spdlog::warn("session {}: handoff to {} failed: {}", st.key, st.target_name, why);
  st.m = mode::serving;
  st.shipping = false;
  // Resets of resuming clients that waited for the handoff's end, first.
  run_deferred_resets(self);
  auto stash = std::move(st.stash);
  st.stash.clear();
  for (auto& s : stash) handle_stashed(self, std::move(s));
  self->send(st.host, handed_atom::value, st.key, false);
}

/// Offers the copy to the target host; its new activation takes over.
/// `attempt` counts from 1 (see session_init::adopt_timeout).
void adopt(session_actor* self, std::shared_ptr<const std::string> bytes, int attempt = 1) {
  auto& st = self->state;
  self->request(st.target_host, st.adopt_timeout, adopt_atom::value, st.key, st.epoch,
                *bytes, clients_json(self), st.pinned)
    .then(
      [self](caf::actor& successor) {
        auto& st = self->state;
        st.successor = successor;
        st.m = mode::forwarding;
        // Resuming connections resume again at the successor: what they hold
        // is dropped (their inputs are re-sent there and acknowledged).
        st.catching_up.clear();
        for (auto& s : st.stash) handle_stashed(self, std::move(s));
        st.stash.clear();
        for (auto& [_, c] : st.clients)
          if (c.conn) self->send(c.conn, moved_atom::value, successor);
        self->send(st.host, handed_atom::value, st.key, true);
        spdlog::info("session {} handed off to {}", st.key, st.target_name);
        self->delayed_send(self, std::chrono::seconds(5), linger_atom::value, st.forwarded);
        // No longer the directory's (it exits its sessions only): quit with
        // it, or a drained node's exit waits out every forwarder's linger.
        self->monitor(st.host);
      },
      [self, bytes, attempt](caf::error& err) {
        // Refused before the target fenced anything (it had no quorum
        // lease, or was still joining, or another activation of the key was
        // starting there): this activation is still the newest, so it
        // serves on and its node tries again. Stopping here lost the whole
        // state of a durability-none session: a drain whose target had
        // just joined and briefly lost its lease reset 38 of 40 counters
        // (cluster.migration, stop 45).
        if (is(err, skein_error::handoff_refused))
          return abort_handoff(self, self->system().render(err));
        // Otherwise the target may have fenced the replica set with a newer
        // epoch before it failed: serving on at this epoch could release
        // inputs that the next activation, recovering from the fenced copy,
        // never sees. Stop instead; the connections re-resolve and re-send
        // what was not acknowledged.
        auto& st = self->state;
        // No answer at all: the target may have adopted the copy or not. A
        // durability-none session's state is only here and in that copy,
        // so stopping would lose it whenever the target had not; asking
        // again (the target answers a repeat when the adoption it started
        // ends) tells the two apart. Stashed inputs wait meanwhile.
        if (err == caf::sec::request_timeout && st.options.durable == durability::none
            && attempt < st.adopt_attempts) {
          spdlog::warn("session {}: no answer from {} to the adopt within {} ms; asking again "
                       "(attempt {} of {})",
                       st.key, st.target_name, st.adopt_timeout.count(), attempt + 1,
                       st.adopt_attempts);
          metrics().adopt_retries.fetch_add(1, std::memory_order_relaxed);
          return adopt(self, bytes, attempt + 1);
        }
        spdlog::warn("session {}: handoff to {} failed: {}; stopping this activation",
                     st.key, st.target_name, self->system().render(err));
        self->quit(make_error(skein_error::handoff_failed,
                              "handoff to " + st.target_name + " failed"));
      });
}

}  // namespace

/// `stored` (a session copy the store actor read) plus a snapshot of the
/// state in memory, encoded: a batch that replaces the target's copy of this
/// session. nullopt (logged) if `stored` does not decode.
std::optional<std::string> with_memory_snapshot(session_actor* self, const std::string& stored) {
  auto& st = self->state;
  persistence::write_batch b;
  try {
    b = persistence::write_batch::decode(stored, st.key);
  } catch (const std::exception& e) {
    spdlog::warn("session {}: copy: {}", st.key, e.what());
    return std::nullopt;
  }
  b.put_snapshot(st.key, persistence::snapshot_record{st.seq, st.journal_seq, st.epoch,
                                                      wall_clock_ms(), st.logic->snapshot(),
                                                      st.delivery.to_records(),
                                                      static_cast<std::uint32_t>(st.logic->state_version()),
                                                      st.logic->runtime.encode()});
  return b.encode();
}

/// The gate is empty and inputs are stashed: read the session's copy, then
/// offer it to the target. A copy without the journal or outbox must never
/// be shipped: a failed read aborts the handoff.
void ship(session_actor* self) {
  auto& st = self->state;
  st.shipping = true;
  if (st.options.durable == durability::none) {
    // Nothing in the store: the copy is the state in memory as a snapshot
    // and the events kept for resumes as outbox records; the successor's
    // host hands the latter to the new activation (session_init::recent),
    // so a client whose last frames were still on their way when it was
    // moved resumes there without a reset.
    persistence::write_batch kept;  // the events kept for resumes go along
    for (const auto& e : st.recent)
      kept.put_outbox(st.key, e.seq, persistence::outbox_record{e.target, e.data});
    auto copy = with_memory_snapshot(self, kept.encode());
    if (!copy) return abort_handoff(self, "the session's state cannot be encoded");
    return adopt(self, std::make_shared<const std::string>(std::move(*copy)));
  }
  self->request(st.store, persistence::store_wait, persistence::copy_atom::value, st.key,
                std::uint64_t{0})
    .then(
      [self](std::string& stored) {
        auto copy = with_memory_snapshot(self, stored);
        if (!copy) return abort_handoff(self, "the session's records cannot be read");
        adopt(self, std::make_shared<const std::string>(std::move(*copy)));
      },
      [self](caf::error& err) {
        spdlog::warn("session {}: copy reads: {}", self->state.key, self->system().render(err));
        abort_handoff(self, "the session's records cannot be read");
      });
}

}  // namespace skein::session_internal

namespace skein {

std::vector<std::pair<std::uint64_t, persistence::outbox_record>> kept_events(
  const persistence::write_batch& copy, const std::string& key) {
  std::vector<std::pair<std::uint64_t, persistence::outbox_record>> out;
  for (const auto& p : copy.puts()) {
    if (p.column != persistence::column::outbox) continue;
    auto k = persistence::parse_seq_key(p.key);
    if (!k || k->first != key) continue;
    out.emplace_back(k->second, persistence::decode_outbox(p.value, persistence::printable(p.key)));
  }
  std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  return out;
}

}  // namespace skein

namespace skein::session_internal {

/// Routes one input by mode: serve it, stash it, or forward it.
void handle_stashed(session_actor* self, stashed s) {
  auto& st = self->state;
  if (st.m == mode::handing_off) {
    st.stash.push_back(std::move(s));
    return;
  }
  if (st.m == mode::forwarding) {
    ++st.forwarded;
    switch (s.kind) {
      case stashed::join:
        self->send(st.successor, join_atom::value, s.client, s.params, s.conn, s.last_seq,
                   s.resume, s.token, s.next_unacked, s.text);
        break;
      case stashed::message:
        self->send(st.successor, message_atom::value, s.client, s.token, s.cseq, s.id, s.text,
                   s.conn);
        break;
      case stashed::leave:
        self->send(st.successor, leave_atom::value, s.client, s.token, s.cseq, s.conn);
        break;
    }
    caf::actor who = s.conn;
    if (!who)
      if (auto i = st.clients.find(s.client); i != st.clients.end()) who = i->second.conn;
    if (who) self->send(who, moved_atom::value, st.successor);
    return;
  }
  switch (s.kind) {
    case stashed::join:
      return on_join(self, s.client, s.params, s.conn, s.last_seq, s.resume, s.token,
                     s.next_unacked, s.text);
    case stashed::message:
      return on_message(self, s.client, input_origin{s.token, s.cseq, s.id, s.conn},
                        std::move(s.text));
    case stashed::leave: return on_leave(self, s.client, s.token, s.cseq, s.conn);
  }
}

}  // namespace skein::session_internal
