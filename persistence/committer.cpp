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
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      queue_.push_back({std::move(batch), std::move(done)});
      wake_.notify_one();
      return;
    }
  }
  if (done) done("committer stopped");
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

void committer::run() {
  std::vector<pending> group;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
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
    commits_.fetch_add(1);
    batches_.fetch_add(group.size());
    for (auto& p : group)
      if (p.done) p.done(error);
    group.clear();
  }
}

}  // namespace skein::persistence
