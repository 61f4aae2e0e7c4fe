// local_commits: how far a session's batches are durable on this node,
// published by the committer's thread and read by the session actor, so that
// a batch which waits for replica acks anyway needs no `committed` message
// of its own (session_gate.cpp, commit).
//
// Why: with durability replicated a batch is released when it is committed
// locally AND acknowledged by every replica. The local commit nearly always
// finishes first (one group-committed RocksDB write on this node, against a
// round trip through the lane, BASP and the replica's own commit), so its
// `committed` message woke the session for nothing: a cross-thread enqueue
// from the committer's thread (often a scheduler wake-up) and a session
// turn, twice per input with the poison guard. Now the committer's callback
// stores the batch's id here; the session reads it when a replica ack (or
// anything else) runs release(), and asks for a message only when it finds
// itself waiting on the local commit alone (notify).
//
// Protocol (the two sides of a Dekker handshake, hence seq_cst):
//  - committer thread, batch `id` done without error: done = id, then
//    notify.exchange(false); post `committed` only if it was true. A failed
//    batch always posts (its error stops the session).
//  - session: to wait, notify = true, then read done again; if the batch is
//    done after all, it goes on (a `committed` message may still come; the
//    session ignores one for a batch it already counted).
//  Either the committer sees notify or the session sees done: no wake-up is
//  lost. Commit ids of one session ascend and the committer calls callbacks
//  in submission order, so done covers every earlier batch too.
//
// Thread-safety: the atomics are shared by one committer thread and one
// session actor; one object per activation (shared_ptr: callbacks may
// outlive it).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace skein {

struct local_commits {
  using clock = std::chrono::steady_clock;
  std::atomic<std::uint64_t> done{0};  // last commit id durable on this node (0: none)
  std::atomic<std::int64_t> done_at{0};  // clock::now() of that completion, ns since epoch
  std::atomic<bool> notify{false};       // the session waits for the next completion

  /// Committer thread: batch `id` is durable. True if the session asked to
  /// be told (post `committed`).
  bool completed(std::uint64_t id) {
    done_at.store(clock::now().time_since_epoch().count(), std::memory_order_relaxed);
    done.store(id);
    return notify.exchange(false);
  }
  /// Session: the time of the last completion it can see (for the
  /// replication lag metric; a later completion may have overwritten it).
  clock::time_point last_done_at() const {
    return clock::time_point(clock::duration(done_at.load(std::memory_order_relaxed)));
  }
};

}  // namespace skein
