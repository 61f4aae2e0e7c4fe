// Packed lane bundles (runtime/packed_bundle.hpp).
#include "runtime/packed_bundle.hpp"

#include <algorithm>
#include <string_view>
#include <unordered_map>
#include <utility>

#include <caf/all.hpp>

namespace skein {

namespace {

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_bytes(std::string& out, const std::string& s) {
  put_varint(out, s.size());
  out.append(s);
}

/// Reads the body; every read checks what is left first.
struct reader {
  std::string_view in;
  bool ok = true;

  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; ok; shift += 7) {
      if (in.empty() || shift > 63) break;
      const auto byte = static_cast<unsigned char>(in.front());
      in.remove_prefix(1);
      if (shift == 63 && byte > 1) break;  // past 2^64
      v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return v;
    }
    ok = false;
    return 0;
  }

  /// A count or length: at most the bytes left (each element takes one or more).
  std::size_t bounded() {
    auto n = varint();
    if (n > in.size()) ok = false;
    return ok ? static_cast<std::size_t>(n) : 0;
  }

  std::string bytes() {
    auto n = bounded();
    if (!ok) return {};
    std::string s(in.substr(0, n));
    in.remove_prefix(n);
    return s;
  }

  std::uint8_t byte() {
    if (in.empty()) {
      ok = false;
      return 0;
    }
    auto b = static_cast<std::uint8_t>(in.front());
    in.remove_prefix(1);
    return b;
  }
};

}  // namespace

bool packable(const std::vector<bundle_entry>& entries) {
  return std::none_of(entries.begin(), entries.end(), [](const bundle_entry& e) {
    return e.what == static_cast<std::uint8_t>(bundle_entry::kind::other) || !e.other.empty();
  });
}

packed_bundle pack(std::vector<bundle_entry>&& entries) {
  packed_bundle b;
  std::unordered_map<caf::actor, std::uint64_t> index;
  auto ref = [&](caf::actor& a) -> std::uint64_t {
    if (!a) return 0;
    auto [i, added] = index.try_emplace(a, b.actors.size() + 1);
    if (added) b.actors.push_back(std::move(a));
    return i->second;
  };
  b.body.reserve(entries.size() * 48);
  put_varint(b.body, entries.size());
  for (auto& e : entries) {
    b.body.push_back(static_cast<char>(e.what));
    put_varint(b.body, ref(e.sender));
    put_varint(b.body, e.targets.size());
    for (auto& t : e.targets) put_varint(b.body, ref(t));
    put_varint(b.body, e.n1);
    put_varint(b.body, e.n2);
    put_varint(b.body, e.n3);
    put_bytes(b.body, e.s1);
    put_bytes(b.body, e.s2);
    put_varint(b.body, ref(e.a));
  }
  return b;
}

std::optional<std::vector<bundle_entry>> unpack(packed_bundle& b) {
  reader r{b.body};
  auto actor = [&](caf::actor& out) {
    auto i = r.varint();
    if (!r.ok || i == 0) return;
    if (i > b.actors.size()) {
      r.ok = false;
      return;
    }
    out = b.actors[i - 1];
  };
  // Entries are added as they are read (each takes at least 9 bytes of
  // the body), not sized from the count a peer claims.
  const auto count = r.bounded();
  std::vector<bundle_entry> entries;
  entries.reserve(std::min<std::size_t>(count, 64));
  for (std::size_t n = 0; n < count && r.ok; ++n) {
    auto& e = entries.emplace_back();
    e.what = r.byte();
    actor(e.sender);
    e.targets.resize(r.bounded());
    for (auto& t : e.targets) actor(t);
    e.n1 = r.varint();
    e.n2 = r.varint();
    e.n3 = r.varint();
    e.s1 = r.bytes();
    e.s2 = r.bytes();
    actor(e.a);
  }
  if (!r.ok || !r.in.empty()) return std::nullopt;
  return entries;
}

}  // namespace skein
