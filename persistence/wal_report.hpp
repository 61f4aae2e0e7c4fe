// What a store's open found about its write-ahead log (persistence/store.hpp).
#pragma once

#include <cstdint>
#include <string>

namespace skein::persistence {

/// One WAL file whose tail RocksDB did not replay when the store opened
/// (a record torn by a crash or a truncated file): the writes in those
/// bytes are not in the store.
struct dropped_tail {
  std::string file;        // the WAL file as RocksDB named it (DIR/000012.log)
  std::uint64_t bytes = 0; // bytes dropped
  std::string reason;      // RocksDB's status text, e.g. "Corruption: truncated header"
};

}  // namespace skein::persistence
