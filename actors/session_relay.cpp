// How a session's frames and acks reach its connections: directly to a
// connection of this node; through the replica actor of the connection's
// node (runtime/replica.cpp, relay_atom) to one elsewhere. A broadcast to many
// connections of one node then crosses the cluster once, as one message, and
// is fanned out there (as Socket.IO's adapter publishes once per broadcast).
//
// Order: CAF keeps the order of messages between one sender and one receiver,
// not across paths, and a connection drops a frame at or below the seq it has
// seen (resume overlap), so a frame overtaken by a later one on another path
// would be lost. Each connection's path is therefore chosen once, at the first
// frame or ack this activation sends it, and kept until the connection leaves
// (forget_conn): every frame and ack to it takes that one path. A node whose
// replica actor is not in the view at that moment gets direct sends.
//
// With a lane (runtime/lane.hpp) the relayed messages go to it instead, and
// it sends what every session of this node has for one node in one bundle
// to that node's relay; the lane keeps their order.
#include <algorithm>
#include <map>
#include <vector>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/session_state.hpp"

namespace skein::session_internal {

namespace {

/// The relay pinned for `conn`; null for a direct send.
caf::actor path_of(session_actor* self, const caf::actor& conn) {
  auto& st = self->state;
  if (!st.options.relay || !conn || conn.node() == self->node()) return {};
  auto [it, fresh] = st.relay_of.try_emplace(conn);
  if (fresh && st.view)
    for (const auto& [name, host] : st.view->hosts)
      if (host && host.node() == conn.node()) {
        it->second = host;
        break;
      }
  return it->second;
}

/// Sends (conns, m) to relay, or adds it to the open relay_batch.
void via(session_actor* self, const caf::actor& relay, std::vector<caf::actor> conns,
         caf::message m) {
  if (auto* batch = self->state.open_batch) return batch->add(relay, std::move(conns), std::move(m));
  if (self->state.lane)
    self->send(self->state.lane, bundle_atom::value, std::move(conns), std::move(m));
  else self->send(relay, relay_atom::value, std::move(conns), std::move(m));
}

}  // namespace

relay_batch::relay_batch(session_actor* self) : self_(self), outer_(!self->state.open_batch) {
  if (outer_) self_->state.open_batch = this;
}

void relay_batch::add(const caf::actor& relay, std::vector<caf::actor> conns, caf::message m) {
  auto i = std::find_if(out_.begin(), out_.end(), [&](const auto& e) { return e.first == relay; });
  if (i == out_.end()) i = out_.insert(out_.end(), {relay, {}});
  i->second.emplace_back(std::move(conns), std::move(m));
}

relay_batch::~relay_batch() {
  if (!outer_) return;
  self_->state.open_batch = nullptr;
  if (const auto& lane = self_->state.lane) {
    // The lane coalesces these (and what other sessions send to the same
    // nodes in this turn) into one cluster message per node.
    for (auto& [relay, pairs] : out_)
      for (auto& [conns, m] : pairs)
        self_->send(lane, bundle_atom::value, std::move(conns), std::move(m));
    return;
  }
  for (auto& [relay, pairs] : out_) {
    if (pairs.size() == 1) {  // one pair: the plain form
      self_->send(relay, relay_atom::value, std::move(pairs[0].first), std::move(pairs[0].second));
      continue;
    }
    caf::message_builder b;
    for (auto& [conns, m] : pairs) b.append(std::move(conns)).append(std::move(m));
    self_->send(relay, relay_atom::value, b.move_to_message());
  }
}

void to_conn(session_actor* self, const caf::actor& conn, caf::message m) {
  if (auto relay = path_of(self, conn))
    via(self, relay, std::vector<caf::actor>{conn}, std::move(m));
  else
    self->send(conn, std::move(m));
}

void to_conns(session_actor* self, const std::vector<caf::actor>& conns, const caf::message& m) {
  std::map<caf::actor, std::vector<caf::actor>> by_relay;
  for (const auto& conn : conns) {
    if (auto relay = path_of(self, conn)) by_relay[relay].push_back(conn);
    else self->send(conn, m);
  }
  for (auto& [relay, group] : by_relay) via(self, relay, std::move(group), m);
}

void to_replica(session_actor* self, const caf::actor& host, caf::message m) {
  if (self->state.lane) self->send(self->state.lane, bundle_atom::value, host, std::move(m));
  else self->send(host, std::move(m));
}

void forget_conn(session_actor* self, const caf::actor& conn) {
  self->state.relay_of.erase(conn);
}

}  // namespace skein::session_internal
