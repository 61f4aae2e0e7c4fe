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

#include <cstddef>
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

  /// JSON array of entries, one object per member:
  /// `{"name","host","port","url","incarnation","state","sessions","connections"}`.
  std::string to_json() const;
  /// Parses a view as to_json writes it. The text comes from peers (gossip,
  /// hello, leave) and from the store, so every field is checked before it
  /// becomes a string or a member: at most `max_view_bytes` of text, nesting
  /// no deeper than an array of flat objects, at most `max_members` entries;
  /// name 1..heartbeat_wire::max_name_bytes (128) bytes of [A-Za-z0-9._-];
  /// host 1..253 bytes of printable ASCII; port an integer in 1..65535; url
  /// at most 2048 bytes of printable ASCII; incarnation an unsigned 64-bit
  /// integer; state one of the four names; sessions and connections, if
  /// present, integers >= 0. Throws std::invalid_argument naming the first
  /// field that fails; nothing of a refused view is merged.
  static membership from_json(const std::string& text);

  /// Whether `name` may name a member: 1..128 bytes of [A-Za-z0-9._-]
  /// (the rule from_json applies; `skein node --name` checks it at start).
  static bool valid_name(const std::string& name);

  /// Limits of from_json.
  static constexpr std::size_t max_view_bytes = 1 << 20;  // 1 MiB
  static constexpr std::size_t max_members = 4096;

 private:
  std::map<std::string, member_info> members_;
};

}  // namespace skein
