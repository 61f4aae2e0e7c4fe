// Group commit: many producers, one commit thread, few RocksDB writes.
//
// submit() queues a write_batch and returns at once (it takes a mutex only
// to enqueue; it never waits for I/O). The commit thread repeatedly takes
// every batch queued since its last write (up to max_ops_per_commit
// operations; a larger single batch goes alone), merges them in submission
// order into ONE atomic store::write, then calls the done callbacks of those
// batches in submission order, on the commit thread. So one producer's
// batches are applied and acknowledged in the order it submitted them.
//
// done(error): error is empty on success, else the store_error text; a
// failed merged write applied nothing, and every batch of that group gets
// the same error. Callbacks must be short (e.g. post a message) and must not
// throw (std::terminate) nor call stop() (it would join its own thread).
//
// After a failed write the committer refuses every later batch at once with
// "store refusing writes since: <first error>", without calling RocksDB
// again, until the process restarts: once a write failed (a full disk, an
// I/O error) RocksDB's WAL writer must not be used again, and Debian's build
// aborts on an assertion when it is (seen with further writes and with
// DB::Resume() on a full tmpfs). Reads are not affected.
//
// Wake-ups: submit() wakes the commit thread only when it sleeps, once per
// sleep, and after releasing the queue's mutex; a submit while it writes
// just queues (the next group takes it). docs/benchmarks.md, "The
// committer's wake-ups (stop 60)".
//
// Thread-safety: submit, stop, commits and batches may be called from any
// thread concurrently. The store must outlive the committer.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "persistence/write_batch.hpp"

namespace skein::persistence {

class store;

struct committer_options {
  std::size_t max_ops_per_commit = 16384;  // soft cap on operations per RocksDB write
  // Idle flush. Once the commit thread has written at least one batch and
  // then had none for idle_flush_after, and the memtables hold at least
  // idle_flush_min_bytes (store::memtable_bytes), it flushes them
  // (store::flush_memtables, waiting for the SST files) and then calls
  // after_idle_flush (on the commit thread; e.g. to have the allocator
  // return the freed pages). Once per quiet spell: the next idle flush needs
  // a new write first. A node that goes quiet (its sessions hibernated, its
  // clients idle) so gives back the memtables' memory, up to the store's
  // memtable budget, instead of holding it until enough new writes fill
  // them. A batch submitted during the flush waits for it (tens of ms for
  // a few MiB). A failed flush (a full disk) is counted
  // (idle_flush_failures) and handed to idle_flush_failed with RocksDB's
  // error; the committer does not refuse on it by itself. RocksDB then
  // refuses writes (max_bgerror_resume_count = 0, store.cpp), and the next
  // write fails and makes the committer refuse as for any failed write;
  // every write acknowledged before is in the WAL. 0 (the default here):
  // never; the node sets it from --idle-flush-ms.
  std::chrono::milliseconds idle_flush_after{0};
  std::size_t idle_flush_min_bytes = 1u << 20;  // bytes
  std::function<void()> after_idle_flush;       // may be empty; must not throw
  // Called on the commit thread with the error of a failed idle flush. May
  // be empty; must not throw.
  std::function<void(const std::string& error)> idle_flush_failed;
};

class committer {
 public:
  using done_fn = std::function<void(const std::string& error)>;  // error empty on success

  explicit committer(store&, committer_options = {});
  ~committer();  // stop(): commits everything already submitted, then joins
  committer(const committer&) = delete;
  committer& operator=(const committer&) = delete;

  // Queues batch; done (may be empty) is called once it is durable per the
  // store's options. After stop(), done is called at once on the caller's
  // thread with the error "committer stopped" and nothing is written.
  void submit(write_batch batch, done_fn done);

  // Idempotent: commits every batch already submitted, then joins the commit
  // thread. Later submits are refused as above.
  void stop();

  std::uint64_t commits() const;  // number of store::write calls made
  std::uint64_t batches() const;  // number of batches committed (or failed)
  bool refusing() const;          // a write failed: every later batch is refused
  std::uint64_t idle_flushes() const;  // idle flushes done (committer_options)
  std::uint64_t idle_flush_failures() const;  // idle flushes that failed

 private:
  struct pending {
    write_batch batch;
    done_fn done;
  };
  void run();
  void idle_flush();

  store& store_;
  committer_options options_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<pending> queue_;  // guarded by mutex_
  bool stopping_ = false;      // guarded by mutex_
  bool waiting_ = false;       // guarded by mutex_: the commit thread sleeps on wake_ and no submit has woken it
  std::mutex join_mutex_;      // serialises stop()
  std::atomic<std::uint64_t> commits_{0};
  std::atomic<std::uint64_t> batches_{0};
  std::atomic<bool> refusing_{false};
  std::atomic<std::uint64_t> idle_flushes_{0};
  std::atomic<std::uint64_t> idle_flush_failures_{0};
  std::string failure_;  // the first error of the current refusal (commit thread only)
  std::thread thread_;  // last: started after everything above exists
};

}  // namespace skein::persistence
