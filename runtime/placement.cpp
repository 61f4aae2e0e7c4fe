// Rendezvous (HRW) placement with XXH64 (runtime/placement.hpp).
#include "runtime/placement.hpp"

#include <algorithm>

#include <xxhash.h>

namespace skein {

std::uint64_t hrw_score(std::string_view node, std::string_view key) noexcept {
  const XXH64_hash_t seed = XXH64(node.data(), node.size(), 0);
  return XXH64(key.data(), key.size(), seed);
}

std::vector<std::string> hrw_ranking(std::string_view key, std::span<const std::string> nodes) {
  std::vector<std::pair<std::uint64_t, std::string>> scored;
  scored.reserve(nodes.size());
  for (auto& n : nodes) scored.emplace_back(hrw_score(n, key), n);
  std::sort(scored.begin(), scored.end(), [](auto& a, auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::vector<std::string> out;
  out.reserve(scored.size());
  for (auto& [_, n] : scored) out.push_back(std::move(n));
  return out;
}

std::string hrw_owner(std::string_view key, std::span<const std::string> nodes) {
  const std::string* best = nullptr;
  std::uint64_t best_score = 0;
  for (auto& n : nodes) {
    auto s = hrw_score(n, key);
    if (!best || s > best_score || (s == best_score && n < *best)) {
      best = &n;
      best_score = s;
    }
  }
  return best ? *best : std::string{};
}

}  // namespace skein
