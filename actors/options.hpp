// Per-kind persistence settings. A behaviour may declare defaults with
//   static skein::kind_options options() { skein::kind_options o; o.snapshot_every = 10; return o; }
// and the command line overrides them (`--kind-option chat.snapshot_every=10`).
#pragma once

#include <cstdint>
#include <string>

namespace skein {

/// When outputs are released to clients, and what is written for them.
enum class durability {
  /// Nothing is written: no journal, outbox, snapshot or replica copy. The
  /// state and the last `outbox_keep` events (for resumes) live only in the
  /// activation's memory; a drain or rebalance hands both over (a copy the
  /// next owner writes and erases once read), a crash or a kill loses them (the
  /// next activation starts from nothing and resuming clients get a reset).
  /// Outputs go out at once. What Socket.IO or an Orleans grain without
  /// storage gives.
  none,
  /// Outputs go out at once, before the input's journal entry is committed;
  /// the journal, outbox and snapshots are written and replicated behind
  /// them (write-behind). A crash loses at most the inputs not committed yet.
  async,
  local,  // after the journal entry is committed to this node's RocksDB (output gate)
  replicated,  // after it is committed here and on every live replica
};

/// True for the levels that send outputs before any commit (none, async):
/// no output gate, so no passivation, hibernation or poison guard either.
constexpr bool releases_at_once(durability d) { return d == durability::none || d == durability::async; }

struct kind_options {
  /// Take a snapshot after this many inputs since the last one. >= 1.
  std::uint32_t snapshot_every = 100;
  /// ...or when an input arrives this many ms after the last snapshot.
  std::uint32_t snapshot_interval_ms = 5000;
  /// Snapshots kept per session; the journal is kept from the oldest one on.
  std::uint32_t keep_snapshots = 2;
  /// Outbound events kept beyond that, for clients that resume (at least).
  /// With durability none: the events kept in memory (the last this many).
  std::uint32_t outbox_keep = 256;
  durability durable = durability::local;
  /// Journal each input as pending before its handler runs, so an input
  /// whose handler crashes the process is quarantined by the next
  /// activation instead of crashing it too (actors/poison.hpp). Costs one
  /// more journal write per input. Ignored with durability none and async.
  bool poison_guard = true;
  /// With the poison guard, an input's ack and frames leave once its
  /// pending record is durable (on this node and its replicas); its handled
  /// record (status applied, its outbox events, any snapshot) only saves
  /// the next activation from running the input again. It waits up to this
  /// many ms for the next batch of the session (usually the next input's
  /// pending record) and is written and replicated in one batch with it:
  /// one replication round trip per input instead of two. A crash meanwhile
  /// loses nothing acknowledged: the next activation finds the input
  /// pending and runs it again with the time and seed it was admitted with,
  /// which reproduces the frames already sent (same seqs; clients drop
  /// them as seen), after the poison check runs it in a child process. The
  /// handled record of an input that sends tells or of a reset open is
  /// written at once, and a lingering one before a handoff, a passivation
  /// or a hibernation; a resume serves its events from memory. 0 (the
  /// default) = each handled record is written at once. Ignored without
  /// the guard. The cost of turning it on: a write deferred
  /// into a window where it can fail. A disk that fills within this many ms
  /// of an input makes the deferred write fail, which stops the session as
  /// any failed commit does, and the input stays pending, so the session
  /// cannot be activated again until space is freed (without it, only a
  /// crash between an input's two writes leaves one pending).
  /// docs/benchmarks.md, "Lever: lingering handled records".
  std::uint32_t handled_linger_ms = 0;
  /// Passivate (snapshot and stop) an activation that has had no client
  /// for this many ms; the next request activates it again from the store.
  /// 0 = never. Ignored with durability none and async (no output gate to
  /// wait for the final snapshot behind).
  std::uint32_t idle_ms = 300000;
  /// Hibernate an activation whose clients are all attached but which has
  /// had no input for this many ms (as Durable Objects' WebSocket
  /// hibernation): a forced snapshot, then the session actor stops while
  /// its clients' streams stay open. Its directory keeps the clients (ids,
  /// params, tokens) and their connection actors; the next input of any of
  /// them, a leave, a publish, a tell or a timer activates the session
  /// again from its snapshot, the directory wakes every hibernated
  /// connection and each resumes from its last seq (so nothing is missed
  /// or repeated). 0 = never. Default 30 s (issue 15's idle time; Durable
  /// Objects may evict any object that runs no handler, Orleans collects a
  /// grain idle for 15 min by default): a room quiet for half a minute
  /// then costs only its directory entries, and its next input waits for
  /// one activation (a snapshot read). Ignored with durability none and async.
  std::uint32_t hibernate_ms = 30000;
  /// After a new activation recovered the session (failover, restart,
  /// handoff), clients that were open but are not attached get this many ms
  /// to resume; then each gets a journaled close (on_close). 0 = closed at once.
  std::uint32_t resume_grace_ms = 10000;
  /// Journal with every applied input a 64-bit hash of the state after its
  /// handler (persistence::journal_record::state_hash), so that `replay
  /// --check-state` finds the first input whose re-executed state differs
  /// even where no snapshot was taken. Costs one serialisation of the state
  /// and one XXH3 hash of its bytes per input, and 9 bytes per journal entry.
  bool check_state = false;
  /// Send frames and acks for connections on other nodes through the relay
  /// of their node (actors/session_relay.cpp): a broadcast then crosses the
  /// cluster once per node instead of once per connection, for one more
  /// actor hop on the receiving node. Off: one message per connection.
  bool relay = true;
};

/// Sets one option by name ("snapshot_every", "snapshot_interval_ms",
/// "keep_snapshots", "outbox_keep", "durability" = none|async|local|replicated,
/// "poison_guard" = on|off, "handled_linger_ms", "idle_ms", "hibernate_ms",
/// "resume_grace_ms", "check_state" = on|off, "relay" = on|off). Throws
/// std::invalid_argument naming the option or value on error.
void set_kind_option(kind_options& o, const std::string& name, const std::string& value);

}  // namespace skein
