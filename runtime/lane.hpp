// The outbound lane of a node: coalesces what this node's actors send to
// actors on other nodes into one cluster message per destination node and
// scheduling turn, as Akka Artery's outbound lanes or a TCP cork do.
//
// Why: CAF 0.17's BASP reads each cluster message with two recv calls (its
// header, then its payload) and hands it to the scheduler on its own; a chat
// message crosses the cluster three or four times (the input to its session,
// the batch to the replica, the replica's ack, the frames to the receivers'
// nodes). Under load many sessions do this at once, and a bundle carries
// what all of them send to one node in one message (docs/benchmarks.md,
// "Lever: the outbound lane").
//
// Messages (local, but for the relays' reset_atom):
// - (bundle_atom, caf::actor target, caf::message m)
// - (bundle_atom, std::vector<caf::actor> targets, caf::message m)
//     deliver m to each target with the current sender as its sender. A
//     target on this node, or on a node whose replica actor the lane has not
//     seen in a view, gets m directly; else m joins the bundle for that
//     node's replica actor, which sends it on (runtime/replica.cpp).
// - (members_atom, std::shared_ptr<const cluster_view>)  from the directory:
//     learn the replica actors of the connected members. A node once seen is
//     never forgotten (a node id names one process), so a sender's messages
//     to a target never switch from the bundle back to the direct path.
//     Each view's handle replaces the one held: after a lost connection CAF
//     makes a new proxy that compares equal to the old, dead one.
// - (reset_atom, uint64 generation)  from a peer's replica actor that
//     refused a slotted bundle of that generation (out of order: one was lost
//     with a connection): start a new generation of that node's slot table.
//     A request for a generation already left is ignored.
// - (tick_atom)  to itself every `slot_idle` (2 s by default): reset each
//     slot table that carried nothing since the last tick, so idle tables
//     hold no actor's memory (the receiver's weak handles keep a dead
//     actor's allocation: with 10 s, 50,000 hibernated sessions measured
//     6.36 KiB per connection 15 s after the last connect, against 5.96 with
//     2 s and with format 2; docs/benchmarks.md, "Lever: handle slots").
// - (flush_atom)  to itself: send the open bundles. As a request (from a
//     connection about to quit): the same, then an empty answer, so that
//     what the requester gave the lane is on its way before it quits.
//
// Format: a slotted bundle (runtime/slotted_bundle.hpp) to a replica actor
// that has answered the probe (bundle_atom) with slotted_bundle_format
// (since stop 59), a packed bundle (runtime/packed_bundle.hpp) to one that
// answered packed_bundle_format (stop 54), typed entries (runtime/bundle.hpp) to one that answered
// bundle_format; the probe is sent when the lane first sees the replica
// actor; (sender, targets, message) triples in one message before that and
// to a node built before typed bundles. (A lane built before stop 54 takes
// the answer packed_bundle_format as "no typed bundles" and sends triples,
// which every version reads; a lane of stop 54 to 58 sends a relay that
// answers 3 triples too. Since stop 59 a lane takes any answer above its own
// newest format as its own.) The environment variable
// SKEIN_LANE_BUNDLE_FORMAT=1 or 2 keeps this node's lane at typed entries
// or packed bundles (for measuring one format against another, or should a
// peer refuse them: skein_bundles_refused_total); read when the lane is
// spawned, any other value is the default, 3. A slot table is kept per
// node and starts a new generation when a view brings a new handle of that
// node's replica actor (a new connection: what the old one lost may have
// introduced slots the relay never saw).
//
// When: a message that finds the lane's mailbox empty is sent at once (a
// bundle of one: nothing else is coming now); else its bundle is sent at
// the end of the turn (a flush_atom queued behind what is waiting).
//
// Order: the messages of a bundle keep their arrival order, on the same
// BASP connection as any direct message to that node; the replica actor
// there enqueues its messages in order. So two messages from one sender to
// one target that both pass the lane arrive in the order sent. A message to
// a target's node that goes directly (the node not yet known) and a later
// one in a bundle also keep their order: the direct one is in the target's
// mailbox when the bundle is read.
//
// Bounds: a bundle is sent when it holds `max_bundle` messages, without
// waiting for the flush.
//
// Thread-safety: an actor; its handle may be used from any thread (the
// committer's callbacks use it).
#pragma once

#include <chrono>
#include <cstddef>

#include <caf/fwd.hpp>

namespace skein {

/// Messages per bundle at most.
inline constexpr std::size_t max_bundle = 64;

/// How long a peer's slot table may carry nothing before it is reset (it is
/// reset within one to two of these).
inline constexpr std::chrono::milliseconds default_slot_idle{2000};

/// Spawns the lane, hidden (await_all_actors_done does not wait for it:
/// stop it after the actors that use it, runtime/node.cpp). slot_idle:
/// above; at least 1 ms.
caf::actor spawn_lane(caf::actor_system& sys,
                      std::chrono::milliseconds slot_idle = default_slot_idle);

}  // namespace skein
