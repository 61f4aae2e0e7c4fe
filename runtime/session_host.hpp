// The session host: one actor per node that answers "where is session
// kind/id?" (DESIGN.md, Addressing and routing).
//
// - If this node is the HRW owner of the key, the host returns the local
//   activation, activating it from the newest checkpoint first if needed.
// - Otherwise it delegates the request to the owner's host over CAF's
//   middleman; the owner answers the original requester directly. A request
//   that was already forwarded once is activated where it lands (no loops).
// - It connects to every peer's host at start-up and again after a peer goes
//   down (retry every `reconnect_interval`); resolutions for a peer that is
//   not connected yet wait for it (bounded by the requester's timeout).
//
// Errors returned to the requester (caf::sec::runtime_error with text):
// malformed key, unknown kind, corrupt checkpoint (names the key).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "runtime/members.hpp"

namespace skein {
class behaviour_registry;
namespace persistence { class store; class committer; }

/// Counters the host publishes for other threads (HTTP handlers).
struct host_status {
  std::atomic<int> peers_connected{0};
  std::atomic<int> active_sessions{0};
};

struct host_init {
  std::string self_name;
  std::string self_url;                      // this node's HTTP base URL
  std::vector<member_address> peers;         // every member but this node
  const behaviour_registry* registry = nullptr;
  persistence::store* store = nullptr;
  persistence::committer* committer = nullptr;
  std::shared_ptr<host_status> status;
  std::chrono::milliseconds reconnect_interval{250};
};

/// Spawns the host. Its messages: (resolve_atom, key[, bool forwarded]) ->
/// actor; (status_atom) -> string (JSON: node, members, sessions);
/// (info_atom) -> (string name, string url). Sending it an exit message
/// stops every local session with it.
caf::actor spawn_session_host(caf::actor_system& sys, host_init init);

/// Splits "kind/id"; returns false if either part is empty, the key is
/// longer than 512 bytes or holds a NUL or control character.
bool split_session_key(std::string_view key, std::string& kind, std::string& id);

}  // namespace skein
