// The store actor: the only way actors and the runtime read the RocksDB
// store. It is a CAF actor spawned `detached` (its own thread), so a slow
// read (a large session's journal, a full copy for a handoff) waits on that
// thread and never on a CAF scheduler thread; the requester carries on and
// gets the answer as a message. Writes do not go through it: they go to the
// group committer (persistence/committer.hpp), which is the other storage
// thread and answers with a callback that posts a message.
//
// Protocol (typed, so the compiler checks every requester):
//   (load_atom, key)             -> session_records_ptr  newest snapshots and the
//                                   journal after the newest one (for recovery)
//   (outbox_atom, key, from_seq) -> outbox_ptr           outbox entries seq >= from_seq
//   (copy_atom, key, uint64 epoch) -> std::string        write_batch::encode() of
//                                   store::session_copy(key) (replaces a peer's records),
//                                   plus put_meta(epoch_meta_key(key), epoch) if epoch > 0
//   (position_atom, key)         -> (uint64 epoch, uint64 journal_seq) of the newest
//                                   record held for key ((0, 0) if none; a record that
//                                   does not decode counts as none and is logged)
//   (epoch_atom, key)            -> uint64 the fencing epoch stored under
//                                   epoch_meta_key(key), 0 if none
//   (due_atom)                   -> timer_index_ptr  store::timer_index()
// key is a session key "kind/id" (already validated by the requester).
//
// Errors: every request may fail with a caf::error of category `store_category`
// (store_errc::io_failure: RocksDB reported an error; store_errc::corrupt_record:
// stored bytes do not decode; an epoch record that is not a decimal number is
// corrupt, never read as 0). The context string names the key.
//
// Ordering: requests are answered one at a time in arrival order. A read sees
// every batch whose committer callback has run before the read was sent.
//
// Thread-safety: the handle is a value; send from any actor. The store must
// outlive the actor (the node owns both and stops the actor first).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/timespan.hpp>
#include <caf/typed_actor.hpp>

#include "persistence/records.hpp"
#include "persistence/wal_report.hpp"
#include "persistence/write_batch.hpp"

namespace skein::persistence {

class store;

/// What recovery needs of one session.
struct session_records {
  std::vector<snapshot_record> snapshots;  // every kept snapshot, oldest first
  // Journal entries after the newest snapshot's journal_seq (all of them if
  // there is no snapshot), in seq order: (seq, record).
  std::vector<std::pair<std::uint64_t, journal_record>> journal;
};
using session_records_ptr = std::shared_ptr<const session_records>;
using outbox_ptr = std::shared_ptr<const std::vector<std::pair<std::uint64_t, outbox_record>>>;
/// (session key, earliest due ms) pairs of store::timer_index().
using timer_index_ptr = std::shared_ptr<const std::vector<std::pair<std::string, std::int64_t>>>;

using load_atom = caf::atom_constant<caf::atom("load")>;
using outbox_atom = caf::atom_constant<caf::atom("outbox")>;
using copy_atom = caf::atom_constant<caf::atom("copy")>;
using position_atom = caf::atom_constant<caf::atom("position")>;
using epoch_atom = caf::atom_constant<caf::atom("epoch")>;
using due_atom = caf::atom_constant<caf::atom("due")>;

using store_actor = caf::typed_actor<
  caf::replies_to<load_atom, std::string>::with<session_records_ptr>,
  caf::replies_to<outbox_atom, std::string, std::uint64_t>::with<outbox_ptr>,
  caf::replies_to<copy_atom, std::string, std::uint64_t>::with<std::string>,
  caf::replies_to<position_atom, std::string>::with<std::uint64_t, std::uint64_t>,
  caf::replies_to<epoch_atom, std::string>::with<std::uint64_t>,
  caf::replies_to<due_atom>::with<timer_index_ptr>>;

/// How long a requester waits for the store actor (and for the node's own
/// replica actor, whose local answers wait only on it): without a limit.
/// The store actor answers every request, with a value or a store error,
/// and a request sent to it after it stopped fails at once with
/// caf::sec::request_receiver_down. A per-request timeout would only cost
/// memory: CAF 0.17 keeps every request's timeout in its clock until it
/// expires, answered or not (about 90 bytes per request for the whole
/// timeout). With the former 60 s, a 3-node cluster held some 20 such
/// entries per newly connected client for a minute, 1.8 KiB per idle
/// connection (docs/benchmarks.md, "Lever: request timeouts that outlive
/// their answers"). A node whose disk hangs serves none of its sessions,
/// with or without the timeout.
inline constexpr caf::infinite_t store_wait{};

/// The category atom of store errors (`err.category() == store_category`).
constexpr caf::atom_value store_category = caf::atom("store");

enum class store_errc : std::uint8_t {
  io_failure = 1,  // RocksDB reported an error (context: key and RocksDB status)
  corrupt_record,  // stored bytes do not decode (context: key and reason)
};

caf::error make_error(store_errc code, std::string context);

/// Registers the category so that actor_system::render prints "store.CODE: context".
void add_store_error_category(caf::actor_system_config& cfg);

/// An owned store whose type stays incomplete for the owner (the node),
/// so that nothing outside persistence/ includes store.hpp.
using store_ptr = std::unique_ptr<store, void (*)(store*)>;

/// Opens (creating if missing) the RocksDB store in `dir`; `sync`: fsync the
/// WAL on every write; `rocksdb_options`: store_options::rocksdb_options.
/// Throws store_error (persistence/errors.hpp).
store_ptr open_store(const std::filesystem::path& dir, bool sync,
                     const std::string& rocksdb_options = {});

/// store::dropped_wal_tails() for an owner that only holds a store_ptr.
const std::vector<dropped_tail>& dropped_wal_tails(const store& db);

/// Spawns the store actor on its own thread (caf::detached). It is also
/// caf::hidden, so await_all_actors_done() does not wait for it: its owner
/// stops it once every actor that reads through it is done
/// (anon_send_exit, then scoped_actor::wait_for), before `db` is closed and
/// before the actor system is destroyed (which waits for detached threads).
/// `db` must outlive it.
store_actor spawn_store_actor(caf::actor_system& sys, store& db);

/// The session's records as recovery reads them (also used by the offline
/// `replay` command). Throws record_error / store_error.
session_records load_session_records(const store& db, const std::string& key);

/// The same records read from a session copy (store::session_copy, shipped
/// as a write_batch) instead of a store: its snapshots and the journal after
/// the newest one. Puts of other sessions or with malformed keys are skipped
/// (the caller checked write_batch::confined_to). Throws record_error.
session_records session_records_in(const write_batch& copy, const std::string& key);

}  // namespace skein::persistence

// Local messages only (node-internal); never serialised.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(skein::persistence::session_records_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(skein::persistence::outbox_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(skein::persistence::timer_index_ptr)
