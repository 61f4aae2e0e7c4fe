// The body encoding shared by packed (format 2, runtime/packed_bundle.hpp)
// and slotted (format 3, runtime/slotted_bundle.hpp) lane bundles: entries
// as unsigned LEB128 varints and length-prefixed bytes, with each actor
// reference written and read by a callback of the format's own.
//
// Body: count, then per entry:
//   what (1 byte: bundle_entry::kind), sender (ref), number of targets, each
//   target (ref), n1, n2, n3, s1 length, s1 bytes, s2 length, s2 bytes, a (ref).
// A ref is a varint whose meaning is the format's; 0 is always "no actor".
//
// Errors: decode_body() stops at the first bad read (a varint longer than
// 10 bytes or past 2^64, a count or length larger than the bytes left, a
// ref the format refuses, trailing bytes) and answers nullopt; nothing is
// sized from a count before the bytes for it are known to be there.
//
// Internal to the two formats; thread-safety: pure functions.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/bundle.hpp"

namespace skein::codec {

inline void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

inline void put_bytes(std::string& out, const std::string& s) {
  put_varint(out, s.size());
  out.append(s);
}

/// Reads a body; every read checks what is left first.
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

/// Appends the entries to out; ref(caf::actor&) -> std::uint64_t writes
/// nothing itself and answers the varint for an actor (it may move it).
template <class Ref>
void encode_body(std::vector<bundle_entry>& entries, std::string& out, Ref&& ref) {
  out.reserve(out.size() + entries.size() * 48);
  put_varint(out, entries.size());
  for (auto& e : entries) {
    out.push_back(static_cast<char>(e.what));
    put_varint(out, ref(e.sender));
    put_varint(out, e.targets.size());
    for (auto& t : e.targets) put_varint(out, ref(t));
    put_varint(out, e.n1);
    put_varint(out, e.n2);
    put_varint(out, e.n3);
    put_bytes(out, e.s1);
    put_bytes(out, e.s2);
    put_varint(out, ref(e.a));
  }
}

/// The entries of body, in order; resolve(std::uint64_t ref, caf::actor& out)
/// -> bool fills out for a nonzero ref and answers false for a ref the
/// format refuses. Refs are resolved in body order.
template <class Resolve>
std::optional<std::vector<bundle_entry>> decode_body(std::string_view body, Resolve&& resolve) {
  reader r{body};
  auto actor = [&](caf::actor& out) {
    auto i = r.varint();
    if (!r.ok || i == 0) return;
    if (!resolve(i, out)) r.ok = false;
  };
  // Entries are added as they are read (each takes at least 9 bytes of the
  // body), not sized from the count a peer claims.
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

}  // namespace skein::codec
