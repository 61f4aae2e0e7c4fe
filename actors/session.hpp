// The session actor: the one live activation of a session `kind/id`.
//
// It owns the behaviour instance, the set of connected clients (connection
// actors on any node), the session's seqs and its output gate. Per input it
// writes one batch to the node's group committer: the journal entry (input,
// time, random values drawn, epoch, seqs), one outbox entry per output, and
// every `snapshot_every` inputs (or `snapshot_interval_ms`) a snapshot plus
// the retention deletes. With durability `local` the input's frames are sent
// only once that batch is committed; with `none` at once. Inputs keep being
// handled while earlier commits are in flight, so the gate adds latency, not
// a bound on throughput. On exit it writes a final snapshot.
//
// It never reads the store itself: a resume's missed frames (outbox), the
// copy shipped in a handoff and the copy for a replica new to the set are
// read by the node's store actor (persistence/store_actor.hpp) and arrive as
// messages, while inputs keep being handled. A resuming client receives
// every frame after its last_seq once, in seq order (session.cpp explains
// how); if they are no longer in the outbox, or it cannot be read, it gets a
// `reset` open. A handoff whose copy cannot be read is aborted.
//
// Protocol: see actors/atoms.hpp. A client whose connection actor goes down
// (its node died, its stream closed) is treated as closed.
#pragma once

#include <cstdint>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "actors/cluster_view.hpp"
#include "actors/handoff_clients.hpp"
#include "actors/instance.hpp"
#include "actors/metrics.hpp"
#include "actors/options.hpp"
#include "actors/recovery.hpp"
#include "persistence/store_actor.hpp"
#include "persistence/write_batch.hpp"

namespace skein::persistence { class committer; }

namespace skein {


struct session_init {
  std::string key;                              // "kind/id"
  std::string id;                               // the id part
  recovered_session recovered;                  // state, seqs and kept snapshots
  std::uint64_t epoch = 0;                      // this activation's epoch
  kind_options options;                         // snapshot policy, durability
  persistence::committer* committer = nullptr;  // outlives the actor (node-owned)
  persistence::store_actor store;               // reads: resume (outbox), handoff and replica copies
  caf::actor host;                              // the local session host
  std::shared_ptr<const cluster_view> view;     // members, replica hosts
  caf::actor lane;                              // remote sends go through it (runtime/lane.hpp)
  caf::actor relay;                             // this node's replica actor, through which other
                                                // nodes' lanes reach the session (null: none)
  std::string clients_json = "[]";              // clients adopted in a handoff
  /// Durability none: the events the last owner kept for resumes, by seq
  /// ascending (from a handoff; empty otherwise). The last outbox_keep stay.
  std::vector<std::pair<std::uint64_t, persistence::outbox_record>> recent;
  std::shared_ptr<session_counters> counters;   // live numbers for the host (may be null)
  /// How long a handoff waits for the target host's answer to its adopt.
  /// A durable session that hears nothing stops (its records hold it); a
  /// durability-none session asks again, up to adopt_attempts times in
  /// all, since its state lives only in this actor until the target has
  /// adopted it (the target answers a repeat when the adoption under way
  /// ends, runtime/activation.cpp). Tests shorten it.
  std::chrono::milliseconds adopt_timeout{10000};
  int adopt_attempts = 3;
};

/// The outbox records of `copy` under `key`, by seq ascending: what a
/// durability-none session kept for resumes, shipped in its handoff copy
/// (session_init::recent). Throws persistence::record_error if one does not
/// decode. Pure.
std::vector<std::pair<std::uint64_t, persistence::outbox_record>> kept_events(
  const persistence::write_batch& copy, const std::string& key);

/// Spawns a session actor. Thread-safe.
caf::actor spawn_session(caf::actor_system& sys, session_init init);

}  // namespace skein
