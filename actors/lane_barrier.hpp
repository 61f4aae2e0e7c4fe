// Keeping a connection's last messages ahead of the news of its end, when
// they cross the cluster through the lanes (runtime/lane.hpp).
//
// The problem: a connection on node A gives its inputs and its leave to A's
// lane, which bundles them to B's replica actor (the relay), which hands
// them to the session on B. The session monitors the connection, and CAF
// sends the down message of its end another way: A's middleman to B's, which
// gives it to the session at once. Two hops could let it overtake:
// - on A, the messages may still wait in the lane when the connection quits;
// - on B, the bundle may still wait in the relay's mailbox when the down
//   message arrives (BASP delivers both in the order sent, but the bundle
//   then takes one more hop). The session would drop the client before the
//   inputs it sent before it left, and those inputs would be lost.
//
// The two barriers, one per hop:
// - quit_after_flush (A): the connection quits once the lane has answered a
//   flush_atom request, which it does after sending its open bundles: the
//   down message then follows them on the same BASP connection.
// - after_relay (B): the session acts on the down message of an actor on
//   another node once the local relay has answered a flush_atom request: it
//   answers in mailbox order, so what the bundle held is in the session's
//   mailbox first.
// If a request fails (the lane or relay gone) the action runs at once.
//
// Thread-safety: call on self's own thread, like any of self's members.
// Tested by tests/unit/test_lane.cpp (two actor systems over BASP).
#pragma once

#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/event_based_actor.hpp>

#include "actors/atoms.hpp"

namespace skein {

/// Quits self once `lane` has sent on what self gave it before this call.
inline void quit_after_flush(caf::event_based_actor* self, const caf::actor& lane) {
  if (!lane) return self->quit();
  self->request(lane, caf::infinite, flush_atom::value)
    .then([self] { self->quit(); }, [self](caf::error&) { self->quit(); });
}

/// Runs f() for the down message of `source`: at once if source is on this
/// node (or there is no relay), else once `relay` (this node's replica
/// actor) has passed on what it held when asked.
template <class F>
void after_relay(caf::event_based_actor* self, const caf::actor& relay,
                 const caf::actor_addr& source, F f) {
  if (!relay || source.node() == self->node()) return f();
  self->request(relay, caf::infinite, flush_atom::value)
    .then([f]() mutable { f(); }, [f](caf::error&) mutable { f(); });
}

}  // namespace skein
