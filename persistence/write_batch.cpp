// write_batch: building a batch of puts and deletes (the codec is in
// batch_codec.cpp, applying it in store.cpp).
#include "persistence/write_batch.hpp"

#include <utility>

#include "persistence/keys.hpp"

namespace skein::persistence {

const char* column_name(column c) {
  switch (c) {
    case column::snapshots: return "snapshots";
    case column::journal: return "journal";
    case column::outbox: return "outbox";
    case column::meta: return "meta";
  }
  return "?";
}

// --- write_batch -----------------------------------------------------------

void write_batch::put_snapshot(std::string_view session_key, const snapshot_record& r) {
  ops_.push_back(
      {op_kind::put, column::snapshots, seq_key(session_key, r.journal_seq), persistence::encode(r)});
}

void write_batch::put_journal(std::string_view session_key, std::uint64_t seq,
                              const journal_record& r) {
  ops_.push_back({op_kind::put, column::journal, seq_key(session_key, seq), persistence::encode(r)});
}

void write_batch::put_outbox(std::string_view session_key, std::uint64_t seq,
                             const outbox_record& r) {
  ops_.push_back({op_kind::put, column::outbox, seq_key(session_key, seq), persistence::encode(r)});
}

void write_batch::put_meta(std::string_view key, std::string_view value) {
  ops_.push_back({op_kind::put, column::meta, std::string(key), std::string(value)});
}

void write_batch::put_raw(column c, std::string key, std::string value) {
  ops_.push_back({op_kind::put, c, std::move(key), std::move(value)});
}

void write_batch::erase(column c, std::string key) {
  ops_.push_back({op_kind::erase, c, std::move(key), {}});
}

void write_batch::erase_range(column c, std::string begin, std::string end) {
  ops_.push_back({op_kind::erase_range, c, std::move(begin), std::move(end)});
}

void write_batch::erase_session(std::string_view session_key) {
  auto begin = session_prefix(session_key);
  auto end = begin;
  end.back() = '\x01';  // just above every seq key of the session ("kind/id\0" + seq)
  for (auto c : {column::snapshots, column::journal, column::outbox}) erase_range(c, begin, end);
}

std::size_t write_batch::size() const { return ops_.size(); }

bool write_batch::empty() const { return ops_.empty(); }

void write_batch::append(write_batch&& other) {
  if (ops_.empty()) {
    ops_ = std::move(other.ops_);
  } else {
    // push_back's geometric growth, not an exact reserve: the committer
    // appends a group of many batches one by one, and reserving the exact
    // new size reallocated (and moved every op so far) on each append,
    // quadratic in the group (stop 51: a third of the commit thread's
    // samples at 1,000 rtt pairs).
    for (auto& o : other.ops_) ops_.push_back(std::move(o));
  }
  other.ops_.clear();
}

std::vector<write_batch::put_view> write_batch::puts() const {
  std::vector<put_view> out;
  for (const auto& o : ops_)
    if (o.kind == op_kind::put) out.push_back({o.column, o.key, o.value});
  return out;
}

bool write_batch::confined_to(std::string_view session_key) const {
  const auto prefix = session_prefix(session_key);
  const auto upper = seq_key(session_key, ~std::uint64_t{0});
  const auto epoch = epoch_meta_key(session_key);
  const auto timers = timer_meta_key(session_key);
  auto inside = [&](const std::string& k) {
    return k.size() >= prefix.size() && k.compare(0, prefix.size(), prefix) == 0;
  };
  for (const auto& o : ops_) {
    if (o.column == column::meta) {
      if (o.key == timers && o.kind != op_kind::erase_range) continue;
      if (o.kind != op_kind::put || o.key != epoch) return false;
      continue;
    }
    if (!inside(o.key)) return false;
    if (o.kind == op_kind::erase_range && !(inside(o.value) || o.value == upper)) return false;
  }
  return true;
}

}  // namespace skein::persistence
