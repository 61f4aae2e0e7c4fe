// replication_lag_tracker: per session actor, measures the time from a
// batch's local commit to its last replica ack and records it in
// skein::metrics().replication_lag. Tracks batches independently of the
// output gate (with durability=local the gate releases before the acks come),
// bounded to max_tracked batches in flight (the oldest are dropped unmeasured).
// Not thread-safe: owned and used by one session actor.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <boost/container/deque.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "actors/metrics.hpp"

namespace skein {

class replication_lag_tracker {
 public:
  using clock = std::chrono::steady_clock;
  static constexpr std::size_t max_tracked = 1024;

  /// Batch `commit` was sent to replica `node`: its ack is awaited.
  void waiting_on(std::uint64_t commit, const std::string& node) {
    auto* e = find(commit);
    if (!e) {
      if (entries_.size() == max_tracked) entries_.pop_front();
      entries_.push_back({commit});
      e = &entries_.back();
    }
    e->waiting.insert(node);
  }
  /// Batch `commit` is committed locally.
  void local_done(std::uint64_t commit, clock::time_point now) {
    if (auto* e = find(commit); e && !e->local) {
      e->local = now;
      settle(commit);
    }
  }
  /// Every batch up to `commit` is committed locally, the last at `at`
  /// (actors/local_commits.hpp: seen without a message per batch).
  void local_done_upto(std::uint64_t commit, clock::time_point at) {
    std::vector<std::uint64_t> settled;
    for (auto& e : entries_)
      if (e.commit <= commit && !e.local) {
        e.local = at;
        if (e.acked) settled.push_back(e.commit);
      }
    for (auto c : settled) settle(c);
  }
  /// Replica `node` acknowledged batch `commit`.
  void acked(std::uint64_t commit, const std::string& node, clock::time_point now) {
    auto* e = find(commit);
    if (!e || !e->waiting.erase(node)) return;
    if (e->waiting.empty()) {
      e->acked = now;
      settle(commit);
    }
  }
  /// `node` is no longer awaited (declared down): batches waiting only for
  /// it are dropped unmeasured.
  void forget(const std::string& node) {
    forget_if([&](const std::string& n) { return n == node; });
  }
  /// Every node for which `gone(node)` holds is no longer awaited.
  template <class Pred>
  void forget_if(Pred gone) {
    entries_.erase(std::remove_if(entries_.begin(), entries_.end(), [&](entry& e) {
                     return std::erase_if(e.waiting, gone) > 0 && e.waiting.empty();
                   }),
                   entries_.end());
  }
  std::size_t tracked() const noexcept { return entries_.size(); }

 private:
  struct entry {
    std::uint64_t commit = 0;
    std::set<std::string> waiting;
    std::optional<clock::time_point> local, acked;
  };
  entry* find(std::uint64_t commit) {
    for (auto& e : entries_)
      if (e.commit == commit) return &e;
    return nullptr;
  }
  void settle(std::uint64_t commit) {
    auto i = std::find_if(entries_.begin(), entries_.end(),
                          [&](const entry& e) { return e.commit == commit; });
    if (i == entries_.end() || !i->local || !i->acked) return;
    auto lag = std::max(clock::duration::zero(), *i->acked - *i->local);
    metrics().replication_lag.observe(static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(lag).count()));
    entries_.erase(i);
  }
  boost::container::deque<entry> entries_;  // allocates nothing while empty (std::deque: 576 bytes)
};

}  // namespace skein
