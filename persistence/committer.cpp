// The group committer thread (persistence/committer.hpp).
#include "persistence/committer.hpp"

#include <exception>
#include <utility>
#include <vector>

#include <pthread.h>

#include "persistence/store.hpp"

namespace skein::persistence {

committer::committer(store& s, committer_options options)
    : store_(s), options_(options), thread_([this] {
        ::pthread_setname_np(::pthread_self(), "skein.commit");
        run();
      }) {}

committer::~committer() { stop(); }

void committer::submit(write_batch batch, done_fn done) {
  bool accepted = false;
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      queue_.push_back({std::move(batch), std::move(done)});
      accepted = true;
      // Only a sleeping commit thread is woken, once per sleep, and after
      // the lock is released: notified under the lock it would wake only to
      // block on the mutex this thread still holds.
      wake = waiting_;
      waiting_ = false;
    }
  }
  if (!accepted) {
    if (done) done("committer stopped");  // not moved from: it was not queued
    return;
  }
  if (wake) wake_.notify_one();
}

void committer::stop() {
  std::lock_guard join_lock(join_mutex_);
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

std::uint64_t committer::commits() const { return commits_.load(); }

std::uint64_t committer::batches() const { return batches_.load(); }

bool committer::refusing() const { return refusing_.load(); }

std::uint64_t committer::idle_flushes() const { return idle_flushes_.load(); }

std::uint64_t committer::idle_flush_failures() const { return idle_flush_failures_.load(); }

void committer::idle_flush() {
  std::string error;
  try {
    if (store_.memtable_bytes() < options_.idle_flush_min_bytes) return;
    store_.flush_memtables();
  } catch (const std::exception& e) {
    error = *e.what() != '\0' ? e.what() : "flush failed";
  } catch (...) {
    error = "flush failed: unknown exception";
  }
  if (!error.empty()) {
    // RocksDB refuses the next write, whose error makes the committer refuse.
    idle_flush_failures_.fetch_add(1);
    if (options_.idle_flush_failed) options_.idle_flush_failed(error);
    return;
  }
  idle_flushes_.fetch_add(1);
  if (options_.after_idle_flush) options_.after_idle_flush();
}

void committer::run() {
  std::vector<pending> group;
  const bool idle_flushing = options_.idle_flush_after.count() > 0;
  bool wrote = false;  // a write since the last idle flush (or the start)
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      while (!stopping_ && queue_.empty()) {
        waiting_ = true;
        if (!(idle_flushing && wrote && !refusing_)) {
          wake_.wait(lock);
          continue;
        }
        if (wake_.wait_for(lock, options_.idle_flush_after) != std::cv_status::timeout ||
            stopping_ || !queue_.empty())
          continue;
        // Quiet for idle_flush_after: flush without the lock, so that
        // submits queue meanwhile (they do not wake: waiting_ is false).
        waiting_ = false;
        wrote = false;
        lock.unlock();
        idle_flush();
        lock.lock();
      }
      waiting_ = false;
      if (queue_.empty()) return;  // stopping and drained
      std::size_t ops = 0;
      while (!queue_.empty() &&
             (group.empty() || ops + queue_.front().batch.size() <= options_.max_ops_per_commit)) {
        ops += queue_.front().batch.size();
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }

    std::string error;
    if (refusing_) {
      error = "store refusing writes since: " + failure_;
    } else {
      write_batch merged;
      for (auto& p : group) merged.append(std::move(p.batch));
      try {
        store_.write(merged);
      } catch (const std::exception& e) {
        error = e.what();
        if (error.empty()) error = "write failed";
      } catch (...) {
        error = "write failed: unknown exception";
      }
      if (!error.empty()) {
        failure_ = error;
        refusing_ = true;
      }
    }
    wrote = true;
    commits_.fetch_add(1);
    batches_.fetch_add(group.size());
    for (auto& p : group)
      if (p.done) p.done(error);
    group.clear();
  }
}

}  // namespace skein::persistence
