// The session's replica set follows the cluster view: a replica new to the
// set (or a new incarnation of one) gets a full copy, read by the store
// actor, then every batch committed since; acks owed by members declared down
// or replaced are no longer awaited; acks overdue are asked for again by
// sending the batches once more; while the set is short of an up member that
// is not connected, durable outputs are held.
#include <algorithm>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/session_state.hpp"

namespace skein::session_internal {

namespace {

/// Drops `name` from every gated batch's awaited acks that were owed by `host`.
void forget_acks(session_actor* self, const std::string& name, const caf::actor& host) {
  for (auto& g : self->state.gate)
    if (auto r = g.replicas.find(name); r != g.replicas.end() && r->second == host)
      g.replicas.erase(r);
}

void copy_read(session_actor* self, const std::string& name, std::uint64_t request,
               const std::string* stored);

/// Replica `name` on `host` is new to the set: its full copy is read; until
/// then it stays out of st.replicas, every batch committed meanwhile is kept
/// for it (commit), and with durability replicated the gated batches wait
/// for its ack.
void request_copy(session_actor* self, const std::string& name, const caf::actor& host) {
  auto& st = self->state;
  auto& p = st.pending_copies[name];
  p.host = host;
  p.request = st.next_request++;
  p.batches.clear();
  for (auto& g : st.gate)
    if (!g.bytes.empty()) {
      p.batches.emplace_back(g.commit, g.bytes);
      g.replicas[name] = host;
    }
  // A lingering handled batch needs nothing here: commit() sends it to this
  // replica (in p.batches, or directly once it joined the set) when it goes.
  self->request(st.store, persistence::store_wait, persistence::copy_atom::value, st.key,
                std::uint64_t{0})
    .then(
      [self, name, request = p.request](std::string& stored) {
        copy_read(self, name, request, &stored);
      },
      [self, name, request = p.request](caf::error& err) {
        spdlog::warn("session {}: copy for replica {}: {}", self->state.key, name,
                     self->system().render(err));
        copy_read(self, name, request, nullptr);
      });
}

/// The copy for a new replica was read (`stored` null: it failed). The copy
/// (plus the state in memory) goes first, then every batch committed since
/// the read was requested: the read saw at least what was committed before
/// the request, and the batches after it are applied again on top (blind
/// puts and deletes, so the replica ends as if it had seen each batch once).
/// A replica whose copy cannot be read stays out of the set until the next
/// view change tries again.
void copy_read(session_actor* self, const std::string& name, std::uint64_t request,
               const std::string* stored) {
  auto& st = self->state;
  auto i = st.pending_copies.find(name);
  if (i == st.pending_copies.end() || i->second.request != request) return;  // superseded
  auto p = std::move(i->second);
  st.pending_copies.erase(i);
  std::optional<std::string> copy;
  if (stored && st.m != mode::forwarding) copy = with_memory_snapshot(self, *stored);
  if (!copy) {
    forget_acks(self, name, p.host);
    return release(self);
  }
  auto me = caf::actor_cast<caf::actor>(self);
  to_replica(self, p.host, caf::make_message(replicate_atom::value, st.key, st.epoch, *copy, me,
                                             std::uint64_t{0}));
  for (auto& [commit, bytes] : p.batches)
    to_replica(self, p.host,
               caf::make_message(replicate_atom::value, st.key, st.epoch, bytes, me, commit));
  st.replica_hosts[name] = p.host;
  if (std::find(st.replicas.begin(), st.replicas.end(), name) == st.replicas.end())
    st.replicas.push_back(name);
}

/// How long a gated batch waits for a replica's ack before it (and every
/// batch after it) is sent to that replica again, and the least time between
/// two re-sends to one replica.
constexpr auto resend_after = std::chrono::seconds(3);

}  // namespace

void arm_resend(session_actor* self) {
  auto& st = self->state;
  if (st.resend_armed) return;
  st.resend_armed = true;
  self->delayed_send(self, resend_after, resend_atom::value);
}

// A batch sent on a BASP connection that then dropped is lost with it. When
// the member reconnects, its replica's handle may come back equal to the one
// the batch went to (so set_view sees no new host and sends no copy), and
// the ack it owes would never come: the gate, every later output and any
// handoff would wait forever (nemesis seed 9810: a drain stuck `draining`).
// Re-sending is safe: a batch is blind puts and deletes, and every batch from
// the first one owed is sent again in commit order, so the replica ends as
// if it had applied each once (the batches before it it has acknowledged).
void resend_overdue(session_actor* self) {
  auto& st = self->state;
  st.resend_armed = false;
  if (!st.view || st.m == mode::forwarding) return;
  auto now = clock::now();
  bool waiting = false;
  std::set<std::string> done;
  for (auto first = st.gate.begin(); first != st.gate.end(); ++first) {
    for (auto& [name, sent_to] : first->replicas) {
      waiting = true;
      if (done.count(name) || now - first->handled < resend_after) continue;
      done.insert(name);
      if (st.pending_copies.count(name)) continue;  // a full copy is on its way
      if (auto r = st.resent_at.find(name); r != st.resent_at.end() && now - r->second < resend_after)
        continue;
      auto h = st.view->hosts.find(name);
      if (h == st.view->hosts.end() || h->second != sent_to) continue;  // set_view's case
      st.resent_at[name] = now;
      auto me = caf::actor_cast<caf::actor>(self);
      std::size_t n = 0;
      for (auto g = first; g != st.gate.end(); ++g) {
        if (g->bytes.empty()) continue;
        to_replica(self, h->second, caf::make_message(replicate_atom::value, st.key, st.epoch,
                                                      g->bytes, me, g->commit));
        ++n;
      }
      spdlog::debug("session {}: replica {} owes acks for {} ms: {} batch(es) sent again", st.key,
                    name,
                    std::chrono::duration_cast<std::chrono::milliseconds>(now - first->handled).count(),
                    n);
      metrics().replica_resends.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (waiting) arm_resend(self);
}

namespace {

/// set_short for `next` (replicas_of under the new view).
bool short_set(const session_state& st, const std::vector<std::string>& next) {
  if (!st.view || st.options.durable == durability::none) return false;
  const auto others = static_cast<std::size_t>(
    std::count_if(st.view->up.begin(), st.view->up.end(),
                  [&](const std::string& n) { return n != st.view->self; }));
  const auto wanted = std::min(static_cast<std::size_t>(std::max(st.view->replicas - 1, 0)), others);
  return next.size() < wanted;
}

}  // namespace

void set_view(session_actor* self, std::shared_ptr<const cluster_view> view) {
  auto& st = self->state;
  st.view = std::move(view);
  // Durability none keeps no copies anywhere: no replica set.
  auto next = st.view && st.view->replicas_of && st.options.durable != durability::none
                ? st.view->replicas_of(st.key)
                : std::vector<std::string>{};
  st.set_short = short_set(st, next);
  auto host_of = [&](const std::string& n) -> caf::actor {
    if (!st.view) return {};
    auto h = st.view->hosts.find(n);
    return h == st.view->hosts.end() ? caf::actor{} : h->second;
  };
  // A copy still being read for a replica that left the set or whose host
  // changed is not needed any more: its batches never went out.
  for (auto it = st.pending_copies.begin(); it != st.pending_copies.end();) {
    if (std::find(next.begin(), next.end(), it->first) != next.end()
        && host_of(it->first) == it->second.host) {
      ++it;
      continue;
    }
    forget_acks(self, it->first, it->second.host);
    it = st.pending_copies.erase(it);
  }
  // A replica that is new to the set gets a full copy first, then every
  // batch still waiting for acks (the copy holds only what is committed
  // locally), and those batches wait for its ack too: an output is released
  // only once it is on every current replica. The copy is read by the store
  // actor (request_copy); the replica joins st.replicas once it is sent.
  // A replica is new too when its host changed: a new incarnation under the
  // same name has none of what was sent to the old one.
  for (auto it = next.begin(); it != next.end();) {
    auto h = host_of(*it);
    if (!h) {
      ++it;
      continue;
    }
    auto known = st.replica_hosts.find(*it);
    if (std::find(st.replicas.begin(), st.replicas.end(), *it) != st.replicas.end()
        && known != st.replica_hosts.end() && known->second == h) {
      ++it;
      continue;
    }
    if (!st.pending_copies.count(*it)) {
      // Lag is measured for first sends only: acks owed by a replaced host never come.
      if (known != st.replica_hosts.end()) st.lag.forget(*it);
      request_copy(self, *it, h);
    }
    it = next.erase(it);
  }
  st.replicas = std::move(next);
  // Acks are no longer awaited only from members declared down: one that is
  // merely unreachable may hold the only copy besides ours, and a node that
  // loses its quorum stops this activation anyway.
  auto alive = [&](const std::string& n) {
    return st.view && std::binary_search(st.view->alive.begin(), st.view->alive.end(), n);
  };
  // An ack is not awaited either from a host that a new incarnation of the
  // same member replaced: the old one is gone for good.
  auto replaced = [&](const std::string& n, const caf::actor& sent_to) {
    if (!st.view) return false;
    auto h = st.view->hosts.find(n);
    return h != st.view->hosts.end() && h->second != sent_to;
  };
  for (auto& g : st.gate)
    for (auto it = g.replicas.begin(); it != g.replicas.end();)
      it = alive(it->first) && !replaced(it->first, it->second) ? std::next(it)
                                                                 : g.replicas.erase(it);
  st.lag.forget_if([&](const std::string& n) { return !alive(n); });
  // Whole again: every member of the set got the batches held short, either
  // when they were committed or after its copy (request_copy), and their
  // acks are awaited as usual.
  if (!st.set_short)
    for (auto& g : st.gate) g.short_of_replicas = false;
  release(self);
}

}  // namespace skein::session_internal
