// The RocksDB store of one node.
//
// Column families (RocksDB names, plus "default" which is unused):
//   snapshots  seq_key(session, journal_seq) -> snapshot_record
//   journal    seq_key(session, seq)         -> journal_record
//   outbox     seq_key(session, seq)         -> outbox_record
//   meta       free-form text key            -> raw bytes (epochs, node identity)
// Keys are described in keys.hpp, records in records.hpp. Session keys are
// "kind/id" text without NUL bytes (std::invalid_argument otherwise).
//
// The snapshots column holds a HISTORY: every put_snapshot adds a snapshot
// under its journal_seq (the last journal entry folded into its state), so a
// session may have many; load_snapshot returns the newest. Recovery is the
// newest snapshot plus replay of the journal entries after its journal_seq;
// replay tools may start from an older one (load_snapshot_at_or_before).
// Nothing is ever deleted by the store: retention (which snapshots, journal
// and outbox entries to drop) is the caller's decision, expressed with erase
// and erase_range in the same write_batch as the new snapshot, so the trim is
// atomic with it. The keys of seqs 0..n of session s are exactly
//   [seq_key(s, 0), seq_key(s, n + 1))
// e.g. erase_range(column::journal, seq_key(s, 0), seq_key(s, n + 1)) drops
// the journal up to and including n. write() turns an erase_range into one
// point delete per key it covers (up to 4,096; beyond, a RocksDB range
// tombstone): RocksDB re-fragments the memtable's range tombstones for every
// new iterator, so one per session trim made reads slow down as sessions
// accumulated (store.cpp, store::write). A range it cannot read (corrupt
// SST blocks) is always written as a range tombstone, which needs no read.
//
// Errors: store_error when RocksDB reports a failure (the message holds the
// RocksDB status and the directory); record_error when stored bytes (or a key
// inside a session's range) do not decode. A missing key is not an error
// (nullopt / empty vector).
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
#include "persistence/wal_report.hpp"
#include "persistence/write_batch.hpp"

namespace skein::persistence {

struct store_options {
  std::filesystem::path dir;  // RocksDB directory; created if missing unless read_only
  bool sync = false;          // fsync the WAL on every write (WriteOptions::sync)
  // Open with rocksdb::DB::OpenForReadOnly. That takes no file lock, so it
  // works while a node has the same directory open read-write; it sees what
  // was committed (WAL included) when it was opened, and nothing later.
  // write() then throws store_error. The directory must exist.
  bool read_only = false;
  // Bytes the memtables of all column families may hold together; past it
  // RocksDB flushes the largest to an SST file (DBOptions::db_write_buffer_size).
  // Bounds the store's share of a node's memory whatever the session count:
  // without it each column family keeps up to two 64 MiB memtables
  // (RocksDB's write_buffer_size default), and idle sessions' records stay
  // in memory until one fills. 0: RocksDB's per-column limits only.
  std::size_t memtable_budget = 16u << 20;
  // SST files kept open (DBOptions::max_open_files); more are opened on
  // demand through the table cache. RocksDB's default, -1, keeps every file
  // open, and a node needs its descriptors for client sockets.
  int max_open_files = 512;
  // Insert a session's snapshot, journal and outbox keys into the memtables
  // through a per-session hint (RocksDB's
  // memtable_insert_with_hint_prefix_extractor; persistence/insert_hint.hpp):
  // about 29 % less CPU per input in the committer at 1,000 busy sessions,
  // about 250 bytes per session with seq >= 16 per memtable until it is
  // flushed. Recorded as "skein.SessionInsertHint" in the OPTIONS file.
  bool memtable_insert_hints = true;
  // RocksDB options in RocksDB's own option-string syntax
  // ("name=value;name=value", parsed by rocksdb::GetOptionsFromString; the
  // names are those of the OPTIONS file RocksDB writes into `dir`), applied
  // over the settings above: DB options to the database, column-family
  // options to every column family. For tuning and measurement, e.g.
  // "compression=kNoCompression;level0_file_num_compaction_trigger=8".
  // Errors (store_error from the constructor): a name RocksDB does not
  // know, a bad value, or a change to a setting the store's guarantees rest
  // on, which are refused rather than taken: wal_recovery_mode,
  // paranoid_checks, max_bgerror_resume_count (see store.cpp for why each
  // is set), manual_wal_flush and unordered_write (a write acknowledged
  // before it is in the WAL, or visible out of order), create_if_missing
  // and create_missing_column_families. Empty: nothing changed.
  std::string rocksdb_options;
};

// What store::summarize found for one session. Ranges come from the keys
// present (a record that does not decode still counts in them).
struct session_summary {
  std::string key;                                          // the session key
  std::size_t snapshots = 0;                                // snapshots stored
  std::optional<std::uint64_t> newest_snapshot_journal_seq;
  std::uint64_t epoch = 0;  // highest epoch among decoded snapshots and journal records
  std::optional<std::uint64_t> journal_first, journal_last;  // journal seq range present
  std::optional<std::uint64_t> outbox_first, outbox_last;    // outbox (event) seq range present
  std::uint64_t bytes = 0;  // sum of key + value sizes over snapshots, journal and outbox
  // In column order (snapshots, journal, outbox), then key order:
  //  - the what() of the record_error of every record that does not decode,
  //    and of every malformed key in the session's range (including a bare
  //    session key, the pre-history snapshot layout): "... at chat/a#12: ...";
  //  - "snapshot key mismatch at chat/a#5: journal_seq is 7";
  //  - "journal gap at chat/a#N: expected N, found M" for each jump in the
  //    journal's seqs (M > N).
  std::vector<std::string> errors;
};

class store {
 public:
  explicit store(const store_options&);  // opens or creates; throws store_error
  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  const store_options& options() const;

  // The WAL files whose tail the open did not replay (wal_report.hpp), each
  // also logged as a warning at open. Empty after a clean shutdown. RocksDB's
  // WAL recovery mode is kPointInTimeRecovery: replay stops at the first torn
  // or corrupt record and the store holds everything before it.
  const std::vector<dropped_tail>& dropped_wal_tails() const;

  // One atomic RocksDB Write of the whole batch (fsynced if options().sync).
  // An empty batch is a no-op. Throws store_error; then nothing was applied.
  void write(const write_batch&);

  // The newest snapshot (highest journal_seq) of the session, nullopt if it
  // has none. Reads one record (seeks to the end of the session's range).
  // Throws record_error naming the key ("chat/a#12") if that record is corrupt.
  std::optional<snapshot_record> load_snapshot(std::string_view session_key) const;

  // Every snapshot of the session, oldest (lowest journal_seq) first.
  // Throws record_error naming the first key that does not decode.
  std::vector<snapshot_record> load_snapshots(std::string_view session_key) const;

  // The newest snapshot with journal_seq <= journal_seq, nullopt if none.
  // Throws record_error naming the key if that record is corrupt.
  std::optional<snapshot_record> load_snapshot_at_or_before(std::string_view session_key,
                                                            std::uint64_t journal_seq) const;

  // (seq, record) pairs of the session with seq >= from_seq, in seq order.
  // Throws record_error naming the first key that does not decode.
  std::vector<std::pair<std::uint64_t, journal_record>> load_journal(
      std::string_view session_key, std::uint64_t from_seq = 0) const;
  std::vector<std::pair<std::uint64_t, outbox_record>> load_outbox(
      std::string_view session_key, std::uint64_t from_seq = 0) const;

  std::optional<std::string> get_meta(std::string_view key) const;

  // A batch that, written to another store, replaces that store's records of
  // `session_key` with this store's: erase_range over its snapshots, journal
  // and outbox, then every record it holds here. Used to ship a session
  // (handoff, a new replica, a fresher copy). Throws record_error.
  write_batch session_copy(std::string_view session_key) const;

  // The distinct session keys that have at least one record in snapshots,
  // journal or outbox, sorted bytewise. Keys that do not parse as a seq_key
  // are skipped (summarize reports those inside a session's range). Cost:
  // one seek per session per column, not one step per record.
  std::vector<std::string> session_keys() const;

  // A diagnostic overview of one session (for `skein inspect`). Decodes every
  // record of the session in the three columns; never throws record_error:
  // problems are collected in errors instead. Throws store_error on I/O
  // failure.
  session_summary summarize(std::string_view session_key) const;

  // The timer index (keys.hpp, timer_meta_key): (session key, earliest due
  // ms since the Unix epoch) of every session whose copy here has pending
  // timers, sorted by session key. Malformed entries are logged and skipped.
  // Cost: one scan of the index entries. Throws store_error.
  std::vector<std::pair<std::string, std::int64_t>> timer_index() const;

  // The stored bytes under key, undecoded.
  std::optional<std::string> get_raw(column, std::string_view key) const;

  // Bytes the memtables of every column family hold now, active and
  // immutable (RocksDB's "rocksdb.cur-size-all-mem-tables", summed).
  std::uint64_t memtable_bytes() const;

  // Writes every column family's memtable to an SST file and waits until it
  // is written, so that the memtables' memory is freed (the committer's idle
  // flush, committer.hpp). Writes from other threads go on meanwhile (into
  // new memtables). Throws store_error if RocksDB fails; a failed flush is a
  // background error after which RocksDB refuses writes, as when the budget
  // fills and RocksDB flushes on its own. Not for read-only stores.
  void flush_memtables();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace skein::persistence
