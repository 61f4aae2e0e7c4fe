// The node's event feed for /cluster/events and the dashboard (actors/events.hpp).
#include "actors/events.hpp"

#include <chrono>

namespace skein {

void event_feed::set_node(std::string name) {
  std::lock_guard<std::mutex> guard{mutex_};
  node_ = std::move(name);
}

std::uint64_t event_feed::subscribe(subscriber s, std::size_t backlog) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto start = recent_.size() > backlog ? recent_.size() - backlog : 0;
  for (auto i = start; i < recent_.size(); ++i) s(recent_[i]);
  auto id = next_++;
  subscribers_.emplace(id, std::move(s));
  return id;
}

void event_feed::unsubscribe(std::uint64_t id) {
  std::lock_guard<std::mutex> guard{mutex_};
  subscribers_.erase(id);
}

void event_feed::publish(nlohmann::json event) {
  using namespace std::chrono;
  std::lock_guard<std::mutex> guard{mutex_};
  event["node"] = node_;
  event["time_ms"] = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  auto line = event.dump();
  recent_.push_back(line);
  if (recent_.size() > 256) recent_.pop_front();
  for (auto& [_, s] : subscribers_) s(line);
}

std::vector<std::string> event_feed::recent() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return {recent_.begin(), recent_.end()};
}

event_feed& events() {
  static event_feed feed;
  return feed;
}

}  // namespace skein
