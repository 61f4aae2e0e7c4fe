// Placement by rendezvous (highest random weight) hashing.
//
// Algorithm: D. Thaler and C. Ravishankar, "Using name-based mappings to
// increase hit rates", IEEE/ACM Transactions on Networking 6(1), 1998.
// Every node n gets the score XXH64(key, seed = XXH64(n)) for a session key;
// the node with the highest score owns the session, and the ranking of the
// rest gives the replica set. Every node computes the same owner from the
// same member list, and a join or leave moves only the keys whose top-ranked
// node changed (about 1/N of them).
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace skein {

/// The score of `node` for `key`; higher wins.
std::uint64_t hrw_score(std::string_view node, std::string_view key) noexcept;

/// All `nodes` ranked for `key`, best first (ties, practically impossible,
/// break by name). Duplicates in `nodes` are kept.
std::vector<std::string> hrw_ranking(std::string_view key, std::span<const std::string> nodes);

/// The owner of `key` among `nodes`; empty if `nodes` is empty.
std::string hrw_owner(std::string_view key, std::span<const std::string> nodes);

}  // namespace skein
