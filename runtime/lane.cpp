// The outbound lane (runtime/lane.hpp).
#include "runtime/lane.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/cluster_view.hpp"
#include "actors/metrics.hpp"
#include "runtime/bundle.hpp"
#include "runtime/packed_bundle.hpp"
#include "runtime/protocols.hpp"
#include "runtime/slotted_bundle.hpp"
#include "actors/stray_errors.hpp"

namespace skein {

namespace {

/// The messages coalesced for one node: typed entries for a relay that
/// reads them, else (sender, targets, message) triples (runtime/bundle.hpp).
/// A bundle opened with triples may go on with entries once the relay has
/// answered the probe; the triples are older and go first.
struct open_bundle {
  caf::message_builder parts;
  std::vector<bundle_entry> entries;
  std::uint32_t format = 0;  // the relay's format for entries (1, 2 or 3)
  std::size_t messages = 0;
};

struct lane_state {
  static inline const char* name = "skein.lane";
  std::map<caf::node_id, caf::actor> relays;  // a node's replica actor, once seen
  std::map<caf::node_id, std::uint32_t> typed;  // ... that reads typed bundles: its format
  std::set<caf::node_id> probing;             // ... asked, no answer yet
  std::map<caf::actor, open_bundle> open;     // by relay
  std::map<caf::node_id, slot_writer> slots;  // format 3: the table kept with a node's relay
  bool flush_queued = false;
  std::uint32_t max_format = slotted_bundle_format;  // SKEIN_LANE_BUNDLE_FORMAT (lane.hpp)
  std::chrono::milliseconds slot_idle = default_slot_idle;
};

using lane_self = caf::stateful_actor<lane_state>*;

void send_bundle(lane_self self, const caf::actor& relay, open_bundle& b) {
  if (b.messages == 0) return;
  metrics().lane_bundles.fetch_add(1, std::memory_order_relaxed);
  metrics().lane_bundled.fetch_add(b.messages, std::memory_order_relaxed);
  if (!b.parts.empty()) self->send(relay, bundle_atom::value, b.parts.move_to_message());
  if (!b.entries.empty()) {
    // A join or a leave (kind::other) sends the whole bundle as typed entries.
    const auto format = packable(b.entries) ? b.format : bundle_format;
    if (format >= slotted_bundle_format) {
      auto sb = self->state.slots[relay.node()].pack(std::move(b.entries));
      metrics().slot_introductions.fetch_add(sb.actors.size(), std::memory_order_relaxed);
      self->send(relay, bundle_atom::value, std::move(sb));
    } else if (format >= packed_bundle_format) {
      self->send(relay, bundle_atom::value, pack(std::move(b.entries)));
    } else {
      self->send(relay, bundle_atom::value, std::move(b.entries));
    }
  }
  b.entries = {};
  b.messages = 0;
}

void flush(lane_self self) {
  auto& st = self->state;
  st.flush_queued = false;
  for (auto& [relay, b] : st.open) send_bundle(self, relay, b);
  st.open.clear();
}

/// Delivers m to targets, all on one node.
void deliver(lane_self self, std::vector<caf::actor> targets, caf::message m) {
  if (targets.empty()) return;
  auto& st = self->state;
  const auto& sender = self->current_sender();
  const auto node = targets.front().node();
  auto r = node == self->node() ? st.relays.end() : st.relays.find(node);
  if (r == st.relays.end()) {
    for (const auto& t : targets)
      if (t) t->enqueue(sender, caf::make_message_id(), m, self->context());
    metrics().lane_direct.fetch_add(targets.size(), std::memory_order_relaxed);
    return;
  }
  auto& b = st.open[r->second];
  if (auto f = st.typed.find(node); f != st.typed.end()) {
    b.format = f->second;
    auto& e = b.entries.emplace_back();
    e.sender = caf::actor_cast<caf::actor>(sender);
    e.targets = std::move(targets);
    to_entry(std::move(m), e);
  } else {
    b.parts.append(caf::actor_cast<caf::actor>(sender)).append(std::move(targets)).append(std::move(m));
  }
  if (++b.messages >= max_bundle) {
    send_bundle(self, r->second, b);
    st.open.erase(r->second);
    return;
  }
  if (st.flush_queued) return;
  // Nothing else waiting in the mailbox (a quiet node): send now rather than
  // after one more turn for the flush message.
  if (self->mailbox().empty()) return flush(self);
  st.flush_queued = true;
  self->send(self, flush_atom::value);
}

/// Splits targets by node (a caller may mix them), in order.
void deliver_all(lane_self self, std::vector<caf::actor>& targets, const caf::message& m) {
  std::vector<std::pair<caf::node_id, std::vector<caf::actor>>> by_node;
  for (auto& t : targets) {
    if (!t) continue;
    auto i = std::find_if(by_node.begin(), by_node.end(),
                          [&](const auto& e) { return e.first == t.node(); });
    if (i == by_node.end()) i = by_node.insert(by_node.end(), {t.node(), {}});
    i->second.push_back(std::move(t));
  }
  for (auto& [_, group] : by_node) deliver(self, std::move(group), m);
}

/// Starts a new generation of node's slot table and tells its relay (an
/// empty bundle with seq 0): what is open for the node is packed after it.
void reset_slots(lane_self self, const caf::node_id& node) {
  auto& st = self->state;
  auto w = st.slots.find(node);
  auto r = st.relays.find(node);
  if (w == st.slots.end() || r == st.relays.end()) return;
  metrics().lane_slot_resets.fetch_add(1, std::memory_order_relaxed);
  self->send(r->second, bundle_atom::value, w->second.reset());
}

/// Asks a relay whether it reads typed bundles; until it says so (a peer
/// built before them answers with an error), it gets triples.
/// One probe per node at a time; a node that failed to answer is asked again
/// at the next view.
void probe(lane_self self, const caf::actor& relay) {
  auto& st = self->state;
  const auto node = relay.node();
  if (st.typed.count(node) != 0 || !st.probing.insert(node).second) return;
  self->request(relay, std::chrono::seconds{30}, bundle_atom::value)
    .then(
      [self, node](std::uint32_t format) {
        self->state.probing.erase(node);
        // A newer relay answers a newer format: it reads this lane's too.
        if (format >= bundle_format)
          self->state.typed[node] = std::min(format, self->state.max_format);
      },
      [self, node](caf::error&) { self->state.probing.erase(node); });
}

caf::behavior lane_fun(lane_self self, std::chrono::milliseconds slot_idle) {
  self->state.slot_idle = std::max(slot_idle, std::chrono::milliseconds{1});
  if (const char* f = std::getenv("SKEIN_LANE_BUNDLE_FORMAT")) {
    if (std::string_view(f) == "1") self->state.max_format = bundle_format;
    if (std::string_view(f) == "2") self->state.max_format = packed_bundle_format;
  }
  static stray_error_log stray{"lane"};
  log_stray_errors(self, stray);
  self->delayed_send(self, self->state.slot_idle, tick_atom::value);
  return {
    [self](bundle_atom, caf::actor& target, caf::message& m) {
      if (target) deliver(self, std::vector<caf::actor>{std::move(target)}, std::move(m));
    },
    [self](bundle_atom, std::vector<caf::actor>& targets, caf::message& m) {
      deliver_all(self, targets, m);
    },
    [self](flush_atom) { flush(self); },
    [self](reset_atom, std::uint64_t generation) {
      // A relay refused a bundle of this generation (a gap): start another.
      // An older generation's request was answered already.
      const auto sender = self->current_sender();
      if (!sender) return;
      auto w = self->state.slots.find(sender->node());
      if (w == self->state.slots.end() || w->second.generation() != generation) return;
      reset_slots(self, sender->node());
    },
    [self](tick_atom) {
      // A table that carried nothing since the last tick is reset, so that
      // neither end holds its actors' memory while the peers are idle.
      for (auto& [node, w] : self->state.slots)
        if (!w.take_active() && w.size() > 0) reset_slots(self, node);
      self->delayed_send(self, self->state.slot_idle, tick_atom::value);
    },
    [self](members_atom, const std::shared_ptr<const cluster_view>& view) {
      if (!view) return;
      for (const auto& [_, host] : view->hosts) {
        if (!host || host.node() == self->node()) continue;
        // Always the view's handle: after a lost connection CAF makes a new
        // proxy, which compares equal to the old, dead one (caf::actor
        // compares by node and id), so an equality test would keep the dead
        // one (nemesis seed 9713 found that).
        auto& held = self->state.relays[host.node()];
        const bool renewed = held && caf::actor_cast<caf::abstract_actor*>(held)
                                       != caf::actor_cast<caf::abstract_actor*>(host);
        if (renewed) flush(self);  // what was packed for the old handle goes first
        held = host;
        // A new handle is a new connection: what the old one lost may
        // include slots the relay never saw.
        if (renewed) reset_slots(self, host.node());
        probe(self, host);
      }
    },
  };
}

}  // namespace

caf::actor spawn_lane(caf::actor_system& sys, std::chrono::milliseconds slot_idle) {
  return sys.spawn<caf::hidden>(lane_fun, slot_idle);
}

}  // namespace skein
