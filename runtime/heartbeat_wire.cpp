// msgpack encoding, strict decoding and HMAC of heartbeat datagrams
// (runtime/heartbeat_wire.hpp).
#include "runtime/heartbeat_wire.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <msgpack.hpp>

#include <limits>
#include <stdexcept>

namespace skein::heartbeat_wire {
namespace {

using packer = msgpack::packer<msgpack::sbuffer>;

void pack_str(packer& pk, std::string_view s) {
  pk.pack_str(static_cast<std::uint32_t>(s.size()));
  pk.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
}

/// The six signed fields, in datagram order.
void pack_fields(packer& pk, const beat& b) {
  pk.pack_uint32(version);
  pack_str(pk, b.from);
  pk.pack_uint64(b.incarnation);
  pack_str(pk, b.to);
  pk.pack_int64(b.ts);
  pk.pack_int64(b.echo);
}

/// What the mac covers: the six fields as an array of six (the datagram is
/// an array of seven, the mac last).
std::string signed_part(const beat& b) {
  msgpack::sbuffer buf;
  packer pk(buf);
  pk.pack_array(6);
  pack_fields(pk, b);
  return {buf.data(), buf.size()};
}

std::string hmac(std::string_view key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
            reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len)
      || len != mac_bytes)
    return {};
  return {reinterpret_cast<const char*>(out), len};
}

bool name_ok(const msgpack::object& o) {
  return o.type == msgpack::type::STR && o.via.str.size > 0 && o.via.str.size <= max_name_bytes;
}

bool int64_of(const msgpack::object& o, std::int64_t& out) {
  if (o.type == msgpack::type::NEGATIVE_INTEGER) {
    out = o.via.i64;
    return true;
  }
  if (o.type == msgpack::type::POSITIVE_INTEGER
      && o.via.u64 <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    out = static_cast<std::int64_t>(o.via.u64);
    return true;
  }
  return false;
}

}  // namespace

std::string new_key() {
  std::string key(key_bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(key.size())) != 1)
    throw std::runtime_error("RAND_bytes failed: no heartbeat key");
  return key;
}

std::string encode(const beat& b, std::string_view key) {
  auto body = signed_part(b);
  auto mac = hmac(key, body);
  msgpack::sbuffer buf;
  packer pk(buf);
  pk.pack_array(7);
  pack_fields(pk, b);
  pk.pack_bin(static_cast<std::uint32_t>(mac.size()));
  pk.pack_bin_body(mac.data(), static_cast<std::uint32_t>(mac.size()));
  return {buf.data(), buf.size()};
}

std::optional<beat> decode(std::string_view datagram) {
  if (datagram.empty() || datagram.size() > max_datagram_bytes) return std::nullopt;
  try {
    // Every element takes at least one byte: no honest count exceeds the
    // input size, and depth 1 suffices (no nesting).
    std::size_t n = datagram.size();
    msgpack::unpack_limit limit(n, n, n, n, n, 2);
    std::size_t offset = 0;
    auto handle = msgpack::unpack(datagram.data(), datagram.size(), offset, nullptr, nullptr, limit);
    if (offset != datagram.size()) return std::nullopt;
    const auto& root = handle.get();
    if (root.type != msgpack::type::ARRAY || root.via.array.size != 7) return std::nullopt;
    const auto* e = root.via.array.ptr;
    if (e[0].type != msgpack::type::POSITIVE_INTEGER || e[0].via.u64 != version) return std::nullopt;
    if (!name_ok(e[1]) || !name_ok(e[3])) return std::nullopt;
    if (e[2].type != msgpack::type::POSITIVE_INTEGER) return std::nullopt;
    beat b;
    if (!int64_of(e[4], b.ts) || !int64_of(e[5], b.echo) || b.ts <= 0 || b.echo < 0)
      return std::nullopt;
    if (e[6].type != msgpack::type::BIN || e[6].via.bin.size != mac_bytes) return std::nullopt;
    b.from.assign(e[1].via.str.ptr, e[1].via.str.size);
    b.incarnation = e[2].via.u64;
    b.to.assign(e[3].via.str.ptr, e[3].via.str.size);
    b.mac.assign(e[6].via.bin.ptr, e[6].via.bin.size);
    return b;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

bool verify(const beat& b, std::string_view key) {
  if (key.size() != key_bytes || b.mac.size() != mac_bytes) return false;
  auto expect = hmac(key, signed_part(b));
  return expect.size() == mac_bytes && CRYPTO_memcmp(expect.data(), b.mac.data(), mac_bytes) == 0;
}

}  // namespace skein::heartbeat_wire
