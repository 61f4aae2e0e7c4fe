// The directory actor's behaviour (runtime/directory.hpp): resolve and
// routing, views from the membership, claims from peers, admin requests.
// Activation is in activation.cpp, handoffs in handoff.cpp.
#include "runtime/directory.hpp"

#include <spdlog/spdlog.h>

#include "actors/errors.hpp"
#include "actors/events.hpp"
#include "actors/liveness.hpp"
#include "actors/registry.hpp"
#include "actors/session_key.hpp"
#include "runtime/directory_state.hpp"
#include "runtime/placement.hpp"
#include "actors/stray_errors.hpp"

namespace skein::directory_detail {

caf::actor peer_directory(self_ptr self, const std::string& name) {
  auto& peers = self->state.cluster->peers;
  auto p = peers.find(name);
  return p == peers.end() ? caf::actor{} : p->second.directory;
}

bool draining(self_ptr self) { return self->state.cluster->self_state == member_state::draining; }

bool out_of_placement(self_ptr self) {
  return self->state.cluster->self_state != member_state::up;
}

std::string pinned_owner(self_ptr self, const std::string& key) {
  auto& st = self->state;
  auto o = st.overrides.find(key);
  if (o == st.overrides.end()) return {};
  auto m = st.cluster->view.find(o->second);
  if (m && m->state != member_state::down) return o->second;
  st.overrides.erase(o);
  return {};
}

std::string placement_owner(self_ptr self, const std::string& key) {
  auto owner = pinned_owner(self, key);
  if (!owner.empty()) return owner;
  auto up = self->state.cluster->view.up();
  return up.empty() ? std::string{} : hrw_owner(key, up);
}

void wake_dormant(self_ptr self, const std::string& key) {
  auto& st = self->state;
  auto i = st.dormant.find(key);
  if (i == st.dormant.end()) return;
  for (auto& c : i->second.conns) caf::anon_send(c, wake_atom::value);
  st.dormant.erase(i);
  metrics().hibernated.store(st.dormant.size(), std::memory_order_relaxed);
}

void wake_dormant_elsewhere(self_ptr self, bool all) {
  auto& st = self->state;
  std::vector<std::string> keys;
  for (auto& [key, _] : st.dormant)
    if (all || placement_owner(self, key) != self_name(self)) keys.push_back(key);
  for (auto& key : keys) wake_dormant(self, key);
}

namespace {

caf::result<caf::actor> resolve(self_ptr self, const std::string& key, std::uint64_t hops,
                                bool existing) {
  auto& st = self->state;
  if (liveness::generation() != st.pause_gen) {
    // Paused (SIGSTOP) past the failure timeout: the view is stale and others
    // may have taken over; stop at once, the membership rejoins.
    st.pause_gen = liveness::generation();
    st.held = true;
    stop_activations(self, make_error(skein_error::rejoining, "node rejoining the cluster"));
    self->send(st.membership, check_atom::value);
  }
  auto parsed = session_key::parse(key);
  if (!parsed)
    return make_error(skein_error::malformed_key,
                      "malformed session key: " + session_key::why_invalid(key));
  const std::string kind(parsed->kind());
  if (!st.init.registry->contains(kind))
    return make_error(skein_error::unknown_kind, "unknown session kind '" + kind + "'");
  if (auto i = st.sessions.find(key); i != st.sessions.end()) return i->second.actor;
  std::string owner = pinned_owner(self, key);
  auto up = st.cluster->view.up();
  if (st.held || !liveness::lease_held()
      || (owner.empty() && (up.empty() || st.cluster->self_state == member_state::joining))) {
    // A joining node (also one rejoining after a pause) activates nothing:
    // its view may be empty or stale. The request waits until it is up.
    auto rp = self->make_response_promise<caf::actor>();
    st.until_up.push_back({rp, key, hops, existing});
    return rp;
  }
  if (owner.empty()) owner = hrw_owner(key, up);
  if (owner == self_name(self) || hops >= 3 || st.init.unsafe_skip_fencing)
    return activate(self, key, existing);
  auto rp = self->make_response_promise<caf::actor>();
  if (auto d = peer_directory(self, owner)) {
    rp.delegate(caf::actor_cast<directory_actor>(d), resolve_atom::value, key, hops + 1, existing);
  } else {
    auto& ws = st.waiting[owner];
    if (ws.size() >= 65536)
      return make_error(skein_error::owner_unreachable, "owner " + owner + " unreachable");
    ws.push_back({rp, key, hops, existing});
  }
  return rp;
}

void on_view(self_ptr self, cluster_state_ptr cs) {
  auto& st = self->state;
  const bool sessions_view_changed = cs->sessions_view != st.cluster->sessions_view;
  st.cluster = std::move(cs);
  if (st.cluster->self_state == member_state::joining) st.held = false;  // rejoined
  if (sessions_view_changed) {
    // The lane first: a session's first bundle after the change then finds
    // the new members' relays.
    if (st.init.lane) caf::anon_send(st.init.lane, members_atom::value, st.cluster->sessions_view);
    for (auto& [_, s] : st.sessions) caf::anon_send(s.actor, members_atom::value, st.cluster->sessions_view);
  }
  auto me = caf::actor_cast<directory_actor>(self);
  // Resolutions waiting for an owner: delegate once it is connected, resolve
  // again once it is gone.
  for (auto it = st.waiting.begin(); it != st.waiting.end();) {
    auto m = st.cluster->view.find(it->first);
    auto d = peer_directory(self, it->first);
    if (m && m->state != member_state::down && !d) {
      ++it;
      continue;
    }
    auto ws = std::move(it->second);
    it = st.waiting.erase(it);
    for (auto& w : ws) {
      if (d) w.promise.delegate(caf::actor_cast<directory_actor>(d), resolve_atom::value, w.key, w.hops + 1, w.existing);
      else w.promise.delegate(me, resolve_atom::value, w.key, w.hops, w.existing);
    }
  }
  if (!st.held && st.cluster->self_state != member_state::joining
      && !st.cluster->view.up().empty() && liveness::lease_held()) {
    auto held = std::move(st.until_up);
    st.until_up.clear();
    for (auto& w : held) w.promise.delegate(me, resolve_atom::value, w.key, w.hops, w.existing);
  }
  rebalance(self);  // also retries handoffs that failed (after retry_after)
  // Hibernated sessions whose owner changed: their connections resolve and
  // activate them at the new owner (a draining or joining node owns none).
  wake_dormant_elsewhere(self, out_of_placement(self));
  on_directory_changed(self);
  wake_timers(self);
}

void on_reset(self_ptr self, const caf::error& why, bool rejoining) {
  auto& st = self->state;
  // A lapse (not a rejoin) keeps durability-none activations: they hold
  // their outputs until the lease is back (actors/session_gate.cpp).
  stop_activations(self, why, !rejoining);
  wake_dormant_elsewhere(self, true);  // they resolve once the node serves again
  if (!rejoining) return;
  st.pause_gen = liveness::generation();  // the membership handled any pause before this
  for (auto& [_, ws] : st.waiting)
    for (auto& w : ws) w.promise.deliver(why);
  st.waiting.clear();
  for (auto& w : st.until_up) w.promise.deliver(why);
  st.until_up.clear();
  st.overrides.clear();
}

caf::result<bool, std::uint64_t, std::uint64_t, std::uint64_t> claim(self_ptr self,
                                                                      const std::string& key) {
  auto rp = self->make_response_promise<bool, std::uint64_t, std::uint64_t, std::uint64_t>();
  self->request(self->state.init.replica, persistence::store_wait, claim_atom::value, key)
    .then(
      [self, key, rp](std::uint64_t epoch, std::uint64_t data_epoch, std::uint64_t jseq) mutable {
        rp.deliver(self->state.sessions.count(key) > 0, epoch, data_epoch, jseq);
      },
      [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

caf::result<std::string, bool> move(self_ptr self, const std::string& key, const std::string& to) {
  auto& st = self->state;
  if (!session_key::parse(key))
    return make_error(skein_error::malformed_key,
                      "malformed session key: " + session_key::why_invalid(key));
  auto target = st.cluster->view.find(to);
  if (!target || target->state != member_state::up)
    return make_error(skein_error::no_member, "no member '" + to + "' in state up");
  auto owner = hrw_owner(key, st.cluster->view.up());
  if (owner != self_name(self)) {
    auto d = peer_directory(self, owner);
    if (!d) return make_error(skein_error::owner_unreachable, "owner unreachable");
    auto rp = self->make_response_promise<std::string, bool>();
    rp.delegate(caf::actor_cast<directory_actor>(d), move_atom::value, key, to);
    return rp;
  }
  // This node is the HRW owner: it records where the session lives.
  std::string from = self_name(self);
  if (auto o = st.overrides.find(key); o != st.overrides.end()) from = o->second;
  if (to == owner) st.overrides.erase(key);
  else st.overrides[key] = to;
  if (from == self_name(self)) {
    if (!st.sessions.count(key)) return {from, false};  // not active: it activates on `to`
    start_handoff(self, key, to, to != owner);
  } else if (auto d = peer_directory(self, from)) {
    self->send(caf::actor_cast<directory_actor>(d), handoff_atom::value, key, to, to != owner);
  }
  return {from, true};
}

node_status_ptr status(self_ptr self) {
  auto out = std::make_shared<node_status>();
  out->cluster = self->state.cluster;
  out->connections = metrics().connections.load(std::memory_order_relaxed);
  for (auto& [key, s] : self->state.sessions) {
    const auto* c = s.counters.get();
    out->sessions.push_back({key, c ? c->clients.load(std::memory_order_relaxed) : 0u,
                             c ? c->inputs.load(std::memory_order_relaxed) : 0u});
  }
  return out;
}

directory_actor::behavior_type directory_fun(self_ptr self, directory_init init) {
  auto& st = self->state;
  st.init = std::move(init);
  st.pause_gen = liveness::generation();
  auto empty = std::make_shared<cluster_state>();
  empty->self = st.init.self;
  // Before the first view: no replicas (an activation or adopt may come first).
  auto no_view = std::make_shared<cluster_view>();
  no_view->replicas_of = [](const std::string&) { return std::vector<std::string>{}; };
  empty->sessions_view = std::move(no_view);
  st.cluster = std::move(empty);
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    for (auto i = st.sessions.begin(); i != st.sessions.end(); ++i)
      if (i->second.actor.address() == dm.source) {
        events().publish({{"type", "session_stopped"}, {"session", i->first}});
        if (i->second.handing_off && st.handoffs_in_flight > 0) --st.handoffs_in_flight;
        if (i->second.passivating && st.passivations_in_flight > 0) --st.passivations_in_flight;
        auto key = i->first;
        st.sessions.erase(i);
        on_directory_changed(self);
        session_stopped(self, key);
        return;
      }
  });
  self->set_exit_handler([self](caf::exit_msg& em) {
    for (auto& [_, s] : self->state.sessions) self->send_exit(s.actor, em.reason);
    self->quit(em.reason);
  });
  static stray_error_log stray{"directory"};
  log_stray_errors(self, stray);
  return {
    [self](resolve_atom, const std::string& key) { return resolve(self, key, 0, false); },
    [self](resolve_atom, const std::string& key, std::uint64_t hops) {
      return resolve(self, key, hops, false);
    },
    [self](resolve_atom, const std::string& key, std::uint64_t hops, bool existing) {
      return resolve(self, key, hops, existing);
    },
    [self](claim_atom, const std::string& key) { return claim(self, key); },
    [self](handoff_atom, const std::string& key, const std::string& target, bool pinned) {
      start_handoff(self, key, target, pinned);
    },
    [self](adopt_atom, const std::string& key, std::uint64_t epoch, const std::string& batch,
           const std::string& clients, bool pinned) {
      return adopt(self, key, epoch, batch, clients, pinned);
    },
    [self](handed_atom, const std::string& key, bool ok) { handed(self, key, ok); },
    [self](alarm_atom, const std::string& key, std::int64_t due_ms, bool forwarded) {
      schedule_wake(self, key, due_ms, forwarded);
    },
    [self](alarm_atom) { on_alarm_tick(self); },
    [self](passivate_atom, const std::string& key, caf::actor_id aid, std::uint64_t gen) {
      auto& st = self->state;
      auto i = st.sessions.find(key);
      if (i != st.sessions.end() && i->second.actor && i->second.actor.id() == aid)
        caf::anon_send(i->second.actor, passivate_atom::value, gen);
    },
    [self](dormant_atom, std::string& key, std::string& clients, std::vector<caf::actor>& conns) {
      // A local session hibernated (actors/session_hibernate.cpp).
      auto& st = self->state;
      auto& d = st.dormant[key];
      d.clients_json = std::move(clients);
      d.conns = std::move(conns);
      metrics().hibernated.store(st.dormant.size(), std::memory_order_relaxed);
      // Not ours any more (a view change crossed the hibernation): wake now.
      if (placement_owner(self, key) != self_name(self)) wake_dormant(self, key);
    },
    [self](fence_atom, const std::string& key, std::uint64_t epoch) {
      // A local activation of an older epoch must stop.
      auto i = self->state.sessions.find(key);
      if (i != self->state.sessions.end() && !i->second.handing_off)
        caf::anon_send(i->second.actor, fence_atom::value, key, epoch);
    },
    [self](drain_atom, const std::string& name) -> caf::result<std::string, std::uint64_t> {
      auto& st = self->state;
      if (name == self_name(self)) {
        self->send(st.membership, drain_atom::value);
        return {name, static_cast<std::uint64_t>(st.sessions.size())};
      }
      auto d = peer_directory(self, name);
      if (!d) return make_error(skein_error::no_member, "no connected member named '" + name + "'");
      auto rp = self->make_response_promise<std::string, std::uint64_t>();
      rp.delegate(caf::actor_cast<directory_actor>(d), drain_atom::value, name);
      return rp;
    },
    [self](move_atom, const std::string& key, const std::string& to) {
      return move(self, key, to);
    },
    [self](placement_atom, const std::string& key)
      -> caf::result<std::string, std::vector<std::string>, std::vector<std::string>> {
      auto& st = self->state;
      auto ranking = hrw_ranking(key, st.cluster->view.up());
      std::string owner = ranking.empty() ? self_name(self) : ranking.front();
      if (auto pinned = pinned_owner(self, key); !pinned.empty()) owner = pinned;
      std::vector<std::string> replicas;
      for (auto& n : ranking)
        if (n != owner && static_cast<int>(replicas.size()) < st.cluster->replicas - 1)
          replicas.push_back(n);
      return {owner, ranking, replicas};
    },
    [self](status_atom) { return status(self); },
    // The member list with every member's load as it last gossiped it (this
    // node's own entry too), so every node answers alike: GET /gateway.
    [self](members_atom) { return self->state.cluster->view.to_json(); },
    [self](info_atom) -> caf::result<std::string, std::string> {
      return {self_name(self), self->state.init.url};
    },
    [self](view_atom, cluster_state_ptr& cs) { on_view(self, std::move(cs)); },
    [self](reset_atom, const caf::error& why, bool rejoining) { on_reset(self, why, rejoining); },
    [self](retry_atom) { retry_handoffs(self); },
    [self](retry_atom, const std::string& key, std::uint64_t gen) {
      auto i = self->state.activating.find(key);
      if (i != self->state.activating.end() && i->second.gen == gen
          && i->second.at == phase::awaiting_adopt)
        fail_activation(self, key,
                        make_error(skein_error::handoff_timeout, "handoff of " + key + " timed out"));
    },
    [self](written_atom, std::uint64_t id, const std::string& err) {
      self->state.writes.complete(id, err);
    },
    [self](wire_atom, const caf::actor& membership) {
      self->state.membership = caf::actor_cast<membership_actor>(membership);
    },
  };
}

}  // namespace

}  // namespace skein::directory_detail

namespace skein {

directory_actor spawn_directory(caf::actor_system& sys, directory_init init) {
  return sys.spawn(directory_detail::directory_fun, std::move(init));
}

}  // namespace skein
