// Recovery: the newest snapshot restored, the journal after it replayed
// through apply_input, as the live path applied it.
#include "actors/recovery.hpp"

#include <algorithm>

#include "actors/apply.hpp"
#include "actors/poison.hpp"
#include "actors/registry.hpp"
#include "actors/session_key.hpp"
#include "persistence/keys.hpp"

namespace skein {

recovered_session recover_session(const persistence::session_records& records,
                                  const behaviour_registry& registry, const std::string& key) {
  auto parsed = session_key::parse(key);
  if (!parsed) throw recovery_error("malformed session key: " + session_key::why_invalid(key));
  const std::string kind(parsed->kind()), id(parsed->id());
  recovered_session out;
  out.logic = registry.create(kind);
  if (!out.logic) throw recovery_error("unknown session kind '" + kind + "' in " + key);

  for (auto& s : records.snapshots) out.snapshots.push_back({s.journal_seq, s.seq});
  if (!records.snapshots.empty()) {
    const auto& snap = records.snapshots.back();
    try {
      out.logic->restore(snap.state, static_cast<int>(snap.state_version));
    } catch (const std::exception& e) {
      throw recovery_error("snapshot " + persistence::printable(persistence::seq_key(key, snap.journal_seq))
                           + " does not decode as the state of kind '" + kind + "': " + e.what());
    }
    try {
      out.logic->runtime = session_runtime::decode(snap.runtime);
    } catch (const std::exception& e) {
      throw recovery_error("snapshot " + persistence::printable(persistence::seq_key(key, snap.journal_seq))
                           + ": " + e.what());
    }
    out.seq = snap.seq;
    out.journal_seq = snap.journal_seq;
    out.epoch = snap.epoch;
    out.delivery.restore(snap.delivery);
  }
  for (auto& [jseq, rec] : records.journal) {
    if (jseq <= out.journal_seq) continue;  // folded into the snapshot already
    const auto where = persistence::printable(persistence::seq_key(key, jseq));
    const auto expected = out.journal_seq + 1 + out.pending.size();
    if (jseq != expected)
      throw recovery_error("journal gap at " + where + ": expected seq " + std::to_string(expected));
    out.epoch = std::max(out.epoch, rec.epoch);
    if (rec.status == persistence::input_status::pending) {
      // Admitted, never known to be handled: the new activation runs it
      // (after the poison check, actors/poison.hpp). Its client's delivery
      // state already counts it, so a re-send is acknowledged, not applied.
      out.delivery.observe(rec);
      out.pending.emplace_back(jseq, rec);
      continue;
    }
    if (!out.pending.empty())
      throw recovery_error("journal entry " + where + " is handled but an earlier one is pending");
    if (rec.status == persistence::input_status::quarantined) {
      out.delivery.observe(rec);
      out.quarantined.push_back(poison_fingerprint(rec));
    } else {
      try {
        auto input = rec;  // apply_input takes the record it fills in live mode
        apply_input(*out.logic, input, id, true);
      } catch (const std::exception& e) {
        throw recovery_error("journal entry " + where + " cannot be replayed: " + e.what());
      }
      out.delivery.observe(rec);
      ++out.replayed;
    }
    out.journal_seq = jseq;
    out.seq = rec.last_seq;
  }
  return out;
}

}  // namespace skein
