// Quorum leases and down decisions (see quorum.hpp for the argument).
#include "runtime/quorum.hpp"

#include <algorithm>

namespace skein {

quorum::quorum(std::string self, config cfg) : self_(std::move(self)), cfg_(cfg) {
  members_.insert(self_);
  settled_.insert(self_);
}

void quorum::set_members(const std::vector<std::string>& alive, time_point now,
                         const std::vector<std::string>& joining) {
  std::set<std::string> next(alive.begin(), alive.end());
  next.insert(self_);
  for (auto& n : next) {
    if (n == self_ || members_.count(n)) continue;
    // New to the membership: no silence suspicion for failure_timeout; if
    // we are connected (it just greeted us), its first echo is on its way,
    // so it supports us for one lease from now.
    auto& p = peers_[n];
    p.last_heard = std::max(p.last_heard, now);
    if (p.connected) p.echo = std::max(p.echo, stamp(now));
  }
  for (auto it = peers_.begin(); it != peers_.end();)
    it = next.count(it->first) || it->second.connected ? std::next(it) : peers_.erase(it);
  for (auto it = quorum_suspects_since_.begin(); it != quorum_suspects_since_.end();)
    it = next.count(it->first) ? std::next(it) : quorum_suspects_since_.erase(it);
  settled_ = next;
  for (auto& j : joining)
    if (j != self_) settled_.erase(j);
  members_ = std::move(next);
}

void quorum::heard(const std::string& from, time_point now, std::int64_t ts, std::int64_t echo,
                   const std::vector<std::string>& suspects) {
  auto& p = peers_[from];  // support of non-members is kept but not counted
  p.last_heard = now;
  if (ts > p.last_ts) p.last_ts = ts;
  if (echo > p.echo) p.echo = echo;
  p.reports = std::set<std::string>(suspects.begin(), suspects.end());
  p.reports_at = now;
}

void quorum::beat(const std::string& from, time_point now, std::int64_t ts, std::int64_t echo) {
  auto& p = peers_[from];
  p.last_heard = std::max(p.last_heard, now);
  if (ts > p.last_ts) p.last_ts = ts;
  if (echo > p.echo) p.echo = echo;
}

void quorum::connected(const std::string& from, bool up, time_point now) {
  auto& p = peers_[from];
  p.connected = up;
  if (up) {
    p.was_connected = true;
    p.last_heard = std::max(p.last_heard, now);
  }
}

std::int64_t quorum::stamp(time_point now) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  return ns <= 0 ? 1 : ns;
}

bool quorum::suspect_now(const std::string& name, time_point now) const {
  auto it = peers_.find(name);
  if (it == peers_.end() || !members_.count(name)) return false;
  auto& p = it->second;
  // Never connected yet: only silence (after the grace) makes it suspect.
  if (!p.connected && p.was_connected) return true;
  return now - p.last_heard > cfg_.failure_timeout;
}

std::int64_t quorum::echo_for(const std::string& to, time_point now) const {
  auto it = peers_.find(to);
  if (it == peers_.end() || suspect_now(to, now)) return 0;
  auto& p = it->second;
  if (p.ever_suspected && now - p.last_suspected < cfg_.failure_timeout + cfg_.lease) return 0;
  return p.last_ts;
}

namespace {

bool quorum_of(const std::set<std::string>& members, const std::set<std::string>& group) {
  std::size_t n = members.size(), k = 0;
  for (auto& g : group) k += members.count(g);
  if (2 * k > n) return true;
  // The tie-break only for two members: for four or more, an exact half
  // could hold every copy of no session (R = ceil(M/2), cluster_state.hpp).
  return n == 2 && k == 1 && group.count(*members.begin());
}

}  // namespace

bool quorum::is_quorum(const std::set<std::string>& group) const {
  return quorum_of(members_, group) && quorum_of(settled_, group);
}

quorum::time_point quorum::lease_until() const {
  if (is_quorum({self_})) return time_point::max();
  // Candidate ends of support, newest first: the lease is the newest end at
  // which the supporters still valid then (plus us) form a quorum.
  std::vector<std::pair<time_point, std::string>> support;
  for (auto& [name, p] : peers_)
    if (p.echo > 0 && members_.count(name))
      support.emplace_back(time_point(std::chrono::nanoseconds(p.echo)) + cfg_.lease, name);
  std::sort(support.begin(), support.end(), [](auto& a, auto& b) { return a.first > b.first; });
  std::set<std::string> group{self_};
  for (auto& [until, name] : support) {
    group.insert(name);
    if (is_quorum(group)) return until;
  }
  return time_point::min();
}

std::vector<std::string> quorum::suspects(time_point now) {
  std::vector<std::string> out;
  for (auto& [name, p] : peers_)
    if (suspect_now(name, now)) {  // members only
      p.last_suspected = now;
      p.ever_suspected = true;
      out.push_back(name);
    }
  return out;
}

std::vector<std::string> quorum::downable(time_point now) {
  auto mine = suspects(now);
  std::vector<std::string> out;
  for (auto& x : members_) {
    if (x == self_) continue;
    std::set<std::string> suspecters;
    if (std::find(mine.begin(), mine.end(), x) != mine.end()) suspecters.insert(self_);
    for (auto& [name, p] : peers_)
      if (name != x && members_.count(name) && now - p.reports_at <= cfg_.failure_timeout
          && p.reports.count(x))
        suspecters.insert(name);
    if (!is_quorum(suspecters)) {
      quorum_suspects_since_.erase(x);
      continue;
    }
    auto [it, fresh] = quorum_suspects_since_.emplace(x, now);
    if (!fresh && now - it->second >= cfg_.lease && has_quorum(now)) out.push_back(x);
  }
  return out;
}

}  // namespace skein
