// The typed protocols between a node's three runtime actors, and between
// the same actors of different nodes (over BASP). The compiler checks every
// send against these lists.
//
//   membership  who is in the cluster: dialing, hello, gossip heartbeats,
//               suspicion and quorum leases (runtime/quorum.hpp), pause and
//               rejoin. Published on the cluster port. Tells the directory
//               every view change (view_atom) and when activations must stop
//               (reset_atom).
//   directory   where sessions live: resolve, placement, activation (claims,
//               fetch, fence), handoff, rebalance, drain, admin. The handle
//               net/ and connections talk to (node::host()).
//   replica     what this node stores for others: fencing epochs, replicated
//               batches, copies for fetches, claim positions. All its RocksDB
//               reads go to the store actor; writes to the committer.
//
// Remote peers' handles travel as plain caf::actor (in hello and gossip) and
// are cast to these types on receipt (see peer_handles).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/atoms.hpp"
#include "actors/cluster_view.hpp"
#include "persistence/store_actor.hpp"
#include "runtime/bundle.hpp"
#include "runtime/packed_bundle.hpp"
#include "runtime/membership.hpp"
#include "runtime/slotted_bundle.hpp"

namespace skein {

// membership -> directory: a new view. directory/replica: stop activations.
using view_atom = caf::atom_constant<caf::atom("view")>;
using reset_atom = caf::atom_constant<caf::atom("reset")>;
// committer -> actor (written_atom, uint64 id, string error): a write is durable.
using written_atom = caf::atom_constant<caf::atom("written")>;
// wiring at spawn (local only).
using wire_atom = caf::atom_constant<caf::atom("wire")>;

/// A member's directory and replica actors (both null while not connected).
struct peer_handles {
  caf::actor directory;
  caf::actor replica;
};

/// What the membership actor tells the directory after every change: an
/// immutable value, shared, never mutated after it is sent.
struct cluster_state {
  std::string self;                           // this node's name
  member_state self_state = member_state::joining;
  membership view;                            // every member as last gossiped
  std::map<std::string, peer_handles> peers;  // connected members only
  int replicas = 2;                           // copies per session (effective R)
  std::shared_ptr<const cluster_view> sessions_view;  // what sessions get
};
using cluster_state_ptr = std::shared_ptr<const cluster_state>;

/// One session as the directory reports it.
struct session_stat {
  std::string key;
  std::uint32_t clients = 0;
  std::uint64_t inputs = 0;
};

/// (status_atom) answer; rendered as JSON by net/ (GET /cluster).
struct node_status {
  cluster_state_ptr cluster;          // may be null before the first view
  std::vector<session_stat> sessions;  // local activations, by key
  std::int64_t connections = 0;        // this node's open client streams
};
using node_status_ptr = std::shared_ptr<const node_status>;

class heartbeat_channel;  // runtime/heartbeat_channel.hpp
using heartbeat_channel_ptr = std::shared_ptr<heartbeat_channel>;

using replica_actor = caf::typed_actor<
  // from sessions of any node: store this batch (epoch-checked) and answer the
  // session with (repl_ack_atom, string node, uint64 id, string error)
  caf::reacts_to<replicate_atom, std::string, std::uint64_t, std::string, caf::actor,
                 std::uint64_t>,
  // from activating directories: record epoch (durably) -> the epoch; error
  // skein_error::fenced if a newer or equal epoch is known
  caf::replies_to<fence_atom, std::string, std::uint64_t>::with<std::uint64_t>,
  // from activating directories: a full copy of a session (batch bytes)
  caf::replies_to<fetch_atom, std::string>::with<std::string>,
  // local directory: (highest epoch known or stored, newest journal seq)
  // (highest epoch known: fences included, epoch of the copy's last record,
  // journal seq of that record); the last two order copies, as Raft orders
  // logs by last term then index: a fence alone makes no copy fresher
  caf::replies_to<claim_atom, std::string>::with<std::uint64_t, std::uint64_t, std::uint64_t>,
  // local directory: the fencing epoch known for a key
  caf::replies_to<persistence::epoch_atom, std::string>::with<std::uint64_t>,
  // from sessions of any node: send m (a frame_atom or ack_atom message) to
  // each of conns, connections of this node, with the session as its sender
  // (one message per node for a broadcast; actors/session_relay.cpp)
  caf::reacts_to<relay_atom, std::vector<caf::actor>, caf::message>,
  // the same for several (conns, m) pairs, as one message whose elements
  // alternate std::vector<caf::actor> and caf::message, delivered in order:
  // what one release of a session's gate sends to this node (its ack and
  // its frames to a sender here cross the cluster once)
  caf::reacts_to<relay_atom, caf::message>,
  // from peers' lanes (runtime/lane.hpp): (sender actor, vector<actor>
  // targets, message) triples, each message sent on to its targets on this
  // node with that sender, in order; only what relayable() in replica.cpp
  // admits (frames, acks, replica acks, replicate; a connection's join,
  // input and leave to a session)
  caf::reacts_to<bundle_atom, caf::message>,
  // the same as typed entries (runtime/bundle.hpp), from peers' lanes that
  // learnt from the probe below that this actor reads them
  caf::reacts_to<bundle_atom, std::vector<bundle_entry>>,
  // the same packed (runtime/packed_bundle.hpp), from peers' lanes that
  // learnt from the probe that this actor reads format 2
  caf::reacts_to<bundle_atom, packed_bundle>,
  // the same with actors as slots of a table kept with the sending lane
  // (runtime/slotted_bundle.hpp, format 3); on a gap the lane gets
  // (reset_atom, uint64 generation)
  caf::reacts_to<bundle_atom, slotted_bundle>,
  // from peers' lanes: the newest bundle format this actor reads
  // (slotted_bundle_format; formats 0, 1 and 2 are read too)
  caf::replies_to<bundle_atom>::with<std::uint32_t>,
  // local: a session's barrier for a remote connection's down message
  // (actors/lane_barrier.hpp): answered after what came before it is relayed
  caf::reacts_to<flush_atom>,
  caf::reacts_to<reset_atom>,                                 // local: forget cached epochs
  caf::reacts_to<written_atom, std::uint64_t, std::string>,   // committer callback
  caf::reacts_to<wire_atom, caf::actor>>;                     // local: the directory

using directory_actor = caf::typed_actor<
  // connections, net/ and peers' directories (hops: delegations so far)
  caf::replies_to<resolve_atom, std::string>::with<caf::actor>,
  caf::replies_to<resolve_atom, std::string, std::uint64_t>::with<caf::actor>,
  // (key, hops, existing): existing = activate only a session that has
  // records on some member (MCP requests naming an Mcp-Session-Id), else
  // skein_error::no_session; nothing is written for an unknown key
  caf::replies_to<resolve_atom, std::string, std::uint64_t, bool>::with<caf::actor>,
  // peers' activations: (holds a live activation, highest epoch, journal seq)
  caf::replies_to<claim_atom, std::string>::with<bool, std::uint64_t, std::uint64_t,
                                                std::uint64_t>,
  // peers: hand your activation of key off to the named member (pinned: keep it there)
  caf::reacts_to<handoff_atom, std::string, std::string, bool>,
  // peers' sessions: take this activation (epoch, copy, clients json, pinned)
  caf::replies_to<adopt_atom, std::string, std::uint64_t, std::string, std::string,
                  bool>::with<caf::actor>,
  // local sessions: the handoff ended
  caf::reacts_to<handed_atom, std::string, bool>,
  // local sessions (passivated with timers) and peers' directories (forwarded):
  // activate key at due_ms, wall clock (runtime/timer_wake.cpp)
  caf::reacts_to<alarm_atom, std::string, std::int64_t, bool>,
  caf::reacts_to<alarm_atom>,  // self: the alarm tick
  // local sessions' idle timers: (key, actor id, idle generation), forwarded
  // to the activation if it is still that actor (actors/session.cpp)
  caf::reacts_to<passivate_atom, std::string, caf::actor_id, std::uint64_t>,
  // local sessions: hibernated with (key, clients json, their connections)
  caf::reacts_to<dormant_atom, std::string, std::string, std::vector<caf::actor>>,
  // local replica: an epoch above a local activation's was recorded
  caf::reacts_to<fence_atom, std::string, std::uint64_t>,
  // admin (net/ or peers): drain a member -> (node, sessions it holds)
  caf::replies_to<drain_atom, std::string>::with<std::string, std::uint64_t>,
  // admin: move a session -> (from, moving)
  caf::replies_to<move_atom, std::string, std::string>::with<std::string, bool>,
  // -> (owner, ranking, replicas)
  caf::replies_to<placement_atom, std::string>::with<std::string, std::vector<std::string>,
                                                     std::vector<std::string>>,
  caf::replies_to<status_atom>::with<node_status_ptr>,
  caf::replies_to<members_atom>::with<std::string>,  // membership::to_json of the view
  caf::replies_to<info_atom>::with<std::string, std::string>,  // (name, url)
  // local membership
  caf::reacts_to<view_atom, cluster_state_ptr>,
  caf::reacts_to<reset_atom, caf::error, bool>,  // stop activations (true: rejoining)
  caf::reacts_to<retry_atom, std::string, std::uint64_t>,     // self: handoff timeout
  caf::reacts_to<retry_atom>,                                 // self: retry failed handoffs
  caf::reacts_to<written_atom, std::uint64_t, std::string>,   // committer callback
  caf::reacts_to<wire_atom, caf::actor>>;                     // local: the membership

using membership_actor = caf::typed_actor<
  // a dialer introduces itself: (name, view json, its membership, directory,
  // replica) -> (name, view json, directory, replica) of the answerer
  caf::replies_to<hello_atom, std::string, std::string, caf::actor, caf::actor,
                  caf::actor>::with<std::string, std::string, caf::actor, caf::actor>,
  // heartbeat: name, view json, clock stamp, echo, suspects (runtime/quorum.hpp),
  // the sender's directory and replica, and its heartbeat key (the HMAC key
  // of its UDP heartbeats, runtime/heartbeat_wire.hpp; empty: none)
  caf::reacts_to<gossip_atom, std::string, std::string, std::int64_t, std::int64_t,
                 std::vector<std::string>, caf::actor, caf::actor, std::string>,
  // a UDP heartbeat datagram, from the local heartbeat channel (validated
  // and authenticated here; anything else is dropped and counted)
  caf::reacts_to<beat_atom, std::string>,
  // local node: the heartbeat channel to send UDP heartbeats on
  caf::reacts_to<beat_atom, heartbeat_channel_ptr>,
  caf::reacts_to<tick_atom>,                // self: every heartbeat interval
  caf::reacts_to<drain_atom>,               // local directory: this node drains
  // local directory, once drained: this node leaves the cluster (marks its
  // incarnation down and tells every connected peer; true once all answered,
  // false if some did not within a second)
  caf::replies_to<leave_atom>::with<bool>,
  // a leaving peer: (its name, its view json, in which it is down) -> true
  caf::replies_to<leave_atom, std::string, std::string>::with<bool>,
  caf::reacts_to<check_atom>,               // local directory: look for a pause now
  // a peer's route check (every 5 s per connected peer): -> this node's name;
  // the asker checks which node answered (runtime/membership_actor.cpp)
  caf::replies_to<info_atom>::with<std::string>>;

}  // namespace skein

// Node-internal messages only; never serialised.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(skein::cluster_state_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(skein::node_status_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(skein::heartbeat_channel_ptr)
