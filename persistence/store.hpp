// The RocksDB store of one node.
//
// Column families (RocksDB names, plus "default" which is unused):
//   snapshots  session key            -> snapshot_record
//   journal    seq_key(session, seq)  -> journal_record
//   outbox     seq_key(session, seq)  -> outbox_record
//   meta       free-form text key     -> raw bytes (epochs, node identity)
// Keys are described in keys.hpp, records in records.hpp. Session keys are
// "kind/id" text without NUL bytes (std::invalid_argument otherwise).
//
// Errors: store_error when RocksDB reports a failure (the message holds the
// RocksDB status and the directory); record_error when stored bytes do not
// decode. A missing key is not an error (nullopt / empty vector).
//
// Thread-safety: every member of store may be called concurrently from any
// thread. write_batch is a plain value type (not synchronised).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "persistence/errors.hpp"
#include "persistence/records.hpp"

namespace skein::persistence {

enum class column { snapshots, journal, outbox, meta };

// The RocksDB column family name of c: "snapshots", "journal", "outbox", "meta".
const char* column_name(column c);

struct store_options {
  std::filesystem::path dir;  // RocksDB directory; created if missing unless read_only
  bool sync = false;          // fsync the WAL on every write (WriteOptions::sync)
  // Open with rocksdb::DB::OpenForReadOnly. That takes no file lock, so it
  // works while a node has the same directory open read-write; it sees what
  // was committed (WAL included) when it was opened, and nothing later.
  // write() then throws store_error. The directory must exist.
  bool read_only = false;
};

// A list of puts and deletes, applied atomically, in order, by store::write.
// Records are encoded when added.
class write_batch {
 public:
  void put_snapshot(std::string_view session_key, const snapshot_record&);
  void put_journal(std::string_view session_key, std::uint64_t seq, const journal_record&);
  void put_outbox(std::string_view session_key, std::uint64_t seq, const outbox_record&);
  void put_meta(std::string_view key, std::string_view value);
  // Unchecked bytes, for tools and tests (e.g. writing a corrupt record).
  void put_raw(column, std::string key, std::string value);
  void erase(column, std::string key);
  // Deletes every key in [begin, end) of the column, e.g.
  // erase_range(column::journal, seq_key(s, 0), seq_key(s, upto)).
  void erase_range(column, std::string begin, std::string end);

  std::size_t size() const;  // number of operations
  bool empty() const;
  void append(write_batch&& other);  // moves other's ops to the end; other becomes empty

 private:
  friend class store;
  enum class op_kind { put, erase, erase_range };
  struct op {
    op_kind kind;
    persistence::column column;
    std::string key;    // begin for erase_range
    std::string value;  // end for erase_range, empty for erase
  };
  std::vector<op> ops_;
};

class store {
 public:
  explicit store(const store_options&);  // opens or creates; throws store_error
  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  const store_options& options() const;

  // One atomic RocksDB Write of the whole batch (fsynced if options().sync).
  // An empty batch is a no-op. Throws store_error; then nothing was applied.
  void write(const write_batch&);

  // nullopt if the session has no snapshot. Throws record_error if corrupt.
  std::optional<snapshot_record> load_snapshot(std::string_view session_key) const;

  // (seq, record) pairs of the session with seq >= from_seq, in seq order.
  // Throws record_error naming the first key that does not decode.
  std::vector<std::pair<std::uint64_t, journal_record>> load_journal(
      std::string_view session_key, std::uint64_t from_seq = 0) const;
  std::vector<std::pair<std::uint64_t, outbox_record>> load_outbox(
      std::string_view session_key, std::uint64_t from_seq = 0) const;

  std::optional<std::string> get_meta(std::string_view key) const;

  // Every session key that has a snapshot, in bytewise order.
  std::vector<std::string> snapshot_keys() const;

  // The stored bytes under key, undecoded.
  std::optional<std::string> get_raw(column, std::string_view key) const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace skein::persistence
