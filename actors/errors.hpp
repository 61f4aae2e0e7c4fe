// skein's own errors: one enum registered as a CAF error category, so that
// requesters match an error by its code, never by its text.
#pragma once

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>

namespace skein {

/// The category atom of every skein error (`err.category() == skein_category`).
constexpr caf::atom_value skein_category = caf::atom("skein");

/// Codes start at 1: a caf::error with code 0 means "no error".
enum class skein_error : std::uint8_t {
  malformed_key = 1,  // not "kind/id" (see session_key)
  unknown_kind,       // no behaviour registered under that kind
  unrecoverable,      // the records of the session cannot be recovered (names the key)
  owner_unreachable,  // the owning member cannot be reached
  fenced,             // a newer epoch exists: this write or activation is stale
  rejoining,          // this node is rejoining the cluster; ask again later
  handoff_timeout,    // the live activation elsewhere did not hand off in time
  store_failure,      // a local RocksDB read or write failed
  fetch_failed,       // a copy could not be fetched from the member that holds it
  no_member,          // no (connected, up) member of that name
  name_conflict,      // a peer introduced itself with this node's name
  handler_failed,     // a behaviour handler threw: the activation stopped
  fence_failed,       // a replica did not record a new activation's epoch
  no_quorum,          // this node holds no quorum lease (runtime/quorum.hpp); ask again later
  handoff_failed,     // the target refused or lost an adopt: the activation stopped (ask again)
  no_session,         // an existing-only resolve: the session has no records anywhere
  overloaded,         // the node holds max_sessions activations and none is idle
  handoff_refused,    // the target refused an adopt before it fenced any epoch: the
                      // source activation serves on and its node retries the handoff
  misrouted,          // a message to one node was answered by another: this process's
                      // cluster connections route wrongly (CAF 0.17 BASP state corrupted
                      // by a reused socket descriptor); the node exits to be restarted
};

/// "malformed_key", ... (the enumerator's name).
const char* to_string(skein_error code);

/// The error without context.
caf::error make_error(skein_error code);

/// The error with one string of context: the human-readable reason (it may
/// name the key; it never repeats invalid bytes).
caf::error make_error(skein_error code, std::string reason);

/// True if `err` is a skein error with this code.
bool is(const caf::error& err, skein_error code);

/// The reason text of a skein error (its string context), or "" if none.
std::string reason_of(const caf::error& err);

/// Registers the category so that `actor_system::render` prints
/// "skein.CODE: reason".
void add_error_category(caf::actor_system_config& cfg);

}  // namespace skein
