// The RocksDB store: column families, batches, reads (persistence/store.hpp).
#include "persistence/store.hpp"

#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "persistence/insert_hint.hpp"
#include "persistence/keys.hpp"
#include "persistence/rocks_log.hpp"

namespace skein::persistence {
namespace {

constexpr std::array<column, 4> all_columns{column::snapshots, column::journal, column::outbox,
                                            column::meta};

rocksdb::Slice slice(std::string_view s) { return {s.data(), s.size()}; }

/// [a, b) when begin and end are seq_key(s, a) and seq_key(s, b) of one
/// session s with a < b; nullopt for any other pair of bounds.
std::optional<std::pair<std::uint64_t, std::uint64_t>> enumerable_seq_range(std::string_view begin,
                                                                              std::string_view end) {
  auto lo = parse_seq_key(begin), hi = parse_seq_key(end);
  if (!lo || !hi || lo->first != hi->first || lo->second >= hi->second) return std::nullopt;
  return std::pair{lo->second, hi->second};
}

// Every read checks the checksums of the blocks it reads (RocksDB's default,
// stated here): a corrupt SST block is Status::Corruption (a store_error
// "... Corruption: block checksum mismatch ..."), never silently wrong bytes.
rocksdb::ReadOptions read_options() {
  rocksdb::ReadOptions ro;
  ro.verify_checksums = true;
  return ro;
}

// The memtable insert hint's prefix extractor (insert_hint.hpp).
class session_insert_hint final : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return insert_hint_name.data(); }
  // RocksDB calls this only for keys InDomain (memtable.cc), which is where
  // insert_hint_prefix checked the key: its prefix is all but the seq bytes.
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return {key.data(), key.size() - 8};
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return insert_hint_prefix(std::string_view(key.data(), key.size())).has_value();
  }
};

}  // namespace

// --- store -----------------------------------------------------------------

struct store::impl {
  store_options options;
  std::unique_ptr<rocksdb::DB> db;
  std::array<rocksdb::ColumnFamilyHandle*, 4> handles{};  // indexed by column
  std::vector<rocksdb::ColumnFamilyHandle*> all_handles;   // owned, incl. default
  std::shared_ptr<rocks_logger> logger = std::make_shared<rocks_logger>();
  std::vector<dropped_tail> dropped;  // WAL tails not replayed by the open
  bool hinted = false;  // memtable insert hints on (insert_hint.hpp)
  // write() reads the keys an erase_range covers and then writes their
  // deletes: one writer at a time, so no other write lands in between.
  std::mutex write_mutex;

  rocksdb::ColumnFamilyHandle* cf(column c) const { return handles[static_cast<int>(c)]; }

  [[noreturn]] void fail(const char* what, const rocksdb::Status& s) const {
    throw store_error(std::string("rocksdb ") + what + " failed in " + options.dir.string() +
                      ": " + s.ToString());
  }

  void check(const char* what, const rocksdb::Status& s) const {
    if (!s.ok()) fail(what, s);
  }

  // Calls f(binary_key, value) for every key of the session with seq >=
  // from_seq, in order; stops at the session's last key.
  template <typename F>
  void scan(column c, std::string_view session_key, std::uint64_t from_seq, F f) const {
    std::string start = seq_key(session_key, from_seq);
    std::string upper(session_key);
    upper += '\x01';  // just past every "session\0..." key
    rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions ro = read_options();
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, cf(c)));
    for (it->Seek(start); it->Valid(); it->Next()) {
      std::string_view key(it->key().data(), it->key().size());
      std::string_view value(it->value().data(), it->value().size());
      f(key, value);
    }
    check("iterate", it->status());
  }

  // The newest entry of the session with seq <= at_most, as (binary key,
  // value), or nullopt. One seek backwards, bounded to the session's range.
  std::optional<std::pair<std::string, std::string>> last_at_or_before(
      column c, std::string_view session_key, std::uint64_t at_most) const {
    std::string lower = session_prefix(session_key);
    std::string upper(session_key);
    upper += '\x01';
    rocksdb::Slice lower_slice(lower), upper_slice(upper);
    rocksdb::ReadOptions ro = read_options();
    ro.iterate_lower_bound = &lower_slice;
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, cf(c)));
    if (at_most == std::numeric_limits<std::uint64_t>::max())
      it->SeekToLast();
    else
      it->SeekForPrev(seq_key(session_key, at_most));
    std::optional<std::pair<std::string, std::string>> out;
    if (it->Valid()) out.emplace(it->key().ToString(), it->value().ToString());
    check("iterate", it->status());
    return out;
  }

  // Decodes a snapshot found under key, checking the key belongs to session_key.
  static snapshot_record decode_snapshot_at(std::string_view key, std::string_view value,
                                            std::string_view session_key) {
    auto parsed = parse_seq_key(key);
    if (!parsed || parsed->first != session_key)
      throw record_error(column_name(column::snapshots), printable(key), "malformed key");
    return decode_snapshot(value, printable(key));
  }

  template <typename Record, typename Decode>
  std::vector<std::pair<std::uint64_t, Record>> load_seq(column c, std::string_view session_key,
                                                         std::uint64_t from_seq,
                                                         Decode decode) const {
    std::vector<std::pair<std::uint64_t, Record>> out;
    scan(c, session_key, from_seq, [&](std::string_view key, std::string_view value) {
      auto parsed = parse_seq_key(key);
      if (!parsed || parsed->first != session_key)
        throw record_error(column_name(c), printable(key), "malformed key");
      out.emplace_back(parsed->second, decode(value, printable(key)));
    });
    return out;
  }
};

namespace {

/// Applies store_options::rocksdb_options over `db` and `cf` (RocksDB's
/// parser), refusing changes to what the store's guarantees rest on.
void apply_option_string(const std::string& text, rocksdb::DBOptions& db,
                         rocksdb::ColumnFamilyOptions& cf) {
  rocksdb::ConfigOptions config;
  config.ignore_unknown_options = false;
  config.ignore_unsupported_options = false;
  rocksdb::Options parsed;
  auto s = rocksdb::GetOptionsFromString(config, rocksdb::Options(db, cf), text, &parsed);
  if (!s.ok()) {
    // Both may echo the operator's bytes: shown escaped and cut short.
    auto shown = [](std::string_view v) {
      constexpr std::size_t limit = 200;
      return printable(v.substr(0, limit)) + (v.size() > limit ? "..." : "");
    };
    throw store_error("bad rocksdb options \"" + shown(text) + "\": " + shown(s.ToString()));
  }
  auto refuse = [&](const char* name, bool changed) {
    if (changed)
      throw store_error(std::string("rocksdb option ") + name +
                        " cannot be changed: the store's durability and error handling rest "
                        "on its setting (persistence/store.hpp)");
  };
  refuse("wal_recovery_mode", parsed.wal_recovery_mode != db.wal_recovery_mode);
  refuse("paranoid_checks", parsed.paranoid_checks != db.paranoid_checks);
  refuse("max_bgerror_resume_count", parsed.max_bgerror_resume_count != db.max_bgerror_resume_count);
  refuse("manual_wal_flush", parsed.manual_wal_flush != db.manual_wal_flush);
  refuse("unordered_write", parsed.unordered_write != db.unordered_write);
  refuse("create_if_missing", parsed.create_if_missing != db.create_if_missing);
  refuse("create_missing_column_families",
         parsed.create_missing_column_families != db.create_missing_column_families);
  // Another extractor could put range tombstones in its hint domain, which
  // corrupts RocksDB 7.8's memtable (insert_hint.hpp); off is allowed.
  if (parsed.memtable_insert_with_hint_prefix_extractor
      && parsed.memtable_insert_with_hint_prefix_extractor
             != cf.memtable_insert_with_hint_prefix_extractor)
    throw store_error("rocksdb option memtable_insert_with_hint_prefix_extractor can only be set "
                      "to nullptr: the store's own extractor keeps range tombstones out of its "
                      "hints (persistence/insert_hint.hpp)");
  db = rocksdb::DBOptions(parsed);  // parsed from db: info_log and env carried over
  cf = rocksdb::ColumnFamilyOptions(parsed);
}

/// True if `dir` holds a WAL file (RocksDB's NNNNNN.log) with any bytes.
bool holds_wal_records(const std::filesystem::path& dir) {
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".log" && it->is_regular_file(ec) && it->file_size(ec) > 0
        && !ec)
      return true;
  return false;
}

}  // namespace

store::store(const store_options& options) : impl_(std::make_unique<impl>()) {
  impl_->options = options;
  rocksdb::Options db_options;
  db_options.create_if_missing = !options.read_only;
  db_options.create_missing_column_families = !options.read_only;
  // No automatic recovery from a background error (a full disk, an I/O
  // error): RocksDB 7 retries DB::Resume every second by default, which reuses
  // the failed WAL writer and aborts on an assertion in Debian's build. The
  // committer refuses writes after a failure instead (committer.hpp).
  db_options.max_bgerror_resume_count = 0;
  // RocksDB's info log goes to spdlog, not to DATA/LOG: after a failed
  // append (a full disk) the next LOG line aborts the process in Debian's
  // build (rocks_log.hpp). It also reports the WAL tails recovery drops.
  db_options.info_log = impl_->logger;
  // A torn WAL tail (a crash mid-write, a truncated file) ends replay at the
  // last intact record and the store opens with everything before it; the
  // default mode, set on purpose: kTolerateCorruptedTailRecords drops a torn
  // tail without reporting it, kAbsoluteConsistency refuses to open, and
  // kSkipAnyCorruptedRecords could replay records after a hole. Every drop
  // is logged and counted (dropped_wal_tails()).
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  // Corruption found while flushing or compacting stops writes instead of
  // being ignored (reads verify block checksums: read_options()).
  db_options.paranoid_checks = true;
  db_options.db_write_buffer_size = options.memtable_budget;
  db_options.max_open_files = options.max_open_files;
  rocksdb::ColumnFamilyOptions cf_options;
  if (options.memtable_insert_hints)
    cf_options.memtable_insert_with_hint_prefix_extractor = std::make_shared<session_insert_hint>();
  if (!options.rocksdb_options.empty())
    apply_option_string(options.rocksdb_options, db_options, cf_options);

  // Replaying a WAL inserts into the memtables too: read-only opens, which
  // write nothing, replay without hints, and a WAL that an earlier version
  // may have written with a range tombstone inside the hint domain
  // (insert_hint.hpp) is replayed and flushed without them first.
  auto descriptors_with = [&](bool hints) {
    rocksdb::ColumnFamilyOptions cf = cf_options;
    if (!hints) cf.memtable_insert_with_hint_prefix_extractor = nullptr;
    std::vector<rocksdb::ColumnFamilyDescriptor> out;
    out.emplace_back(rocksdb::kDefaultColumnFamilyName, cf);
    for (column c : all_columns) out.emplace_back(column_name(c), cf);
    return out;
  };
  const bool hinted =
      cf_options.memtable_insert_with_hint_prefix_extractor != nullptr && !options.read_only;
  auto descriptors = descriptors_with(hinted);
  impl_->hinted = hinted;

  if (!options.read_only) {
    std::error_code ec;
    std::filesystem::create_directories(options.dir, ec);
    if (ec)
      throw store_error("cannot create store directory " + options.dir.string() + ": " +
                        ec.message());
  }
  if (hinted && holds_wal_records(options.dir)) {
    // Open without hints, which replays the WAL; flush every column family,
    // so that its records are in SST files and the next open replays none.
    rocksdb::DB* plain_raw = nullptr;
    std::vector<rocksdb::ColumnFamilyHandle*> plain_handles;
    impl_->check("open (WAL replay without insert hints)",
                 rocksdb::DB::Open(db_options, options.dir.string(), descriptors_with(false),
                                   &plain_handles, &plain_raw));
    std::unique_ptr<rocksdb::DB> plain(plain_raw);
    rocksdb::FlushOptions fo;
    fo.wait = true;
    rocksdb::Status flushed = plain->Flush(fo, plain_handles);
    for (auto* h : plain_handles) plain->DestroyColumnFamilyHandle(h);
    rocksdb::Status closed = plain->Close();
    impl_->check("flush (WAL replay without insert hints)", flushed);
    impl_->check("close (WAL replay without insert hints)", closed);
  }

  rocksdb::DB* raw = nullptr;
  rocksdb::Status s =
      options.read_only
          ? rocksdb::DB::OpenForReadOnly(db_options, options.dir.string(), descriptors,
                                         &impl_->all_handles, &raw)
          : rocksdb::DB::Open(db_options, options.dir.string(), descriptors,
                              &impl_->all_handles, &raw);
  impl_->check(options.read_only ? "open (read-only)" : "open", s);
  impl_->db.reset(raw);
  impl_->dropped = impl_->logger->dropped();
  for (const auto& d : impl_->dropped)
    spdlog::warn("store {}: WAL {} lost {} bytes at its tail ({}); the writes in them are not in "
                 "the store", options.dir.string(), d.file, d.bytes, d.reason);
  for (std::size_t i = 0; i < all_columns.size(); ++i) impl_->handles[i] = impl_->all_handles[i + 1];
}

std::uint64_t store::memtable_bytes() const {
  std::uint64_t total = 0;
  for (auto* h : impl_->all_handles) {
    std::uint64_t v = 0;
    if (impl_->db->GetIntProperty(h, rocksdb::DB::Properties::kCurSizeAllMemTables, &v)) total += v;
  }
  return total;
}

void store::flush_memtables() {
  if (impl_->options.read_only) throw store_error("flush: the store is read-only");
  rocksdb::FlushOptions fo;
  fo.wait = true;
  impl_->check("flush (idle)", impl_->db->Flush(fo, impl_->all_handles));
}

store::~store() {
  for (auto* h : impl_->all_handles) impl_->db->DestroyColumnFamilyHandle(h);
  impl_->db->Close();  // flushing is not needed: the WAL holds every write
}

const store_options& store::options() const { return impl_->options; }

const std::vector<dropped_tail>& store::dropped_wal_tails() const { return impl_->dropped; }

// An erase_range is written as one point delete per key it covers (the keys
// in the store, read here, and the keys put earlier in the same batch), and
// as a RocksDB range tombstone only past max_point_deletes keys. Why:
// RocksDB 7.8 fragments all the range tombstones of the memtable again for
// every new iterator (MemTable::NewRangeTombstoneIterator builds a
// FragmentedRangeTombstoneList), so when every session trims its journal
// with DeleteRange, and every new replica copy starts with three, each read
// costs time linear in the sessions written since the last flush: 10 % of
// all CPU during 12,000 activations on 6 nodes, and activation slowed as the
// cluster filled (bench held6). A session's range holds at most a few
// hundred keys (its trimmed journal, outbox and snapshots), so the deletes
// cost little; a point tombstone costs a reader only inside its own range.
//
// A range between two seq keys of one session (every trim a snapshot makes)
// is not read at all: the only keys in [seq_key(s, a), seq_key(s, b)) are
// seq_key(s, n) for a <= n < b (a session key holds no NUL, so no other
// session's key and no other shape of key starts with "s\0" and sorts
// between them), so it is written as those b - a deletes, up to
// max_enumerated. Reading it took an iterator over every memtable and L0
// file per range, on the committer's thread and on each replica's: all the
// sessions of a benchmark that trim in the same ms stalled every commit for
// 35 ms (stop 65; docs/benchmarks.md, "The replicated tail was every
// session's snapshot at once").
void store::write(const write_batch& batch) {
  if (batch.empty()) return;
  constexpr std::size_t max_point_deletes = 4096;
  constexpr std::uint64_t max_enumerated = 1024;
  std::lock_guard lock(impl_->write_mutex);
  rocksdb::WriteBatch wb;
  // Keys put earlier in this batch, per column (views into batch.ops_):
  // indexed from the first erase_range on, so a batch without one (every
  // input's) allocates nothing for it.
  std::array<std::set<std::string_view>, all_columns.size()> put_here;
  bool indexed = false;
  auto track = [&](const write_batch::op& o) {
    auto& puts = put_here[static_cast<std::size_t>(o.column)];
    if (o.kind == write_batch::op_kind::put) puts.insert(o.key);
    else if (o.kind == write_batch::op_kind::erase) puts.erase(o.key);
  };
  std::vector<std::string> covered;
  for (const auto& o : batch.ops_) {
    auto* cf = impl_->cf(o.column);
    auto& puts = put_here[static_cast<std::size_t>(o.column)];
    rocksdb::Status s;
    switch (o.kind) {
      case write_batch::op_kind::put:
        s = wb.Put(cf, o.key, o.value);
        if (indexed) track(o);
        break;
      case write_batch::op_kind::erase:
        s = wb.Delete(cf, o.key);
        if (indexed) track(o);
        break;
      case write_batch::op_kind::erase_range: {
        if (!(o.key < o.value)) break;  // an empty range
        if (auto r = enumerable_seq_range(o.key, o.value); r && r->second - r->first <= max_enumerated) {
          std::string k = o.key;
          for (std::uint64_t n = r->first; n < r->second && s.ok(); ++n) {
            set_seq(k, n);
            s = wb.Delete(cf, k);
          }
          if (indexed) puts.erase(puts.lower_bound(o.key), puts.lower_bound(o.value));
          break;
        }
        if (!indexed) {
          for (const auto* p = batch.ops_.data(); p != &o; ++p) track(*p);
          indexed = true;
        }
        covered.clear();
        bool too_many = false;
        {
          rocksdb::Slice lo(slice(o.key)), hi(slice(o.value));
          rocksdb::ReadOptions ro = read_options();
          ro.iterate_lower_bound = &lo;
          ro.iterate_upper_bound = &hi;
          std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, cf));
          for (it->Seek(lo); it->Valid() && !too_many; it->Next()) {
            covered.emplace_back(it->key().data(), it->key().size());
            too_many = covered.size() > max_point_deletes;
          }
          // A range that cannot be read (a corrupt SST block) is deleted with
          // a range tombstone, which needs no read: that is how a copy
          // fetched from a replica replaces unreadable records
          // (tests/cluster/corrupt_sst.test.mjs).
          if (!it->status().ok()) too_many = true;
        }
        auto first = puts.lower_bound(o.key), last = puts.lower_bound(o.value);
        if (too_many || covered.size() + static_cast<std::size_t>(std::distance(first, last))
                          > max_point_deletes) {
          s = wb.DeleteRange(
              cf, impl_->hinted ? range_begin_outside_hints(o.key) : o.key, o.value);
        } else {
          for (const auto& k : covered)
            if (s.ok()) s = wb.Delete(cf, k);
          for (auto i = first; i != last && s.ok(); ++i) s = wb.Delete(cf, slice(*i));
        }
        puts.erase(first, last);
        break;
      }
    }
    impl_->check("batch", s);
  }
  rocksdb::WriteOptions wo;
  wo.sync = impl_->options.sync;
  impl_->check("write", impl_->db->Write(wo, &wb));
}

std::optional<std::string> store::get_raw(column c, std::string_view key) const {
  std::string value;
  rocksdb::Status s = impl_->db->Get(read_options(), impl_->cf(c), slice(key), &value);
  if (s.IsNotFound()) return std::nullopt;
  impl_->check("get", s);
  return value;
}

std::optional<snapshot_record> store::load_snapshot(std::string_view session_key) const {
  return load_snapshot_at_or_before(session_key, std::numeric_limits<std::uint64_t>::max());
}

std::optional<snapshot_record> store::load_snapshot_at_or_before(std::string_view session_key,
                                                                 std::uint64_t journal_seq) const {
  auto found = impl_->last_at_or_before(column::snapshots, session_key, journal_seq);
  if (!found) return std::nullopt;
  return impl::decode_snapshot_at(found->first, found->second, session_key);
}

std::vector<snapshot_record> store::load_snapshots(std::string_view session_key) const {
  std::vector<snapshot_record> out;
  impl_->scan(column::snapshots, session_key, 0, [&](std::string_view key, std::string_view value) {
    out.push_back(impl::decode_snapshot_at(key, value, session_key));
  });
  return out;
}

std::vector<std::pair<std::uint64_t, journal_record>> store::load_journal(
    std::string_view session_key, std::uint64_t from_seq) const {
  return impl_->load_seq<journal_record>(column::journal, session_key, from_seq, decode_journal);
}

std::vector<std::pair<std::uint64_t, outbox_record>> store::load_outbox(
    std::string_view session_key, std::uint64_t from_seq) const {
  return impl_->load_seq<outbox_record>(column::outbox, session_key, from_seq, decode_outbox);
}

std::optional<std::string> store::get_meta(std::string_view key) const {
  return get_raw(column::meta, key);
}

std::vector<std::string> store::session_keys() const {
  std::vector<std::string> keys;
  for (column c : {column::snapshots, column::journal, column::outbox}) {
    std::unique_ptr<rocksdb::Iterator> it(
        impl_->db->NewIterator(read_options(), impl_->cf(c)));
    it->SeekToFirst();
    while (it->Valid()) {
      auto parsed = parse_seq_key(std::string_view(it->key().data(), it->key().size()));
      if (!parsed) {
        it->Next();
        continue;
      }
      keys.push_back(parsed->first);
      // Skip the rest of this session: every "session\0..." key sorts below
      // "session\x01".
      it->Seek(parsed->first + '\x01');
    }
    impl_->check("iterate", it->status());
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

session_summary store::summarize(std::string_view session_key) const {
  session_summary sum;
  sum.key = std::string(session_key);
  (void)session_prefix(session_key);  // std::invalid_argument on a NUL byte
  std::string upper(session_key);
  upper += '\x01';

  // Every key in [session_key, session_key + "\x01"): the bare session key
  // (old snapshot layout) and everything starting with session_key + '\0'.
  auto walk = [&](column c, auto on_record) {
    rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions ro = read_options();
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->cf(c)));
    for (it->Seek(slice(session_key)); it->Valid(); it->Next()) {
      std::string_view key(it->key().data(), it->key().size());
      std::string_view value(it->value().data(), it->value().size());
      sum.bytes += key.size() + value.size();
      auto parsed = parse_seq_key(key);
      if (!parsed || parsed->first != session_key) {
        sum.errors.push_back(record_error(column_name(c), printable(key), "malformed key").what());
        continue;
      }
      try {
        on_record(parsed->second, key, value);
      } catch (const record_error& e) {
        sum.errors.push_back(e.what());
      }
    }
    impl_->check("iterate", it->status());
  };

  walk(column::snapshots, [&](std::uint64_t seq, std::string_view key, std::string_view value) {
    ++sum.snapshots;
    sum.newest_snapshot_journal_seq = seq;
    snapshot_record r = decode_snapshot(value, printable(key));
    sum.epoch = std::max(sum.epoch, r.epoch);
    if (r.journal_seq != seq)
      sum.errors.push_back("snapshot key mismatch at " + printable(key) + ": journal_seq is " +
                           std::to_string(r.journal_seq));
  });
  walk(column::journal, [&](std::uint64_t seq, std::string_view key, std::string_view value) {
    if (sum.journal_last && seq != *sum.journal_last + 1) {
      std::uint64_t expected = *sum.journal_last + 1;
      sum.errors.push_back("journal gap at " + printable(seq_key(session_key, expected)) +
                           ": expected " + std::to_string(expected) + ", found " +
                           std::to_string(seq));
    }
    if (!sum.journal_first) sum.journal_first = seq;
    sum.journal_last = seq;
    journal_record r = decode_journal(value, printable(key));
    sum.epoch = std::max(sum.epoch, r.epoch);
  });
  walk(column::outbox, [&](std::uint64_t seq, std::string_view key, std::string_view value) {
    if (!sum.outbox_first) sum.outbox_first = seq;
    sum.outbox_last = seq;
    decode_outbox(value, printable(key));
  });
  return sum;
}

write_batch store::session_copy(std::string_view key) const {
  write_batch b;
  auto lo = seq_key(key, 0), hi = seq_key(key, ~std::uint64_t{0});
  for (auto c : {column::snapshots, column::journal, column::outbox}) b.erase_range(c, lo, hi);
  for (auto& s : load_snapshots(key)) b.put_snapshot(key, s);
  for (auto& [seq, r] : load_journal(key)) b.put_journal(key, seq, r);
  for (auto& [seq, r] : load_outbox(key)) b.put_outbox(key, seq, r);
  if (auto due = get_meta(timer_meta_key(key))) b.put_meta(timer_meta_key(key), *due);
  else b.erase(column::meta, timer_meta_key(key));
  return b;
}

std::vector<std::pair<std::string, std::int64_t>> store::timer_index() const {
  std::vector<std::pair<std::string, std::int64_t>> out;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(read_options(), impl_->cf(column::meta)));
  const rocksdb::Slice prefix(timer_index_prefix.data(), timer_index_prefix.size());
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    std::string_view key(it->key().data() + prefix.size(), it->key().size() - prefix.size());
    std::string_view value(it->value().data(), it->value().size());
    std::int64_t due = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), due);
    if (ec != std::errc{} || p != value.data() + value.size() || key.empty()) {
      spdlog::warn("timer index: skipping a malformed entry {}", printable(it->key().ToString()));
      continue;
    }
    out.emplace_back(std::string(key), due);
  }
  if (!it->status().ok()) impl_->fail("timer index scan", it->status());
  return out;
}

}  // namespace skein::persistence
