// A process-wide feed of cluster events (membership changes, activations,
// migrations) for `GET /cluster/events` and the dashboard.
//
// Each event is one JSON object with at least "type", "node" (the publishing
// node's name) and "time_ms" (ms since the Unix epoch). Types published by
// the runtime: member_up, member_down, session_activated, session_stopped,
// migration_out, migration_in, drain_started, drain_finished.
//
// Thread-safety: all members may be called from any thread. publish() calls
// subscribers synchronously under the feed's mutex, so a subscriber must
// only hand the line off (e.g. asio::post) and never call back into the feed.
// Events are rare (not per message), so a mutex is fine here.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace skein {

class event_feed {
 public:
  using subscriber = std::function<void(const std::string& json_line)>;

  /// The name stamped into every event as "node".
  void set_node(std::string name);

  /// Registers `s`; it first receives the last `backlog` (<= 256) events.
  std::uint64_t subscribe(subscriber s, std::size_t backlog = 64);
  void unsubscribe(std::uint64_t id);

  /// Stamps `event` with node and time_ms and hands it to every subscriber.
  void publish(nlohmann::json event);

  /// The last events (at most 256), oldest first.
  std::vector<std::string> recent() const;

 private:
  mutable std::mutex mutex_;
  std::string node_;
  std::map<std::uint64_t, subscriber> subscribers_;
  std::uint64_t next_ = 1;
  std::deque<std::string> recent_;
};

/// The process's feed.
event_feed& events();

}  // namespace skein
