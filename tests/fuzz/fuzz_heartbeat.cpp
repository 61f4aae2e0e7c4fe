// libFuzzer target: UDP heartbeat datagrams (runtime/heartbeat_wire.cpp), as
// they arrive from the network: decoding must return a beat or nullopt, never
// crash; a decoded beat must encode (under a fixed key) to a datagram that
// decodes to the same fields, and a mac it did not carry must not verify.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "runtime/heartbeat_wire.hpp"

namespace hw = skein::heartbeat_wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto b = hw::decode(bytes);
  if (!b) return 0;
  static const std::string key(hw::key_bytes, 'k');
  auto again = hw::decode(hw::encode(*b, key));
  if (!again || again->from != b->from || again->to != b->to || again->ts != b->ts
      || again->echo != b->echo || again->incarnation != b->incarnation)
    std::abort();
  if (!hw::verify(*again, key)) std::abort();
  // The fuzzer's own mac verifies only if it is the real one.
  if (hw::verify(*b, key) != (b->mac == again->mac)) std::abort();
  return 0;
}
