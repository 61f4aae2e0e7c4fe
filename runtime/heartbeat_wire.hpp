// The heartbeat datagram: one quorum heartbeat sent over UDP beside BASP
// (runtime/heartbeat_channel.hpp), so that the lease echoes of
// runtime/quorum.hpp never queue behind bulk state in BASP's one in-order
// stream per peer.
//
// Wire shape: one msgpack array
//   [1, from:str, incarnation:uint, to:str, ts:int, echo:int, mac:bin(32)]
// where mac = HMAC-SHA256(key, msgpack of the first six elements) and `key`
// is the sender's heartbeat key: 32 random bytes per process, sent to its
// peers only inside BASP gossip (TLS-protected when the cluster port is).
// `to` names the receiver, so a datagram meant for one member cannot be
// replayed to another (an echo is a reading of the receiver's own clock);
// the receiver drops a datagram whose ts is not above the last one it took
// from that sender, so one cannot be replayed to the same member either.
// `ts` and `echo` are quorum::stamp readings (nanoseconds, > 0; echo 0 = none).
//
// Decoding is strict: truncated or trailing bytes, another version, a wrong
// type or array length, an empty or over-long name (over max_name_bytes), a
// ts <= 0, an echo < 0 or a mac not 32 bytes long give std::nullopt. It never
// throws and never allocates more than the input's size. All functions are
// pure and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace skein::heartbeat_wire {

inline constexpr std::uint32_t version = 1;
inline constexpr std::size_t key_bytes = 32;
inline constexpr std::size_t mac_bytes = 32;
inline constexpr std::size_t max_name_bytes = 128;
/// No valid datagram is longer (two names at the limit plus fixed fields).
inline constexpr std::size_t max_datagram_bytes = 512;

struct beat {
  std::string from;              // the sender's member name
  std::uint64_t incarnation = 0;  // the sender's incarnation
  std::string to;                // the receiver's member name
  std::int64_t ts = 0;           // the sender's clock reading
  std::int64_t echo = 0;         // the newest receiver reading the sender heard (0: none)
  std::string mac;               // HMAC-SHA256 (mac_bytes) over the other fields
};

/// A fresh random key (key_bytes, from OpenSSL's RAND_bytes).
/// Throws std::runtime_error if the generator fails.
std::string new_key();

/// The datagram for `b` (its mac is ignored and recomputed with `key`).
std::string encode(const beat& b, std::string_view key);

/// The datagram's fields, or nullopt if it is not one well-formed datagram.
/// Does not check the mac (see verify).
std::optional<beat> decode(std::string_view datagram);

/// True if `b.mac` is the HMAC of its fields under `key` (constant time).
/// False for a key of the wrong size.
bool verify(const beat& b, std::string_view key);

}  // namespace skein::heartbeat_wire
