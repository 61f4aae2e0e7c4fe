// The cluster's member list as one node sees it, and how two views merge.
//
// Each member entry is owned by an incarnation of that member process (its
// start time in ms): a restarted node has a higher incarnation and wins over
// any older entry. Within one incarnation the state only moves forward:
// joining -> up -> draining -> down (a node declared down must rejoin as a
// new incarnation). Merging is therefore a join-semilattice: commutative,
// associative and idempotent, so full-state gossip converges whatever the
// order of delivery.
//
// Placement uses the members in state `up` only; joining members do not own
// sessions yet and draining ones no longer do.
//
// Value type; not synchronised (owned by the session host actor).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace skein {

enum class member_state { joining = 0, up = 1, draining = 2, down = 3 };

const char* member_state_name(member_state s);

struct member_info {
  std::string name;
  std::string host;            // cluster (middleman) address
  std::uint16_t cluster_port = 0;
  std::string url;             // HTTP base URL
  std::uint64_t incarnation = 0;
  member_state state = member_state::joining;
  std::int64_t sessions = 0;   // activations on it, as it last said (informational)
  std::int64_t connections = 0;  // open client streams on it, as it last said (informational)
  bool operator==(const member_info&) const = default;
};

class membership {
 public:
  /// Merges one entry; returns true if the view changed (state, address or
  /// incarnation; a session or connection count alone is not a change).
  bool merge(const member_info& m);
  /// Merges every entry of `other`; returns true if anything changed.
  bool merge(const membership& other);

  const member_info* find(const std::string& name) const;
  const std::map<std::string, member_info>& members() const { return members_; }

  /// Names of members in state up, sorted: the placement set.
  std::vector<std::string> up() const;
  /// Names of members not down (joining, up, draining), sorted.
  std::vector<std::string> alive() const;

  /// JSON array of entries; from_json throws std::invalid_argument.
  std::string to_json() const;
  static membership from_json(const std::string& text);

 private:
  std::map<std::string, member_info> members_;
};

}  // namespace skein
