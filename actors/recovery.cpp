#include "actors/recovery.hpp"

#include <algorithm>

#include "actors/apply.hpp"
#include "actors/registry.hpp"
#include "actors/session_key.hpp"
#include "persistence/keys.hpp"

namespace skein {

recovered_session recover_session(const persistence::store& store,
                                  const behaviour_registry& registry, const std::string& key) {
  auto parsed = session_key::parse(key);
  if (!parsed) throw recovery_error("malformed session key: " + session_key::why_invalid(key));
  const std::string kind(parsed->kind()), id(parsed->id());
  recovered_session out;
  out.logic = registry.create(kind);
  if (!out.logic) throw recovery_error("unknown session kind '" + kind + "' in " + key);

  for (auto& s : store.load_snapshots(key)) out.snapshots.push_back({s.journal_seq, s.seq});
  if (auto snap = store.load_snapshot(key)) {
    try {
      out.logic->restore(snap->state);
    } catch (const std::exception& e) {
      throw recovery_error("snapshot " + persistence::printable(persistence::seq_key(key, snap->journal_seq))
                           + " does not decode as the state of kind '" + kind + "': " + e.what());
    }
    out.seq = snap->seq;
    out.journal_seq = snap->journal_seq;
    out.epoch = snap->epoch;
    out.delivery.restore(snap->delivery);
  }
  for (auto& [jseq, rec] : store.load_journal(key, out.journal_seq + 1)) {
    const auto where = persistence::printable(persistence::seq_key(key, jseq));
    if (jseq != out.journal_seq + 1)
      throw recovery_error("journal gap at " + where + ": expected seq "
                           + std::to_string(out.journal_seq + 1));
    try {
      apply_input(*out.logic, rec, id, true);
    } catch (const std::exception& e) {
      throw recovery_error("journal entry " + where + " cannot be replayed: " + e.what());
    }
    out.delivery.observe(rec);
    out.journal_seq = jseq;
    out.seq = rec.last_seq;
    out.epoch = std::max(out.epoch, rec.epoch);
    ++out.replayed;
  }
  return out;
}

}  // namespace skein
