// A session's pending timers, unacknowledged tells (session-to-session
// messages) and open clients: the runtime part of its durable state, kept
// beside the behaviour's own state (behaviour_instance::runtime).
//
// It changes only in two ways, both deterministic, so that recovery and
// replay rebuild it by re-running the journal:
//   - apply_input (actors/apply.cpp) absorbs what a handler set (ctx.after,
//     ctx.at, ctx.cancel, ctx.tell) and removes a timer when its firing (a
//     journaled input of kind "timer") is applied: a timer fires at most once.
//     It also keeps the open clients: an applied "open" or "resume" input
//     adds its client (with its params), a "close" removes it, so a new
//     activation after a failover knows who was connected (presence) and
//     closes those that do not come back (session.cpp, resume_grace_ms).
//   - the session actor removes a tell when the receiver acknowledged it as
//     durable (ack()); that change is not journaled: after a failover the
//     tell is sent again and the receiver drops it as a duplicate.
// Snapshots carry it as JSON text (snapshot_record::runtime):
//   {"next_id":N, "timers":[[id, due_ms, payload]...],
//    "tells":[[id, "kind/id", payload]...](, "clients":{"id":"params json"...})}
// ("clients" only when some client is open). An empty runtime (no timer, no
// tell, no open client, next_id 1) encodes as "".
// Not thread-safe: owned by one behaviour instance.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "actors/behaviour.hpp"

namespace skein {

class session_runtime {
 public:
  struct timer {
    std::int64_t due_ms = 0;  // ms since the Unix epoch
    json payload;
    bool operator==(const timer&) const = default;
  };
  struct tell {
    std::string target;  // "kind/id"
    json payload;
    bool operator==(const tell&) const = default;
  };

  /// The id the next ctx.after/at/tell gets (ids are unique per session).
  std::uint64_t next_id() const noexcept { return next_id_; }

  /// What one applied handler call did: its timers, cancels and tells.
  void absorb(const effects& fx);

  /// Timer `id` fired (its input is applied): removes it. False if it was
  /// not pending (cancelled, or fired already).
  bool fire(std::uint64_t id);

  /// The receiver made tell `id` durable: forget it. False if unknown.
  bool ack(std::uint64_t id);

  /// Forgets a tell that can never be delivered (malformed or unknown kind).
  bool drop_tell(std::uint64_t id) { return ack(id); }

  const std::map<std::uint64_t, timer>& timers() const noexcept { return timers_; }
  const std::map<std::uint64_t, tell>& tells() const noexcept { return tells_; }

  /// Client `id` opened or resumed (`params_json`: its query parameters as
  /// a JSON object text); client `id` closed.
  void client_opened(const std::string& id, std::string params_json) {
    clients_[id] = std::move(params_json);
  }
  void client_closed(const std::string& id) { clients_.erase(id); }

  /// The open clients: id -> params JSON text.
  const std::map<std::string, std::string>& clients() const noexcept { return clients_; }

  /// The earliest due time of a pending timer.
  std::optional<std::int64_t> earliest_due() const;

  bool empty() const noexcept {
    return timers_.empty() && tells_.empty() && clients_.empty() && next_id_ == 1;
  }

  /// JSON text (see above); "" when empty().
  std::string encode() const;

  /// Parses encode()'s text ("" = empty). Throws std::invalid_argument
  /// naming what is wrong if it is not that shape.
  static session_runtime decode(const std::string& text);

  bool operator==(const session_runtime&) const = default;

 private:
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, timer> timers_;
  std::map<std::uint64_t, tell> tells_;
  std::map<std::string, std::string> clients_;
};

}  // namespace skein
