// Memtable insert hints: which keys RocksDB inserts through a per-session
// hint (ColumnFamilyOptions::memtable_insert_with_hint_prefix_extractor).
//
// A memtable is one skip list shared by every session of a column family,
// and every insert searches it from the top: at the rtt peak that search
// (InlineSkipList::FindSpliceForLevel) was most of the committer thread's
// time. A session's snapshot, journal and outbox keys arrive in seq order
// (keys.hpp: session key + '\0' + big-endian seq), so RocksDB's insert hint,
// which remembers where the last key of the same prefix went, finds each
// next place from there. bench/store/store_bench.cpp measured the store's
// CPU per input (1,000 sessions interleaved, the demo's batches) at about
// 29 % less with the hint (docs/benchmarks.md, "Lever: memtable insert
// hints").
//
// A hint costs about 250 bytes per prefix per memtable (RocksDB's estimate,
// advanced_options.h: a splice in the memtable's arena plus a hash-map
// entry beside it), paid until that memtable is flushed. A session pays it
// only from seq insert_hint_from_seq on: the hint pays for sessions that
// write many records, and the idle node's tens of thousands of sessions,
// each with a handful of records, insert as before at no extra memory.
//
// RocksDB 7.8 shares one hint map between a column family's point-key
// memtable and its range-tombstone memtable, so a range tombstone whose
// begin key is in the hint domain is inserted with a point key's splice and
// corrupts the range-tombstone list (Debian's build stops on an assertion in
// InlineSkipList::Insert; later RocksDB releases hint point keys only). The
// store therefore writes every range tombstone from
// range_begin_outside_hints(begin), which deletes the same keys, and opens a
// store whose WAL an earlier version may have written with such a
// tombstone without hints first, flushing it (store.cpp).
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace skein::persistence {

// Keys with a smaller seq insert without a hint.
inline constexpr std::uint64_t insert_hint_from_seq = 16;

// The hint prefix of `key` (its session key and the '\0' after it, a view
// into `key`) if `key` is a seq key (keys.hpp) whose seq is at least
// insert_hint_from_seq; nullopt otherwise (meta keys, a session's first
// records, anything shorter than 9 bytes).
std::optional<std::string_view> insert_hint_prefix(std::string_view key);

// A begin key for a range tombstone that deletes the same seq keys as one
// from `begin` and lies outside the hint domain: `begin` itself if it is
// outside; for begin = seq_key(s, n) inside it, seq_key(s, n - 1) + '\0'
// (above every seq key of s below n, below seq_key(s, n), and holding a NUL
// inside its session part, so never a seq key).
std::string range_begin_outside_hints(std::string_view begin);

// RocksDB's name of the prefix extractor built on insert_hint_prefix, as
// recorded in the store's OPTIONS file.
inline constexpr std::string_view insert_hint_name = "skein.SessionInsertHint";

}  // namespace skein::persistence
