// Internal to the directory actor (runtime/directory*.cpp, activation.cpp,
// handoff.cpp): its state and the functions its files share.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/metrics.hpp"
#include "actors/session.hpp"
#include "persistence/write_batch.hpp"
#include "runtime/directory.hpp"
#include "runtime/pending_writes.hpp"

namespace skein::directory_detail {

using clock = std::chrono::steady_clock;

struct waiting_resolve {
  caf::typed_response_promise<caf::actor> promise;
  std::string key;
  std::uint64_t hops = 0;
  bool existing = false;  // activate only a session that has records
};

/// An activation in progress, by phase.
enum class phase {
  claiming,        // asking every member's directory
  awaiting_adopt,  // asked the member with a live activation to hand it off
  fetching,        // copying the freshest copy from a member's replica
  adopting,        // writing a copy handed off to us
  loading,         // reading the records and the epoch
  fencing,         // recording the new epoch locally and at the replicas
  verifying,       // asking the fenced replicas whether a longer copy reached them
};

struct activation {
  std::uint64_t gen = 0;  // answers of an older generation are ignored
  phase at = phase::claiming;
  std::vector<caf::typed_response_promise<caf::actor>> waiters;
  // The peer session whose adopt started this activation: answered with the
  // new activation, or with the failure; a failure before the fencing phase
  // is skein_error::handoff_refused (fail_waiters), so that it serves on.
  std::optional<caf::typed_response_promise<caf::actor>> adopter;
  std::uint64_t adopt_epoch = 0;       // the epoch that adopt came with
  std::size_t pending_claims = 0;
  std::string unanswered;              // a member whose claim answer failed
  std::uint64_t max_epoch = 0;
  std::string active_node;             // a member that holds a live activation
  std::string best_node;               // holder of the freshest copy
  std::pair<std::uint64_t, std::uint64_t> best{0, 0};  // (epoch, journal_seq)
  std::string clients_json = "[]";     // from an adopt
  // From an adopt of a durability-none session: the events its last owner
  // kept for resumes (session_init::recent).
  std::vector<std::pair<std::uint64_t, persistence::outbox_record>> recent;
  bool pinned = false;
  std::optional<session_init> ready;   // fencing: the session to start
  std::size_t pending_fences = 0;
  std::vector<caf::actor> fenced;      // the replicas that recorded the epoch (local first)
  // (epoch, journal seq) of the last record it recovered from, measured as
  // the claims measure a copy
  std::pair<std::uint64_t, std::uint64_t> loaded{0, 0};
  std::size_t pending_checks = 0;      // verifying: answers still missing
  std::string newer;                   // verifying: why a fenced replica's copy is newer
  bool existing_only = false;          // every waiter asked for an existing session only
  bool refetched = false;  // the local records were unreadable: fetched from a replica once
};

/// A session that hibernated here: its clients as the next activation
/// adopts them, and their connection actors (on any node), woken when it
/// activates again or this node stops owning it.
struct dormant_session {
  std::string clients_json;
  std::vector<caf::actor> conns;
};

struct local_session {
  caf::actor actor;
  bool handing_off = false;
  bool pinned = false;
  clock::time_point retry_after{};  // no new handoff attempt before this
  std::shared_ptr<session_counters> counters;  // clients, inputs (the session writes)
  clock::time_point passivate_asked{};         // the cap asked it to passivate then
  bool passivating = false;          // asked to passivate because its owner changed
  bool passivation_refused = false;  // it could not (a client came): hand it off
};

struct directory_state {
  static inline const char* name = "skein.directory";
  directory_init init;
  membership_actor membership;  // wired after spawn
  cluster_state_ptr cluster;    // the latest view (never null)
  std::map<std::string, local_session> sessions;
  std::map<std::string, activation> activating;
  std::map<std::string, std::vector<waiting_resolve>> waiting;  // by owner name
  std::vector<waiting_resolve> until_up;                        // while joining / no lease
  std::map<std::string, std::string> overrides;                 // key -> node (admin move)
  std::deque<std::string> to_hand_off;  // keys whose owner changed, in order
  std::size_t handoffs_in_flight = 0;
  std::size_t passivations_in_flight = 0;  // idle sessions leaving by passivation
  std::uint64_t next_gen = 1;
  bool drained_called = false;
  bool handoff_retry_armed = false;  // a retry_atom tick will rebalance (handoff.cpp)
  std::uint64_t pause_gen = 0;
  bool held = false;  // paused: hold resolves until the membership has rejoined
  pending_writes writes;  // copies awaited (activation.cpp)
  // timer wake-up (timer_wake.cpp)
  bool wake_scanned = false;          // the index was read once (start-up done)
  std::vector<std::string> wake_up;   // the up members at the last read
  std::deque<std::string> to_wake;    // keys to activate, earliest due first
  std::size_t wakes_in_flight = 0;
  std::map<std::string, std::int64_t> wake_due;       // key -> when to activate (wall ms)
  std::set<std::pair<std::int64_t, std::string>> wake_at;  // the same, by due time
  std::int64_t tick_for = 0;       // the due time the earliest alarm tick was sent for (0: none)
  std::set<std::string> wake_on_stop;  // due while still active here: wake when it stops
  std::map<std::string, int> wake_attempts;  // failed activations of a wake, by key
  // hibernated sessions (actors/session_hibernate.cpp): key -> what it kept
  std::map<std::string, dormant_session> dormant;
};

using self_ptr = directory_actor::stateful_pointer<directory_state>;

inline const std::string& self_name(self_ptr self) { return self->state.init.self; }
/// The connected peer's directory (null if not connected).
caf::actor peer_directory(self_ptr self, const std::string& name);
/// This node is draining (a drain was asked for; it ends in on_drained).
bool draining(self_ptr self);
/// This node owns nothing by placement (joining or draining): rebalance hands
/// off every local activation, pinned ones included.
bool out_of_placement(self_ptr self);
/// The member an admin move pinned `key` to, if that member is not down (a
/// pin to a down member is dropped); empty otherwise.
std::string pinned_owner(self_ptr self, const std::string& key);
/// The owner by placement: pinned_owner, else the HRW owner among the up
/// members; empty while there are none.
std::string placement_owner(self_ptr self, const std::string& key);

/// Wakes the hibernated connections of `key` (if any) and forgets them.
void wake_dormant(self_ptr self, const std::string& key);
/// Wakes every hibernated session this node no longer owns (all: `all`).
void wake_dormant_elsewhere(self_ptr self, bool all);

// activation.cpp
caf::result<caf::actor> activate(self_ptr self, const std::string& key, bool existing = false);
void fail_activation(self_ptr self, const std::string& key, const caf::error& why);
/// Answers every waiter of `a` (and its adopter) with `why`; an adopter whose
/// activation has not reached the fencing phase gets handoff_refused instead
/// (unless `why` is unrecoverable): nothing newer than its epoch exists.
void fail_waiters(activation& a, const caf::error& why);
/// Reads, recovers and fences `key` (the activation's phase becomes loading).
void load_and_start(self_ptr self, const std::string& key);
caf::result<caf::actor> adopt(self_ptr self, const std::string& key, std::uint64_t epoch,
                              const std::string& batch, const std::string& clients, bool pinned);
void submit(self_ptr self, persistence::write_batch b,
            std::function<void(const std::string&)> then);

// timer_wake.cpp
/// After a view change: activates the sessions with pending timers that this
/// node now owns because their owner left (or all it owns, at start-up).
void wake_timers(self_ptr self);
/// alarm_atom(key, due_ms, forwarded): a session passivated with a timer
/// due at due_ms (wall clock): activate it then; forwarded to the owner's
/// directory if that is another node and `forwarded` is false.
void schedule_wake(self_ptr self, const std::string& key, std::int64_t due_ms, bool forwarded);
/// alarm_atom alone: activates the sessions whose time has come.
void on_alarm_tick(self_ptr self);
/// A local session stopped: wakes it at once if its time came while it ran.
void session_stopped(self_ptr self, const std::string& key);
/// A session became active here: its planned wake is void (it runs its own
/// timers and sends a new alarm_atom when it passivates).
void forget_wake(self_ptr self, const std::string& key);

// handoff.cpp
void start_handoff(self_ptr self, const std::string& key, const std::string& target, bool pinned);
void rebalance(self_ptr self);
void on_directory_changed(self_ptr self);
void handed(self_ptr self, const std::string& key, bool ok);
/// The retry tick after a failed handoff: rebalance again (queues every
/// activation whose owner is elsewhere; start_handoff skips those whose
/// retry_after has not passed, and arms the next tick).
void retry_handoffs(self_ptr self);
/// Whether `key`'s kind is registered with durability none (its state lives
/// only in its activation). False for a malformed key or an unknown kind.
bool unjournaled(self_ptr self, const std::string& key);
/// Kills every local activation without releasing anything and fails every
/// activation in progress with `why`. With `keep_unjournaled`, activations of
/// durability-none kinds are kept (a lease lapse: their effects wait in
/// their gates for the lease, actors/session_gate.cpp); the rest stop.
void stop_activations(self_ptr self, const caf::error& why, bool keep_unjournaled = false);

}  // namespace skein::directory_detail
