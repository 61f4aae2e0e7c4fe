// RocksDB's info log, sent to spdlog instead of the file DATA/LOG, and what
// it says about WAL recovery.
//
// Why not the file: RocksDB writes its LOG through a WritableFileWriter like
// the WAL; once an append failed (a full disk) the next message asserts in
// Debian's build (`WritableFileWriter::AssertFalseAndGetStatusForPrevError`)
// and aborts the process. The first background error on a full disk is
// itself logged, so a node on a full disk died about a second after its
// first refused write. spdlog writes to stderr and survives a full disk.
//
// Levels: RocksDB DEBUG/INFO/HEADER -> spdlog debug (RocksDB's INFO is
// chatty: every flush and compaction; passed on only if spdlog's level was
// debug or lower when the logger was made), WARN -> warn, ERROR/FATAL ->
// error. Every line is prefixed "rocksdb: ".
//
// WAL recovery: while a store opens, RocksDB reports each WAL file it could
// not replay to the end as "<file>: dropping <n> bytes; <status>" (with
// wal_recovery_mode kPointInTimeRecovery, also for a record torn at the
// tail). Those lines are collected as dropped_tail values.
//
// Thread-safety: Logv may be called from any RocksDB thread concurrently;
// dropped() takes the same mutex.
#pragma once

#include <cstdarg>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rocksdb/env.h>

#include "persistence/wal_report.hpp"

namespace skein::persistence {

/// Parses a formatted RocksDB log line "...FILE: dropping N bytes; STATUS";
/// nullopt for any other line. FILE is the text after the last "] " (the
/// source-location prefix) or "(ignoring error) " before ": dropping".
std::optional<dropped_tail> parse_dropped_tail(std::string_view line);

class rocks_logger : public rocksdb::Logger {
 public:
  rocks_logger();
  using rocksdb::Logger::Logv;
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override;
  void Logv(const char* format, va_list ap) override;

  /// Every dropped-tail line seen so far, in order.
  std::vector<dropped_tail> dropped() const;

 private:
  mutable std::mutex mutex_;
  std::vector<dropped_tail> dropped_;  // guarded by mutex_
};

}  // namespace skein::persistence
