// Recovery of a session from its records: newest snapshot + the journal after
// it (DESIGN.md, Persistence). A pure function of the records (read by the
// store actor, persistence/store_actor.hpp, or load_session_records); used by
// the session host when it activates a session.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <stdexcept>
#include <string>
#include <vector>

#include "actors/delivery.hpp"
#include "actors/instance.hpp"
#include "persistence/store_actor.hpp"

namespace skein {

class behaviour_registry;

/// A session's records cannot be recovered. what() names the key.
struct recovery_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// One kept snapshot, for retention bookkeeping.
struct snapshot_mark {
  std::uint64_t journal_seq = 0;
  std::uint64_t seq = 0;
};

struct recovered_session {
  std::shared_ptr<behaviour_instance> logic;  // state after the last journal entry
  std::uint64_t seq = 0;                      // last event seq
  std::uint64_t journal_seq = 0;              // last journal seq
  std::uint64_t epoch = 0;                    // highest epoch found (0: new session)
  std::vector<snapshot_mark> snapshots;       // kept snapshots, oldest first
  std::uint64_t replayed = 0;                 // journal entries applied on top of the snapshot
  delivery_table delivery;                    // per-client dedup state (snapshot + journal)
  /// Inputs admitted but not known to be handled (journal seq, record), in
  /// order, after journal_seq: the new activation runs them (poison.hpp).
  std::vector<std::pair<std::uint64_t, persistence::journal_record>> pending;
  /// poison_fingerprint() of the quarantined inputs still in the journal.
  std::vector<std::string> quarantined;
  /// Set by the activation (poison.hpp): the index in `pending` of the input
  /// whose handler crashed a test run; it is quarantined, not run.
  std::optional<std::size_t> poison;
  std::string poison_why;  // find_poison()'s reason (with `poison`)
};

/// Rebuilds `key` ("kind/id") from its records (`records.snapshots` oldest
/// first, `records.journal` the entries after the newest snapshot). Pending
/// entries (a suffix of the journal) are not run but listed in `pending`;
/// quarantined ones are skipped. Throws
/// recovery_error (a malformed key, an unknown kind, a gap in the journal,
/// state bytes that do not fit the behaviour, a journal entry that throws).
/// Records without a snapshot or journal yield a fresh session. Reads
/// nothing; thread-safe as far as the registry is.
recovered_session recover_session(const persistence::session_records& records,
                                  const behaviour_registry& registry, const std::string& key);

}  // namespace skein
