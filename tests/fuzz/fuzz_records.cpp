// libFuzzer target: stored msgpack records (persistence/records.cpp), as
// read back from RocksDB or a replica: decoding must return a record or
// throw record_error, and a decoded record must encode and decode to itself.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "persistence/errors.hpp"
#include "persistence/records.hpp"

namespace p = skein::persistence;

template <class Decode, class Encode>
void check(std::string_view bytes, Decode decode, Encode encode) {
  try {
    auto r = decode(bytes, "fuzz");
    auto again = decode(encode(r), "fuzz");
    if (encode(again) != encode(r)) std::abort();
  } catch (const p::record_error&) {
  }
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  check(bytes, p::decode_snapshot, [](const p::snapshot_record& r) { return p::encode(r); });
  check(bytes, p::decode_journal, [](const p::journal_record& r) { return p::encode(r); });
  check(bytes, p::decode_outbox, [](const p::outbox_record& r) { return p::encode(r); });
  return 0;
}
