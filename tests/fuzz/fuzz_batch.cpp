// libFuzzer target: a write batch on the wire (persistence/batch_codec.cpp)
// as a peer ships it in replicate and adopt messages: decoding must return
// a batch or throw record_error, never crash, throw anything else or
// allocate for counts the bytes cannot hold; a decoded batch must encode to
// bytes that decode to the same encoding, and confined_to must answer.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "persistence/errors.hpp"
#include "persistence/write_batch.hpp"

namespace p = skein::persistence;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  p::write_batch b;
  try {
    b = p::write_batch::decode(bytes, "fuzz");
  } catch (const p::record_error&) {
    return 0;
  }
  auto once = b.encode();
  p::write_batch again;
  try {
    again = p::write_batch::decode(once, "fuzz");
  } catch (const p::record_error&) {
    std::abort();  // what we wrote we must read
  }
  if (again.encode() != once) std::abort();
  (void)b.confined_to("chat/room");
  return 0;
}
