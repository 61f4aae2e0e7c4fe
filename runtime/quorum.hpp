// Quorum, leases and down decisions: when this node may serve, and when it
// may declare another member down (DESIGN.md: "Safety before liveness").
//
// A node serves (activates sessions, releases outputs) only while it holds a
// *quorum lease*: a quorum of the membership (itself included) recently
// proved that it heard from this node. Every heartbeat carries the sender's
// clock reading `ts` and an `echo`: the newest `ts` it has received from the
// receiver (0 if none, or while it suspects the receiver). An echo `e` from
// peer P proves that P heard from us at some time after our clock read `e`,
// so P's support lasts until `e + lease`. Our lease ends at the latest time
// at which the peers whose support is still valid, plus ourselves, form a
// quorum. All of this compares only our own clock's readings with each other.
//
// A member X is *suspected* by a node that has no connection to X or has not
// heard from X for `failure_timeout`. Heartbeats carry the sender's suspect
// list. A node declares X down only (a) while it holds a quorum lease and
// (b) after a quorum of the membership has suspected X, as far as it knows,
// continuously for `lease`. Every suspecter stopped echoing X when it began
// to suspect it (and keeps not echoing for `failure_timeout + lease` after
// its last suspicion, so a stale report cannot outlive a fresh echo), so by
// then none of them supports X's lease; a quorum never intersects the
// complement of a quorum, so X has lost its lease and stopped serving before
// anyone takes over its sessions. The only timing assumption is that clocks
// advance at roughly the same rate (drift well under lease/failure_timeout);
// they need not agree.
//
// Quorum: more than half of the members not down, or, in a cluster of two,
// the member with the smaller name (Akka SBR's keep-majority tie-break; for
// four or more members an exact half is no quorum, as in Raft: the copies
// of a session, R = ceil(M/2) of them, could all be on the other half),
// counted twice: over the members not down, and over those of them that are
// not `joining` (self always counted). A group is a quorum only if it is one
// in both. A joiner is known to the side it dialled before the other side
// has heard of it: counted on one side only, 3 of {n1,n2,n6} (n6 joining,
// holding n1) is a quorum of six while 3 of {n3,n4,n5} is one of five: two
// leases at once. Requiring the quorum without joiners too (Raft's joint
// consensus, Ongaro 2014 §4.3, with the joiners as the new configuration)
// leaves {n1,n2} of five short of it. (With the tie-break confined to two
// members, {n1,n2,n6} of six is no quorum either; the joint count still
// matters from two members to three: {n1} of two with a joiner n2 is a
// quorum of the settled {n1} while n2 may know a third member.)
// So a 2-node cluster survives the loss of the node with the larger name and
// stops serving when it loses the one with the smaller name; a 1-node cluster
// always has quorum; a 4-node cluster split 2|2 serves on neither side. Sources: the lease argument of Gray & Cheriton (1989),
// Akka's split-brain resolver (keep-majority, stable-after).
//
// Value type; not synchronised (owned by the membership actor).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace skein {

class quorum {
 public:
  using clock = std::chrono::steady_clock;
  using time_point = clock::time_point;

  struct config {
    std::chrono::milliseconds failure_timeout{3000};  // silence before a suspicion
    std::chrono::milliseconds lease{1500};            // must be < failure_timeout
  };

  quorum(std::string self, config cfg);

  /// The members not down (self included). Members new to the set get a grace
  /// period of `failure_timeout` before a silence suspicion; one new to the
  /// set that we are connected to (it just greeted us) supports us for one
  /// lease from now, its first echo being on its way.
  /// `joining`: those of `alive` still joining (counted in the second
  /// quorum's members only once they are up; see above).
  void set_members(const std::vector<std::string>& alive, time_point now,
                   const std::vector<std::string>& joining = {});
  const std::set<std::string>& members() const { return members_; }

  /// A heartbeat from `from`, received at `now`: its clock reading `ts`, the
  /// echo of our own reading (0: none) and the members it suspects.
  void heard(const std::string& from, time_point now, std::int64_t ts, std::int64_t echo,
             const std::vector<std::string>& suspects);
  /// A heartbeat from `from` that carries no suspect list (a UDP heartbeat,
  /// runtime/heartbeat_wire.hpp): proves it alive at `now` and updates its
  /// ts and echo, leaving its reports as the last gossip gave them.
  void beat(const std::string& from, time_point now, std::int64_t ts, std::int64_t echo);
  /// The connection to `from` opened (true) or closed (false).
  void connected(const std::string& from, bool up, time_point now);

  /// Our clock reading to send in a heartbeat (nanoseconds, never 0).
  static std::int64_t stamp(time_point now);
  /// The echo to send to `to`: the newest ts received from it, or 0 while
  /// we suspect it (or suspected it within failure_timeout + lease).
  std::int64_t echo_for(const std::string& to, time_point now) const;

  /// The end of our quorum lease (time_point::min() if we hold none; max()
  /// if we are the only member).
  time_point lease_until() const;
  bool has_quorum(time_point now) const { return now < lease_until(); }

  /// Members we suspect now (sorted).
  std::vector<std::string> suspects(time_point now);
  /// Members a quorum has suspected for `lease` while we hold quorum: they
  /// may be declared down now. Call periodically (every heartbeat).
  std::vector<std::string> downable(time_point now);

  /// True if `group` (names) is a quorum of the current members, both with
  /// and without the joining ones.
  bool is_quorum(const std::set<std::string>& group) const;

 private:
  struct peer_info {
    time_point last_heard{};        // receipt time of its latest heartbeat
    std::int64_t last_ts = 0;       // its clock reading in that heartbeat
    std::int64_t echo = 0;          // our reading it echoed last
    bool connected = false;
    bool was_connected = false;     // ever connected (a loss is then a suspicion at once)
    std::set<std::string> reports;  // whom it suspects, as of its last heartbeat
    time_point reports_at{};        // when we received those reports
    time_point last_suspected{};    // last time we suspected it (min: never)
    bool ever_suspected = false;
  };

  bool suspect_now(const std::string& name, time_point now) const;

  std::string self_;
  config cfg_;
  std::set<std::string> members_;
  std::set<std::string> settled_;  // members_ minus the joining ones, self always
  std::map<std::string, peer_info> peers_;
  std::map<std::string, time_point> quorum_suspects_since_;
};

}  // namespace skein
