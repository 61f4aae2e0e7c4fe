// Committer writes an actor waits for (the directory's copies, the replica's
// epochs): each submit gets an id, the committer's callback posts
// (written_atom, id, error) to the actor, and its handler calls complete(),
// which runs the continuation on the actor's own thread.
//
// Value type owned by one actor's state; not synchronised.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>

#include <caf/send.hpp>

#include "persistence/committer.hpp"
#include "persistence/write_batch.hpp"
#include "runtime/protocols.hpp"

namespace skein {

class pending_writes {
 public:
  using then_fn = std::function<void(const std::string& error)>;  // error empty: durable

  /// Queues `b` on the committer; `then` runs once `me` handles its written_atom.
  template <class Handle>
  void submit(persistence::committer& committer, const Handle& me, persistence::write_batch b,
              then_fn then) {
    const auto id = next_++;
    waiting_.emplace(id, std::move(then));
    committer.submit(std::move(b), [me, id](const std::string& err) {
      caf::anon_send(me, written_atom::value, id, err);
    });
  }

  /// From the written_atom handler: runs and forgets the write's continuation.
  void complete(std::uint64_t id, const std::string& err) {
    auto w = waiting_.find(id);
    if (w == waiting_.end()) return;
    auto then = std::move(w->second);
    waiting_.erase(w);
    then(err);
  }

 private:
  std::map<std::uint64_t, then_fn> waiting_;
  std::uint64_t next_ = 1;
};

}  // namespace skein
