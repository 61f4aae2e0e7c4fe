// Exceptions thrown by the persistence layer.
//
// store_error:  a RocksDB call failed (open, write, read). what() holds the
//               operation, the RocksDB status text and the store directory.
// record_error: the bytes stored under a key do not decode as the expected
//               record. what() names the column and the printable key (see
//               keys.hpp: "chat/room1#42" for snapshot, journal and outbox
//               keys; other keys as text with \xNN escapes). Never thrown for
//               a missing record.
//
// Both are plain copyable values, safe to throw across threads.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

namespace skein::persistence {

class store_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class record_error : public std::runtime_error {
 public:
  // what(): "corrupt record in <column> at <key>: <reason>".
  record_error(std::string column, std::string key, const std::string& reason)
      : record_error(column, key,
                     "corrupt record in " + column + " at " + key + ": " + reason, 0) {}

  // what(): "unsupported format version <v> in <column> at <key> (this build
  // reads version <supported>)".
  static record_error unsupported_version(std::string column, std::string key,
                                          std::uint64_t version, std::uint32_t supported) {
    std::string what = "unsupported format version " + std::to_string(version) + " in " +
                       column + " at " + key + " (this build reads versions 1 to " +
                       std::to_string(supported) + ")";
    return record_error(std::move(column), std::move(key), what, 0);
  }

  // The printable key of the bad record, e.g. "chat/room1#42".
  const std::string& key() const noexcept { return key_; }
  // The column family: "snapshots", "journal", "outbox" or "meta".
  const std::string& column() const noexcept { return column_; }

 private:
  record_error(std::string column, std::string key, const std::string& what, int)
      : std::runtime_error(what), column_(std::move(column)), key_(std::move(key)) {}

  std::string column_;
  std::string key_;
};

}  // namespace skein::persistence
