// The outbound lane (runtime/lane.hpp).
#include "runtime/lane.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/cluster_view.hpp"
#include "actors/metrics.hpp"

namespace skein {

namespace {

/// The messages coalesced for one node: (sender, targets, message) triples.
struct open_bundle {
  caf::message_builder parts;
  std::size_t messages = 0;
};

struct lane_state {
  static inline const char* name = "skein.lane";
  std::map<caf::node_id, caf::actor> relays;  // a node's replica actor, once seen
  std::map<caf::actor, open_bundle> open;     // by relay
  bool flush_queued = false;
};

using lane_self = caf::stateful_actor<lane_state>*;

void send_bundle(lane_self self, const caf::actor& relay, open_bundle& b) {
  if (b.messages == 0) return;
  metrics().lane_bundles.fetch_add(1, std::memory_order_relaxed);
  metrics().lane_bundled.fetch_add(b.messages, std::memory_order_relaxed);
  self->send(relay, bundle_atom::value, b.parts.move_to_message());
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
  b.parts.append(caf::actor_cast<caf::actor>(sender)).append(std::move(targets)).append(std::move(m));
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

caf::behavior lane_fun(lane_self self) {
  return {
    [self](bundle_atom, caf::actor& target, caf::message& m) {
      if (target) deliver(self, std::vector<caf::actor>{std::move(target)}, std::move(m));
    },
    [self](bundle_atom, std::vector<caf::actor>& targets, caf::message& m) {
      deliver_all(self, targets, m);
    },
    [self](flush_atom) { flush(self); },
    [self](members_atom, const std::shared_ptr<const cluster_view>& view) {
      if (!view) return;
      for (const auto& [_, host] : view->hosts)
        if (host && host.node() != self->node()) self->state.relays[host.node()] = host;
    },
  };
}

}  // namespace

caf::actor spawn_lane(caf::actor_system& sys) { return sys.spawn<caf::hidden>(lane_fun); }

}  // namespace skein
