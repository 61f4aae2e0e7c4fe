// Format 2 of a lane bundle (runtime/lane.hpp): its entries in one byte
// string of skein's encoding, and each actor they name once.
//
// Why: format 1 (runtime/bundle.hpp) has CAF 0.17 serialize every field of
// every entry through its inspector, a virtual call and a caf::error per
// field, and every actor handle with its node id, which the receiver looks
// up in CAF's proxy or actor registry (a lock and a map lookup each). At the
// rtt peak a node's CAF threads spent about 18 % of their samples writing
// and reading bundles. A bundle to one node names the same few actors again
// and again (every replicate entry targets the peer's replica actor), so
// here each distinct actor crosses once, in `actors`, and the rest of the
// entry is bytes that CAF copies as one string. docs/benchmarks.md, "Lever:
// packed bundles (stop 54)", has the measured effect.
//
// Body encoding (integers are unsigned LEB128 varints, at most 10 bytes):
//   count, then per entry:
//     what (1 byte: bundle_entry::kind),
//     sender (0 = none, i + 1 = actors[i]),
//     number of targets, then each target (i + 1 = actors[i]; 0 = none),
//     n1, n2, n3,
//     s1 length, s1 bytes, s2 length, s2 bytes,
//     a (0 = none, i + 1 = actors[i]).
// Entries of kind::other (a type-erased caf::message: a join, a leave) are
// not packed: a bundle holding one goes as format 1 (packable()). A
// std::vector<caf::message> beside the body was tried: CAF 0.17 reads such
// a vector from a few forged bytes into gigabytes (tests/fuzz/fuzz_bundle.cpp
// found it), which a caf::message inside a bundle_entry does not.
//
// Errors: unpack() refuses a body that does not decode (a peer's bug or an
// attack on the cluster port): a varint longer than 10 bytes or past 2^64, a
// count or length larger than the bytes left (checked before anything is
// allocated), an index past `actors`, trailing bytes. The whole
// bundle is refused then, as BASP drops a message it cannot read.
//
// Compatibility: a replica actor answers the lane's probe (bundle_atom) with
// packed_bundle_format since stop 54, and still reads formats 0 and 1; the
// lane sends this format only to a relay that answered it.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/sec.hpp>

#include "runtime/bundle.hpp"

namespace skein {

/// The bundle format a replica actor reads since stop 54.
inline constexpr std::uint32_t packed_bundle_format = 2;

/// Registered with CAF by add_bundle_types (bundle.hpp).
struct packed_bundle {
  std::vector<caf::actor> actors;  // every actor the entries name, each once
  std::string body;                // the entries (encoding above)
};

/// CAF's inspection; reading fails with sec::invalid_argument where CAF 0.17
/// would throw (see bundle.hpp's inspect).
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, packed_bundle& x) {
  return inspect_guarded<Inspector>(
    [&] { return f(caf::meta::type_name("skein::packed_bundle"), x.actors, x.body); });
}

/// True if no entry is of kind::other (those go as format 1).
bool packable(const std::vector<bundle_entry>& entries);

/// The entries as one packed bundle (moved from). Precondition:
/// packable(entries); an entry's `other` message is not carried.
packed_bundle pack(std::vector<bundle_entry>&& entries);

/// The entries of b; nullopt if the body does not decode (see Errors above).
std::optional<std::vector<bundle_entry>> unpack(packed_bundle& b);

}  // namespace skein
