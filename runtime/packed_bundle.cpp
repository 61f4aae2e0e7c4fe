// Packed lane bundles (runtime/packed_bundle.hpp).
#include "runtime/packed_bundle.hpp"

#include <algorithm>
#include <string_view>
#include <unordered_map>
#include <utility>

#include <caf/all.hpp>

#include "runtime/bundle_codec.hpp"

namespace skein {

bool packable(const std::vector<bundle_entry>& entries) {
  return std::none_of(entries.begin(), entries.end(), [](const bundle_entry& e) {
    return e.what == static_cast<std::uint8_t>(bundle_entry::kind::other) || !e.other.empty();
  });
}

packed_bundle pack(std::vector<bundle_entry>&& entries) {
  packed_bundle b;
  std::unordered_map<caf::actor, std::uint64_t> index;
  codec::encode_body(entries, b.body, [&](caf::actor& a) -> std::uint64_t {
    if (!a) return 0;
    auto [i, added] = index.try_emplace(a, b.actors.size() + 1);
    if (added) b.actors.push_back(std::move(a));
    return i->second;
  });
  return b;
}

std::optional<std::vector<bundle_entry>> unpack(packed_bundle& b) {
  return codec::decode_body(b.body, [&](std::uint64_t i, caf::actor& out) {
    if (i > b.actors.size()) return false;
    out = b.actors[i - 1];
    return true;
  });
}

}  // namespace skein
