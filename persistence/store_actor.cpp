// The store actor (store_actor.hpp): every request is one read of the store
// on the actor's own thread, answered as a message; persistence exceptions
// become store_errc errors naming the session key. Also the store error
// category and load_session_records, the read recovery needs.
#include "persistence/store_actor.hpp"

#include <algorithm>
#include <charconv>
#include <exception>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/message.hpp>
#include <caf/result.hpp>
#include <caf/spawn_options.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include "persistence/keys.hpp"
#include "persistence/store.hpp"

namespace skein::persistence {

namespace {

const char* to_string(store_errc code) {
  switch (code) {
    case store_errc::io_failure: return "io_failure";
    case store_errc::corrupt_record: return "corrupt_record";
  }
  return "unknown";
}

/// The exception in flight as a store error: record_error -> corrupt_record,
/// anything else (store_error, a failed allocation) -> io_failure. Call only
/// from a catch block.
caf::error current_error(const std::string& key) {
  try {
    throw;
  } catch (const record_error& e) {
    return make_error(store_errc::corrupt_record, key + ": " + e.what());
  } catch (const std::exception& e) {
    return make_error(store_errc::io_failure, key + ": " + e.what());
  } catch (...) {
    return make_error(store_errc::io_failure, key + ": unknown exception");
  }
}

/// The fencing epoch under epoch_meta_key(key): 0 if none; a value that is
/// not entirely a decimal number is corrupt_record (never 0).
caf::result<std::uint64_t> stored_epoch(const store& db, const std::string& key) {
  auto v = db.get_meta(epoch_meta_key(key));
  if (!v) return std::uint64_t{0};
  std::uint64_t e = 0;
  const char* end = v->data() + v->size();
  auto [p, ec] = std::from_chars(v->data(), end, e);
  if (v->empty() || ec != std::errc{} || p != end)
    return make_error(store_errc::corrupt_record,
                      key + ": corrupt epoch record " + epoch_meta_key(key) + ": '"
                        + printable(*v) + "' is not a decimal number");
  return e;
}

/// (epoch, journal_seq) of the newest snapshot, then of the last journal
/// entry after it. A record that does not decode ends the walk (logged);
/// a RocksDB failure throws store_error.
std::pair<std::uint64_t, std::uint64_t> position_of(const store& db, const std::string& key) {
  std::pair<std::uint64_t, std::uint64_t> pos{0, 0};
  try {
    if (auto snap = db.load_snapshot(key)) pos = {snap->epoch, snap->journal_seq};
    auto journal = db.load_journal(key, pos.second + 1);
    if (!journal.empty()) pos = {journal.back().second.epoch, journal.back().first};
  } catch (const record_error& e) {
    spdlog::warn("position of {}: {}", key, e.what());
  }
  return pos;
}

store_actor::behavior_type store_fun(store_actor::pointer, store* db) {
  return {
    [db](load_atom, const std::string& key) -> caf::result<session_records_ptr> {
      try {
        return session_records_ptr{
          std::make_shared<const session_records>(load_session_records(*db, key))};
      } catch (...) {
        return current_error(key);
      }
    },
    [db](outbox_atom, const std::string& key,
         std::uint64_t from_seq) -> caf::result<outbox_ptr> {
      try {
        return outbox_ptr{std::make_shared<outbox_ptr::element_type>(
          db->load_outbox(key, from_seq))};
      } catch (...) {
        return current_error(key);
      }
    },
    [db](copy_atom, const std::string& key, std::uint64_t epoch) -> caf::result<std::string> {
      try {
        auto b = db->session_copy(key);
        if (epoch > 0) b.put_meta(epoch_meta_key(key), std::to_string(epoch));
        return b.encode();
      } catch (...) {
        return current_error(key);
      }
    },
    [db](position_atom,
         const std::string& key) -> caf::result<std::uint64_t, std::uint64_t> {
      try {
        auto [epoch, journal_seq] = position_of(*db, key);
        return {epoch, journal_seq};
      } catch (...) {
        return current_error(key);
      }
    },
    [db](epoch_atom, const std::string& key) -> caf::result<std::uint64_t> {
      try {
        return stored_epoch(*db, key);
      } catch (...) {
        return current_error(key);
      }
    },
    [db](due_atom) -> caf::result<timer_index_ptr> {
      try {
        return std::make_shared<const std::vector<std::pair<std::string, std::int64_t>>>(
          db->timer_index());
      } catch (...) {
        return current_error("the timer index");
      }
    },
  };
}

}  // namespace

caf::error make_error(store_errc code, std::string context) {
  return caf::error{static_cast<std::uint8_t>(code), store_category,
                    caf::make_message(std::move(context))};
}

void add_store_error_category(caf::actor_system_config& cfg) {
  cfg.add_error_category(store_category,
                         [](std::uint8_t code, caf::atom_value, const caf::message& ctx) {
                           std::string out = "store.";
                           out += to_string(static_cast<store_errc>(code));
                           if (ctx.match_elements<std::string>()) {
                             out += ": ";
                             out += ctx.get_as<std::string>(0);
                           }
                           return out;
                         });
}

store_actor spawn_store_actor(caf::actor_system& sys, store& db) {
  return sys.spawn<caf::detached + caf::hidden>(store_fun, &db);
}

session_records load_session_records(const store& db, const std::string& key) {
  session_records out;
  out.snapshots = db.load_snapshots(key);
  const std::uint64_t from = out.snapshots.empty() ? 0 : out.snapshots.back().journal_seq + 1;
  out.journal = db.load_journal(key, from);
  return out;
}

session_records session_records_in(const write_batch& copy, const std::string& key) {
  session_records out;
  std::vector<std::pair<std::uint64_t, journal_record>> journal;
  for (const auto& p : copy.puts()) {
    if (p.column != column::snapshots && p.column != column::journal) continue;
    auto parsed = parse_seq_key(p.key);
    if (!parsed || parsed->first != key) continue;
    if (p.column == column::snapshots)
      out.snapshots.push_back(decode_snapshot(p.value, printable(p.key)));
    else
      journal.emplace_back(parsed->second, decode_journal(p.value, printable(p.key)));
  }
  std::sort(out.snapshots.begin(), out.snapshots.end(),
            [](const auto& a, const auto& b) { return a.journal_seq < b.journal_seq; });
  std::sort(journal.begin(), journal.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  const std::uint64_t from = out.snapshots.empty() ? 0 : out.snapshots.back().journal_seq + 1;
  for (auto& j : journal)
    if (j.first >= from) out.journal.push_back(std::move(j));
  return out;
}

const std::vector<dropped_tail>& dropped_wal_tails(const store& db) {
  return db.dropped_wal_tails();
}

store_ptr open_store(const std::filesystem::path& dir, bool sync,
                     const std::string& rocksdb_options) {
  store_options o{dir, sync, false};
  o.rocksdb_options = rocksdb_options;
  return store_ptr(new store(o), [](store* s) { delete s; });
}

}  // namespace skein::persistence
