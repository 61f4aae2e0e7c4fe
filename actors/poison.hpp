// Poison inputs: an input whose handler kills the process (a signal such as
// SIGSEGV, not an exception) must not kill the next owner when its client
// sends it again after the failover.
//
// How (with the kind option poison_guard on, the default for durable kinds):
//  1. Each input is journaled as `pending` (persistence/records.hpp) when it
//     is admitted, and its handler runs only once that record is durable
//     (locally, and on every replica with durability replicated). The
//     handled record, with its outputs, later replaces it under the same
//     journal seq. So an input that crashed the process is a pending record
//     in the store of every node that may activate the session next.
//  2. Recovery lists the pending records (actors/recovery.hpp). Before the
//     new activation runs them, find_poison() runs them in a forked child
//     process on a copy of the recovered state: the first one whose handler
//     kills the child (a signal), throws something that is not a
//     std::exception (a std::exception only rejects its input, apply.hpp),
//     or runs past the timeout is the poison. It is quarantined: journaled with status `quarantined`, never
//     applied, its sender gets an error event and an error ack
//     (`poison_input`), skein_poison_inputs_total counts it and the log names
//     session, client and input. The inputs after it run as usual.
//  3. The session refuses a later input identical to a quarantined one (same
//     kind and payload, poison_fingerprint) without running it, so a client
//     that sends the same bytes again does not cost a node either.
// A pending input whose node died for another reason (kill -9, power) runs
// in the child without harm and is then applied as usual: nothing is lost
// and no innocent input is rejected.
//
// Cost: one more journal write per input (the pending record), batched by
// the committer's group commit; handlers wait for it (docs/benchmarks.md).
// The fork happens only when an activation recovers pending inputs.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "actors/instance.hpp"
#include "persistence/records.hpp"

namespace skein {

/// Identifies an input by what it carries: its kind and payload.
std::string poison_fingerprint(const persistence::journal_record& rec);

struct poison_verdict {
  std::optional<std::size_t> index;  // the poison input's index in `pending`
  std::string why;                   // "killed by signal 11 (Segmentation fault)", ...
};

/// Runs `pending` (journal seq, record) in order through a copy of `logic`
/// in a forked child process, and names the first input whose handler
/// killed the child, threw a non-std exception, or had not finished within `timeout` (the child
/// is then killed). `logic` itself is not changed (the child's memory is a
/// copy). Blocks the calling thread for as long as the handlers run. If the
/// fork itself fails, returns no index and a `why` (the caller runs the
/// inputs as usual). Not thread-safe with respect to `logic`.
poison_verdict find_poison(
    behaviour_instance& logic,
    const std::vector<std::pair<std::uint64_t, persistence::journal_record>>& pending,
    const std::string& session_id, std::chrono::milliseconds timeout);

}  // namespace skein
