// The session's poison guard (actors/poison.hpp): inputs journaled as
// pending before their handlers run, quarantine of the input whose handler
// crashed a process, and the pending inputs a new activation inherits.
#include <algorithm>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "actors/apply.hpp"
#include "actors/poison.hpp"
#include "actors/session_state.hpp"
#include "persistence/records.hpp"

namespace skein::session_internal {

namespace {

/// How many fingerprints of quarantined inputs a session remembers.
constexpr std::size_t max_quarantined = 16;

/// Journals `rec` as quarantined under `jseq`: never applied; one error
/// event for its sender, and its ack (now and for re-sends) says why.
void quarantine(session_actor* self, persistence::journal_record rec, std::uint64_t jseq,
                const caf::actor& reply_to, const std::string& why) {
  auto& st = self->state;
  const std::string message = "input not applied: " + why;
  spdlog::error("session {}: {} input {} from client {} (cseq {}, id {}, journal seq {}) "
                "quarantined: {}", st.key, rec.kind_of_input, rec.payload.substr(0, 200),
                rec.client, rec.cseq, rec.msg_id, jseq, why);
  metrics().poison_inputs.fetch_add(1, std::memory_order_relaxed);
  auto fp = poison_fingerprint(rec);
  if (std::find(st.quarantined.begin(), st.quarantined.end(), fp) == st.quarantined.end()) {
    st.quarantined.push_back(std::move(fp));
    if (st.quarantined.size() > max_quarantined) st.quarantined.erase(st.quarantined.begin());
  }
  const auto ack_key = rec.cseq != 0 ? rec.cseq : rec.msg_id;
  if (ack_key != 0) st.quarantine_acks[{rec.client, ack_key}] = "poison_input: " + message;
  if (st.quarantine_acks.size() > 4 * max_quarantined)
    st.quarantine_acks.erase(st.quarantine_acks.begin());

  persistence::write_batch batch;
  gated_output g;
  if (reply_to) g.acks.push_back({reply_to, rec.cseq, rec.msg_id, "poison_input: " + message});
  auto data = json{{"type", "error"}, {"code", "poison_input"}, {"message", message}}.dump();
  gated_frame f;
  f.target = rec.client;
  if (auto i = st.clients.find(rec.client); i != st.clients.end() && i->second.conn)
    f.to.push_back(i->second.conn);
  f.seq = ++st.seq;
  f.frame = frame_text(f.seq, data);
  batch.put_outbox(st.key, f.seq, persistence::outbox_record{rec.client, std::move(data)});
  g.frames.push_back(std::move(f));
  rec.status = persistence::input_status::quarantined;
  rec.random.clear();  // a pending record's seed: this input never runs
  rec.outputs = 1;
  rec.last_seq = st.seq;
  st.journal_seq = jseq;
  st.admitted_seq = std::max(st.admitted_seq, jseq);
  batch.put_journal(st.key, jseq, rec);
  ++st.inputs_since_snapshot;
  maybe_snapshot(self, batch, false);
  commit(self, std::move(batch), std::move(g));
}

/// Runs an admitted input, or refuses it if it carries what a quarantined
/// one carried.
bool run_admitted(session_actor* self, std::uint64_t jseq, persistence::journal_record rec,
                  const caf::actor& reply_to, bool durable) {
  auto& st = self->state;
  if (rec.kind_of_input == "message" && !st.quarantined.empty()
      && std::find(st.quarantined.begin(), st.quarantined.end(), poison_fingerprint(rec))
           != st.quarantined.end()) {
    quarantine(self, std::move(rec), jseq, reply_to,
               "it is identical to an input whose handler crashed a node");
    return true;
  }
  return run_input(self, std::move(rec), jseq, reply_to, durable);
}

}  // namespace

bool guard_on(const session_state& st) {
  return st.options.poison_guard && !releases_at_once(st.options.durable);
}

void admit_guarded(session_actor* self, persistence::journal_record rec, const caf::actor& reply_to) {
  auto& st = self->state;
  const auto jseq = ++st.admitted_seq;
  rec.status = persistence::input_status::pending;
  // The handler's seed is journaled with the input (its time is already):
  // the input runs the same wherever it runs, here now or on the next owner
  // after a crash, so its outputs may leave before the handled record is
  // durable (run_input).
  rec.random.assign(1, st.seeder());
  persistence::write_batch batch;
  batch.put_journal(st.key, jseq, rec);
  gated_output g;
  g.runs = jseq;
  st.guarded.push_back({jseq, std::move(rec), reply_to});
  commit(self, std::move(batch), std::move(g));
}

bool run_guarded(session_actor* self, std::uint64_t jseq) {
  auto& st = self->state;
  if (st.guarded.empty() || st.guarded.front().jseq != jseq) {
    spdlog::error("session {}: guarded input {} released out of order", st.key, jseq);
    return true;
  }
  auto in = std::move(st.guarded.front());
  st.guarded.pop_front();
  if (st.guarded.empty()) st.guarded.shrink_to_fit();  // an idle session keeps no block
  return run_admitted(self, in.jseq, std::move(in.rec), in.reply_to, true);
}

void run_recovered(session_actor* self,
                   std::vector<std::pair<std::uint64_t, persistence::journal_record>> pending,
                   std::optional<std::size_t> poison, const std::string& why) {
  auto& st = self->state;
  if (!pending.empty()) st.admitted_seq = std::max(st.admitted_seq, pending.back().first);
  for (std::size_t i = 0; i < pending.size(); ++i) {
    auto& [jseq, rec] = pending[i];
    if (poison && *poison == i) {
      quarantine(self, std::move(rec), jseq, caf::actor{}, why);
      continue;
    }
    // Not released early: these records were read from this node's copy,
    // which the current replicas may not all hold yet.
    if (!run_admitted(self, jseq, std::move(rec), caf::actor{}, false)) return;
  }
}

}  // namespace skein::session_internal
