// A write_batch: the unit of every write to the RocksDB store, and its wire
// form for shipping writes to another node.
//
// A batch is a list of puts and deletes over the store's column families,
// applied atomically and in order by store::write (persistence/store.hpp) or
// by the group committer (persistence/committer.hpp). Records are encoded
// (records.hpp) when they are added, so a batch holds only bytes and can be
// built without a store. Keys of snapshots, journal and outbox entries are
// seq_keys (keys.hpp); meta keys are free-form text.
//
// Errors: the put_* members throw std::invalid_argument if a session key
// contains a NUL byte; decode throws record_error (column "batch").
//
// Thread-safety: a plain value type, not synchronised.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "persistence/records.hpp"

namespace skein::persistence {

class store;

// The column families of the store (store.hpp describes what each holds).
enum class column { snapshots, journal, outbox, meta };

// The RocksDB column family name of c: "snapshots", "journal", "outbox", "meta".
const char* column_name(column c);

// A list of puts and deletes, applied atomically, in order, by store::write.
// Records are encoded when added.
class write_batch {
 public:
  // Key seq_key(session_key, record.journal_seq): replaces only a snapshot
  // with the same journal_seq, older ones stay (the snapshots column holds a
  // history, see store.hpp).
  void put_snapshot(std::string_view session_key, const snapshot_record&);
  void put_journal(std::string_view session_key, std::uint64_t seq, const journal_record&);
  void put_outbox(std::string_view session_key, std::uint64_t seq, const outbox_record&);
  void put_meta(std::string_view key, std::string_view value);
  // Unchecked bytes, for tools and tests (e.g. writing a corrupt record).
  void put_raw(column, std::string key, std::string value);
  void erase(column, std::string key);
  // Deletes every key in [begin, end) of the column, e.g.
  // erase_range(column::journal, seq_key(s, 0), seq_key(s, n + 1)) deletes
  // journal entries 0..n of session s (n included).
  void erase_range(column, std::string begin, std::string end);
  // Deletes every snapshot, journal entry and outbox event of one session
  // (its epoch and timer index entries in meta stay).
  void erase_session(std::string_view session_key);

  std::size_t size() const;  // number of operations

  // The puts of the batch in order, as (column, key, value) views into it
  // (valid while the batch lives and is not changed). Lets a session copy
  // be read without a store (runtime/activation.cpp, when the local store
  // cannot read the records the copy replaces).
  struct put_view {
    persistence::column column;
    std::string_view key, value;
  };
  std::vector<put_view> puts() const;

  // True if every operation stays inside one session's records: puts and
  // erases in snapshots, journal and outbox under session_prefix(session_key)
  // (erase_range: both ends inside, or the end the session's upper bound
  // seq_key(session_key, 2^64-1)), and in meta only puts of
  // epoch_meta_key(session_key) and puts and erases of timer_meta_key(session_key).
  // A replica checks this before writing a batch another node sent.
  bool confined_to(std::string_view session_key) const;
  bool empty() const;
  void append(write_batch&& other);  // moves other's ops to the end; other becomes empty

  // Wire form, for shipping a batch to another node (replication, handoff):
  // msgpack [1, [[kind, column, key:bin, value:bin], ...]].
  std::string encode() const;
  // Throws record_error (column "batch", key `what`) if `bytes` do not decode.
  static write_batch decode(std::string_view bytes, std::string_view what);

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

}  // namespace skein::persistence
