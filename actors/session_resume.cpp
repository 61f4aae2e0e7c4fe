// A resuming client's missed frames: the outbox read by the store actor
// while the session goes on, and the frames released meanwhile held, so
// that every frame after the client's last_seq reaches it once, in order.
#include <algorithm>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/session_state.hpp"
#include "persistence/keys.hpp"
#include "persistence/records.hpp"

namespace skein::session_internal {

// Resume: a client that comes back with `last_seq` must receive, in seq
// order, every frame meant for it with seq > last_seq, exactly once (the
// connection drops a frame whose seq is not above the last one it passed on,
// so a frame that overtakes an older one loses the older one). The missed
// frames come from two places:
//  - the output gate: frames not released yet. When the join is handled, the
//    connection is added to the recipients of every gated frame after
//    last_seq; frames produced later include it as a member. Let first_gated
//    be the seq of the first gated frame at that moment (st.seq + 1 if none).
//  - the outbox: frames below first_gated were all released before the join,
//    so (with durability local or replicated, no poison guard) their batches were committed
//    before it, and a read sent now sees them (store_actor.hpp: a read sees
//    every batch whose committer callback ran before it was sent).
// The outbox read is answered later while inputs go on being committed and
// released. Meanwhile the connection is *catching up*: whatever is released
// to it (frames and acks, in release order) is held in st.catching_up, not
// sent. The answer then sends the stored frames in [last_seq + 1,
// first_gated) -- the ones at or above first_gated, also in the outbox by
// now, are skipped -- followed by the held messages, whose frames all have
// seqs >= first_gated in increasing order (the gate releases in seq order),
// and from then on frames go straight to the connection. Every seq after
// last_seq is thus sent once and in order. If the outbox no longer starts at
// last_seq + 1 (retention trimmed it) or cannot be read, the client gets a
// `reset` open instead, as before: the held frames and the gated ones it was
// added to predate the reset and are dropped; held acks are still sent.
// The catch-up ends without sending anything if the client leaves, its
// connection goes down or is replaced by a newer one, or the session hands
// off (the connection then resumes at the successor, whose copy holds the
// whole outbox); a reset due while handing off waits for the handoff's end.
// With durability async, frames are sent before they are committed, so the
// outbox may not hold all of [last_seq + 1, first_gated) yet: the read is
// sent once every batch committed before the join is written
// (catch_up::after_commit); before stop 45 it was sent at once and a resume
// under load got a reset it did not need. The same holds with the poison
// guard: an input's frames leave once its pending record is durable, before
// its handled batch (and outbox records) is written (run_input), and that
// batch may linger for the next one (handled_linger_ms): its events are
// taken from memory at the join (catch_up::unwritten) and served with the
// read, which then needs no write (a resume on a full disk still works).
// That the outbox holds every frame sent before the join rests on local
// commits only: the read goes to this node's store.
// With durability none there is no outbox in the store: the session keeps
// its last outbox_keep events in memory (st.recent) and a resume is served
// from them at once, or reset if they do not reach back to last_seq + 1.

namespace {

/// The seq of the first frame still in the gate (st.seq + 1 if none).
std::uint64_t first_gated(const session_state& st) {
  for (auto& g : st.gate)
    if (!g.frames.empty()) return g.frames.front().seq;
  return st.seq + 1;
}

/// The catching-up connection `conn` gets a reset open instead of its missed frames.
void reset_member(session_actor* self, const caf::actor& conn) {
  auto& st = self->state;
  auto cu = st.catching_up.find(conn);
  if (cu == st.catching_up.end()) return;
  auto done = std::move(cu->second);
  st.catching_up.erase(cu);
  for (auto& h : done.held)
    if (h.is_ack) to_conn(self, conn, caf::make_message(ack_atom::value, h.cseq, h.id, h.error));
  for (auto& g : st.gate)
    for (auto& f : g.frames) f.to.erase(std::remove(f.to.begin(), f.to.end(), conn), f.to.end());
  auto m = st.clients.find(done.client);
  if (m == st.clients.end() || m->second.conn != conn) return;
  m->second.opened = false;  // nothing before the reset's own output
  handle_input(self, input_kind::open, done.client, m->second.params_json, {}, true);
}

/// The outbox events at or above `from` in the lingering handled batch.
std::vector<std::pair<std::uint64_t, persistence::outbox_record>>
lingering_outbox(const session_state& st, std::uint64_t from) {
  std::vector<std::pair<std::uint64_t, persistence::outbox_record>> events;
  for (const auto& p : st.lingering->puts()) {
    if (p.column != persistence::column::outbox) continue;
    auto k = persistence::parse_seq_key(p.key);
    if (!k || k->first != st.key || k->second < from) continue;
    events.emplace_back(k->second, persistence::decode_outbox(p.value, "lingering"));
  }
  return events;
}

/// The outbox read of a catch-up answered (`stored` null: it failed): the
/// stored frames, then the held messages (see above), or a reset.
void end_catch_up(session_actor* self, const caf::actor& conn, std::uint64_t request,
                  persistence::outbox_ptr stored) {
  auto& st = self->state;
  auto cu = st.catching_up.find(conn);
  if (cu == st.catching_up.end() || cu->second.request != request) return;  // ended already
  if (stored && !cu->second.unwritten.empty()) {
    // What lingered at the join follows what the store held (newer seqs;
    // a seq in both was written meanwhile: the same event).
    auto all = *stored;
    for (auto& e : cu->second.unwritten)
      if (all.empty() || e.first > all.back().first) all.push_back(std::move(e));
    stored = std::make_shared<const std::vector<std::pair<std::uint64_t, persistence::outbox_record>>>(
      std::move(all));
  }
  // The stored frames must cover [last_seq + 1, first_gated): the read was
  // sent only because first_gated > last_seq + 1.
  const bool covered = stored && !stored->empty()
                       && stored->front().first <= cu->second.last_seq + 1
                       && stored->back().first + 1 >= cu->second.first_gated;
  if (!covered) {
    // The gap is older than the outbox, or newer than what it holds yet
    // (durability none), or it could not be read: reset, then the current
    // state. Not while handing off: no input is applied then.
    if (st.m == mode::serving) return reset_member(self, conn);
    cu->second.reset = true;
    return;
  }
  auto done = std::move(cu->second);
  st.catching_up.erase(cu);
  std::uint64_t sent = done.last_seq;
  if (stored)
    for (auto& [seq, r] : *stored) {
      if (seq >= done.first_gated) break;
      if (seq <= sent) continue;
      if (r.target.empty() || r.target == done.client)
        to_conn(self, conn, caf::make_message(frame_atom::value, frame_text(seq, r.data)));
      sent = seq;
    }
  for (auto& h : done.held) {
    if (h.is_ack) {
      to_conn(self, conn, caf::make_message(ack_atom::value, h.cseq, h.id, h.error));
    } else if (h.seq > sent) {
      to_conn(self, conn, caf::make_message(frame_atom::value, h.frame));
      sent = h.seq;
    }
  }
}

/// Sends the outbox read of conn's catch-up.
void read_outbox(session_actor* self, const caf::actor& conn, std::uint64_t request,
                 std::uint64_t from_seq) {
  auto& st = self->state;
  self->request(st.store, persistence::store_wait, persistence::outbox_atom::value, st.key, from_seq)
    .then(
      [self, conn, request](persistence::outbox_ptr& stored) {
        end_catch_up(self, conn, request, stored);
      },
      [self, conn, request](caf::error& err) {
        spdlog::warn("session {}: outbox unreadable for resume: {}", self->state.key,
                     self->system().render(err));
        end_catch_up(self, conn, request, nullptr);
      });
}

/// True if a batch of commit `upto` or before is not written yet; then the
/// next local commit posts a `committed` message (want_local), whose
/// handler calls read_after_commits.
bool writing_upto(session_state& st, std::uint64_t upto) {
  auto writing = [&] {
    for (const auto& g : st.gate)
      if (!g.local_done && g.commit <= upto) return true;
    return false;
  };
  sync_local(st);
  while (writing())
    if (!want_local(st)) return true;
  return false;
}

/// Durability none: the events after last_seq from st.recent, or a reset if
/// it no longer reaches back that far. Nothing is gated (frames go out as
/// they are made), so these are all it missed.
void resume_from_memory(session_actor* self, const caf::actor& conn, const std::string& client_id,
                        std::uint64_t last_seq) {
  auto& st = self->state;
  if (st.recent.empty() || st.recent.front().seq > last_seq + 1) {
    st.clients[client_id].opened = false;
    return handle_input(self, input_kind::open, client_id, st.clients[client_id].params_json, {},
                        true);
  }
  relay_batch batch(self);  // one relay message for all of them
  for (const auto& e : st.recent)
    if (e.seq > last_seq && (e.target.empty() || e.target == client_id))
      to_conn(self, conn, caf::make_message(frame_atom::value, frame_text(e.seq, e.data)));
}

}  // namespace

/// The member part of a join: its connection, then on_open or the events it missed.
void attach_member(session_actor* self, const std::string& client_id, const std::string& params,
                   const caf::actor& conn, std::uint64_t last_seq, bool resume) {
  auto& st = self->state;
  auto& c = st.clients[client_id];
  if (c.params_json.empty()) c.params_json = params;
  if (c.conn && c.conn != conn) forget_conn(self, c.conn);
  c.conn = conn;
  self->monitor(conn);
  st.catching_up.erase(conn);  // a join again of the same connection starts over
  if (!resume) {
    c.opened = false;  // broadcasts reach it from its on_open on
    return handle_input(self, input_kind::open, client_id, c.params_json, {});
  }
  if (last_seq > st.seq) {
    // The client saw events this activation never had: they were lost with
    // the state (durability none or async after a crash, or local after a
    // failover to a replica that missed the tail). Its connection drops
    // every frame at or below last_seq as delivered, so the seq goes on
    // above it (journaled with the reset, so a recovery keeps it), and the
    // client starts over from the current state with a reset.
    st.seq = last_seq;
    c.opened = false;
    return handle_input(self, input_kind::open, client_id, c.params_json, {}, true);
  }
  c.opened = true;
  if (last_seq == st.seq) return;
  if (st.options.durable == durability::none) return resume_from_memory(self, conn, client_id, last_seq);
  const auto gated_from = first_gated(st);
  for (auto& g : st.gate)
    for (auto& f : g.frames)
      if (f.seq > last_seq && (f.target.empty() || f.target == client_id)
          && std::find(f.to.begin(), f.to.end(), conn) == f.to.end())
        f.to.push_back(conn);
  if (gated_from <= last_seq + 1) return;  // the gate holds everything it missed
  const auto request = st.next_request++;
  auto& cu = st.catching_up[conn] = catch_up{client_id, request, last_seq, gated_from, false};
  if (st.lingering) cu.unwritten = lingering_outbox(st, last_seq + 1);
  if ((st.options.durable == durability::async || guard_on(st))
      && writing_upto(st, st.next_commit - 1)) {
    cu.after_commit = st.next_commit - 1;  // read_after_commits sends the read
    return;
  }
  read_outbox(self, conn, request, last_seq + 1);
}

void read_after_commits(session_actor* self) {
  auto& st = self->state;
  for (auto& [conn, cu] : st.catching_up)
    if (cu.after_commit != 0 && !writing_upto(st, cu.after_commit)) {
      cu.after_commit = 0;
      read_outbox(self, conn, cu.request, cu.last_seq + 1);
    }
}

void run_deferred_resets(session_actor* self) {
  std::vector<caf::actor> resets;
  for (auto& [conn, cu] : self->state.catching_up)
    if (cu.reset) resets.push_back(conn);
  for (auto& conn : resets) reset_member(self, conn);
}

}  // namespace skein::session_internal
