// Activation of a session at its owner (runtime/directory.hpp): claims,
// fetching the freshest copy, adopting a handed-off copy, recovery from the
// store actor's records, fencing the epoch, starting the session actor.
#include <algorithm>

#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/errors.hpp"
#include "actors/metrics.hpp"
#include "actors/events.hpp"
#include "actors/liveness.hpp"
#include "actors/metrics.hpp"
#include "actors/recovery.hpp"
#include "actors/poison.hpp"
#include "actors/registry.hpp"
#include "actors/session_key.hpp"
#include "persistence/committer.hpp"
#include "persistence/keys.hpp"
#include "persistence/records.hpp"
#include "persistence/store_actor.hpp"
#include "persistence/write_batch.hpp"
#include "runtime/directory_state.hpp"

namespace skein::directory_detail {

namespace {

constexpr auto claim_timeout = std::chrono::seconds(2);
constexpr auto fetch_timeout = std::chrono::seconds(5);
constexpr auto fence_timeout = std::chrono::seconds(3);
/// How long the pending inputs of a recovering session may run in the
/// poison check's child process (actors/poison.hpp) before it is killed.
constexpr auto poison_check_timeout = std::chrono::milliseconds(5000);
constexpr auto adopt_timeout = std::chrono::seconds(10);

/// The activation of key if it is still generation gen.
activation* current(self_ptr self, const std::string& key, std::uint64_t gen) {
  auto i = self->state.activating.find(key);
  return i == self->state.activating.end() || i->second.gen != gen ? nullptr : &i->second;
}

void start(self_ptr self, const std::string& key, std::uint64_t gen);

/// One answer to a verification: the last one starts the session, unless a
/// fenced replica's copy is longer than the records it recovered from.
void check_done(self_ptr self, const std::string& key, std::uint64_t gen, std::string newer) {
  auto* a = current(self, key, gen);
  if (!a || a->at != phase::verifying) return;
  if (!newer.empty() && a->newer.empty()) a->newer = std::move(newer);
  if (--a->pending_checks > 0) return;
  if (!a->newer.empty()) {
    metrics().activations_verified_stale.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("activation of {} restarts: {}", key, a->newer);
    return fail_activation(self, key, make_error(skein_error::owner_unreachable,
                                                 "activation of " + key + " restarts: " + a->newer));
  }
  start(self, key, gen);
}

/// Every fence is recorded, so no older activation can have a batch
/// acknowledged by a fenced replica any more; but one that was still serving
/// (another member that thought it owned the session, after a view change)
/// may have had batches acknowledged between this activation's claims and
/// its fences, and released their outputs: records this activation did not
/// load. Every replica set of the older activation meets ours (R is more
/// than half the members), and every such batch is on each of its replicas,
/// so asking our fenced replicas for their copy's journal position finds
/// them: a longer copy fails this activation (its clients retry, and the
/// next claims fetch that copy). Seen in the nemesis (seed 9823, stop 24):
/// two activations released different events at the same seq.
void verify(self_ptr self, const std::string& key, std::uint64_t gen) {
  auto* a = current(self, key, gen);
  if (!a) return;
  a->at = phase::verifying;
  // Recovered from a fetched copy because the local records are unreadable:
  // the local replica cannot tell its position (the copy came from the
  // freshest member the claims found); the others are asked.
  const std::size_t first = a->refetched ? 1 : 0;
  a->pending_checks = a->fenced.size() - first;
  // TEST ONLY: without fencing there is nothing to verify against.
  if (a->pending_checks == 0 || self->state.init.unsafe_skip_fencing) return start(self, key, gen);
  const auto loaded = a->loaded;
  for (std::size_t i = first; i < a->fenced.size(); ++i) {
    auto who = i == 0 ? std::string("this node's replica") : "replica " + std::to_string(i);
    self->request(caf::actor_cast<replica_actor>(a->fenced[i]), fence_timeout, claim_atom::value,
                  key)
      .then(
        [self, key, gen, loaded, who](std::uint64_t, std::uint64_t data_epoch,
                                      std::uint64_t jseq) {
          check_done(self, key, gen,
                     std::make_pair(data_epoch, jseq) > loaded
                       ? who + " holds journal seq " + std::to_string(jseq) + " of epoch "
                           + std::to_string(data_epoch) + " > " + std::to_string(loaded.second)
                           + " of epoch " + std::to_string(loaded.first) + " recovered"
                       : std::string{});
        },
        [self, key, gen, who](caf::error& err) {
          check_done(self, key, gen, who + " did not answer: " + self->system().render(err));
        });
  }
}

/// One answer to an activation's fence (the local replica or a remote one):
/// the first error fails the activation; the last success verifies it.
void fence_done(self_ptr self, const std::string& key, std::uint64_t gen, caf::error err) {
  auto* a = current(self, key, gen);
  if (!a || a->at != phase::fencing) return;
  if (err) {
    spdlog::warn("activation of {} failed: {}", key, self->system().render(err));
    return fail_activation(self, key, err);
  }
  if (--a->pending_fences > 0) return;
  verify(self, key, gen);
}

/// Verified: the session starts.
void start(self_ptr self, const std::string& key, std::uint64_t gen) {
  auto* a = current(self, key, gen);
  if (!a) return;
  auto& st = self->state;
  const auto epoch = a->ready->epoch;
  auto counters = std::make_shared<session_counters>();
  a->ready->counters = counters;
  auto session = spawn_session(self->system(), std::move(*a->ready));
  self->monitor(session);
  st.sessions[key] = local_session{session, false, a->pinned, {}, std::move(counters)};
  forget_wake(self, key);  // an active session arms its own timers
  metrics().activations.fetch_add(1, std::memory_order_relaxed);
  spdlog::debug("activation of {}: started with epoch {} ({} waiting)", key, epoch,
                a->waiters.size());
  events().publish({{"type", "session_activated"}, {"session", key}, {"epoch", epoch}});
  for (auto& w : a->waiters) w.deliver(session);
  if (a->adopter) a->adopter->deliver(session);
  wake_dormant(self, key);  // its hibernated connections resume here
  st.activating.erase(key);
  on_directory_changed(self);
}

/// Recovered: choose the epoch and fence it locally and at every replica.
void fence(self_ptr self, const std::string& key, activation& a, session_init init) {
  auto& st = self->state;
  const auto epoch = init.epoch;
  const auto gen = a.gen;
  a.ready = std::move(init);
  a.at = phase::fencing;
  a.pending_fences = 1;
  a.fenced.assign(1, caf::actor_cast<caf::actor>(st.init.replica));
  auto on_error = [self, key, gen](std::string who) {
    return [self, key, gen, who](caf::error& err) {
      auto code = is(err, skein_error::fenced) ? skein_error::fenced : skein_error::fence_failed;
      fence_done(self, key, gen,
                 make_error(code, who + " did not record the epoch of " + key + ": "
                                    + self->system().render(err)));
    };
  };
  self->request(st.init.replica, fence_timeout, fence_atom::value, key, epoch)
    .then([self, key, gen](std::uint64_t) { fence_done(self, key, gen, caf::error{}); },
          [self, key, gen](caf::error& err) {
            // The local epoch write: a store failure stays a store failure.
            fence_done(self, key, gen,
                       is(err, skein_error::fenced) ? err
                       : is(err, skein_error::store_failure) || is(err, skein_error::unrecoverable)
                         ? err
                         : make_error(skein_error::store_failure, "local fence of " + key + ": "
                                                                    + self->system().render(err)));
          });
  for (auto& r : st.cluster->sessions_view->replicas_of(key)) {
    auto p = st.cluster->peers.find(r);
    if (p == st.cluster->peers.end() || !p->second.replica) continue;
    ++a.pending_fences;
    a.fenced.push_back(p->second.replica);
    self->request(caf::actor_cast<replica_actor>(p->second.replica), fence_timeout,
                  fence_atom::value, key, epoch)
      .then([self, key, gen](std::uint64_t) { fence_done(self, key, gen, caf::error{}); },
            on_error("replica " + r));
  }
}

void recovered(self_ptr self, const std::string& key, std::uint64_t gen, std::uint64_t known,
               const persistence::session_records& records) {
  auto* a = current(self, key, gen);
  if (!a) return;
  auto& st = self->state;
  if (!liveness::lease_held())
    return fail_activation(self, key, make_error(skein_error::no_quorum,
                                                 "this node cannot see a majority of the cluster"));
  auto parsed = session_key::parse(key);  // resolve() validated it
  if (a->existing_only && records.snapshots.empty() && records.journal.empty()
      && !releases_at_once(st.init.registry->options(std::string(parsed->kind())).durable))
    // No member had a copy (the claims found none to fetch) and none here:
    // an unknown id. Nothing is written, no actor is spawned.
    return fail_activation(self, key, make_error(skein_error::no_session,
                                                 "no session " + key));
  session_init init;
  try {
    init.recovered = recover_session(records, *st.init.registry, key);
  } catch (const std::exception& e) {
    spdlog::error("refusing to activate {}: {}", key, e.what());
    return fail_activation(self, key, make_error(skein_error::unrecoverable,
                                                 "cannot activate " + key + ": " + e.what()));
  }
  if (auto& r = init.recovered; !r.pending.empty()) {
    // Inputs admitted but never finished: one of them may have crashed the
    // last owner. Test them in a child process first (actors/poison.hpp).
    auto v = find_poison(*r.logic, r.pending, std::string(parsed->id()), poison_check_timeout);
    if (v.index) {
      r.poison = v.index;
      r.poison_why = v.why;
    } else if (!v.why.empty()) {
      spdlog::warn("{}: cannot test {} pending inputs for poison ({}); running them", key,
                   r.pending.size(), v.why);
    }
  }
  init.epoch = std::max({init.recovered.epoch, a->max_epoch, known}) + 1;
  // Measured as the claims measure a copy (store_actor position_of): the
  // last journal record, pending or not, else the newest snapshot's.
  a->loaded = records.journal.empty()
                ? (records.snapshots.empty()
                     ? std::pair<std::uint64_t, std::uint64_t>{0, 0}
                     : std::pair{records.snapshots.back().epoch, records.snapshots.back().journal_seq})
                : std::pair{records.journal.back().second.epoch, records.journal.back().first};
  init.key = key;
  init.id = std::string(parsed->id());
  init.options = st.init.registry->options(std::string(parsed->kind()));
  init.committer = st.init.committer;
  init.store = st.init.store;
  init.host = caf::actor_cast<caf::actor>(self);
  init.view = st.cluster->sessions_view;
  init.lane = st.init.lane;
  init.relay = caf::actor_cast<caf::actor>(st.init.replica);
  init.clients_json = a->clients_json;
  init.recent = std::move(a->recent);
  if (auto d = st.dormant.find(key); d != st.dormant.end() && init.clients_json == "[]")
    init.clients_json = d->second.clients_json;  // it hibernated here: its clients
  fence(self, key, *a, std::move(init));
}

bool refetch_after_bad_read(self_ptr self, const std::string& key, std::uint64_t gen,
                            const caf::error& err);

/// Reads the records after the known epoch, so that an epoch written by a
/// fence in between is seen by the next activation's claim, never lost.
void load(self_ptr self, const std::string& key, std::uint64_t gen, std::uint64_t known) {
  self->request(self->state.init.store, persistence::store_wait, persistence::load_atom::value, key)
    .then(
      [self, key, gen, known](persistence::session_records_ptr& records) {
        recovered(self, key, gen, known, *records);
      },
      [self, key, gen](caf::error& err) {
        if (!current(self, key, gen)) return;
        if (refetch_after_bad_read(self, key, gen, err)) return;
        fail_activation(self, key, make_error(skein_error::unrecoverable,
                                              "cannot activate " + key + ": "
                                                + self->system().render(err)));
      });
}

/// Recovery from the records of a fetched copy, not from the local store
/// (which could not read them, refetch_after_bad_read). The local epoch is
/// read as usual; if that read fails too, the epochs the claims reported
/// stand for it (logged).
void start_from_copy(self_ptr self, const std::string& key, std::uint64_t gen,
                     persistence::session_records_ptr records) {
  auto* a = current(self, key, gen);
  if (!a) return;
  if (!liveness::lease_held())
    return fail_activation(self, key, make_error(skein_error::no_quorum,
                                                 "this node cannot see a majority of the cluster"));
  a->at = phase::loading;
  self->request(self->state.init.replica, persistence::store_wait, persistence::epoch_atom::value, key)
    .then([self, key, gen, records](std::uint64_t known) { recovered(self, key, gen, known, *records); },
          [self, key, gen, records](caf::error& err) {
            if (!current(self, key, gen)) return;
            spdlog::warn("activation of {}: the local epoch is unreadable too ({}); using the "
                         "epochs the other members reported", key, self->system().render(err));
            recovered(self, key, gen, 0, *records);
          });
}

/// Writes a copy (fetched or adopted) before loading; with `from_copy`,
/// recovery then uses those records instead of reading the store.
void write_copy(self_ptr self, const std::string& key, std::uint64_t gen,
                persistence::write_batch copy, persistence::session_records_ptr from_copy = {}) {
  submit(self, std::move(copy), [self, key, gen, from_copy](const std::string& err) {
    if (!current(self, key, gen)) return;
    if (!err.empty())
      return fail_activation(self, key,
                             make_error(skein_error::store_failure, "copy of " + key + ": " + err));
    if (from_copy) return start_from_copy(self, key, gen, from_copy);
    load_and_start(self, key);
  });
}

void fetch(self_ptr self, const std::string& key, activation& a, const caf::actor& replica) {
  a.at = phase::fetching;
  auto gen = a.gen;
  self->request(caf::actor_cast<replica_actor>(replica), fetch_timeout, fetch_atom::value, key)
    .then(
      [self, key, gen](std::string& bytes) {
        if (!current(self, key, gen)) return;
        persistence::write_batch copy;
        try {
          copy = persistence::write_batch::decode(bytes, key);
        } catch (const std::exception& e) {
          return fail_activation(self, key, make_error(skein_error::fetch_failed,
                                                       "copy of " + key + ": " + e.what()));
        }
        if (!copy.confined_to(key))
          return fail_activation(self, key, make_error(skein_error::fetch_failed,
                                                       "the copy of " + key
                                                         + " writes outside its records"));
        persistence::session_records_ptr from_copy;
        if (current(self, key, gen)->refetched) {
          // The local records stay unreadable under the copy (a read still
          // meets the corrupt block): recover from the copy itself.
          try {
            from_copy = std::make_shared<const persistence::session_records>(
              persistence::session_records_in(copy, key));
          } catch (const std::exception& e) {
            return fail_activation(self, key, make_error(skein_error::fetch_failed,
                                                         "copy of " + key + ": " + e.what()));
          }
        }
        write_copy(self, key, gen, std::move(copy), std::move(from_copy));
      },
      [self, key, gen](caf::error& err) {
        if (!current(self, key, gen)) return;
        fail_activation(self, key, make_error(skein_error::fetch_failed,
                                              "cannot fetch " + key + ": "
                                                + self->system().render(err)));
      });
}

/// The local store could not read key's records (RocksDB reported
/// corruption, e.g. an SST block checksum mismatch, or another I/O error):
/// counted and logged, then the session is fetched from the member with the
/// freshest copy (from the claims), else from any connected replica, and
/// the activation goes on with that copy written over the local records.
/// False (the caller fails the activation) for other errors, when no
/// replica can be asked, or when this activation already fetched once.
bool refetch_after_bad_read(self_ptr self, const std::string& key, std::uint64_t gen,
                            const caf::error& err) {
  auto* a = current(self, key, gen);
  if (!a || err.category() != persistence::store_category) return false;
  metrics().corrupt_reads.fetch_add(1, std::memory_order_relaxed);
  const auto why = self->system().render(err);
  if (a->refetched) {
    spdlog::error("activation of {}: the local store cannot read it even after a fetch: {}", key,
                  why);
    return false;
  }
  auto& st = self->state;
  auto& peers = st.cluster->peers;
  std::string from;
  if (a->best > std::make_pair(std::uint64_t{0}, std::uint64_t{0})) {
    auto p = peers.find(a->best_node);
    if (p != peers.end() && p->second.replica) from = a->best_node;
  }
  if (from.empty())
    for (auto& r : st.cluster->sessions_view->replicas_of(key)) {
      auto p = peers.find(r);
      if (p != peers.end() && p->second.replica) {
        from = r;
        break;
      }
    }
  if (from.empty()) {
    spdlog::error("activation of {}: the local store cannot read it and no replica is reachable: "
                  "{}", key, why);
    return false;
  }
  spdlog::warn("activation of {}: the local store cannot read it ({}); fetching it from {}", key,
               why, from);
  a->refetched = true;
  fetch(self, key, *a, peers.find(from)->second.replica);
  return true;
}

void claims_done(self_ptr self, const std::string& key) {
  auto& st = self->state;
  auto& a = st.activating[key];
  if (!a.unanswered.empty())
    return fail_activation(self, key, make_error(skein_error::owner_unreachable,
                                                 "claim of " + key + " unanswered by "
                                                   + a.unanswered + "; retrying"));
  if (!a.active_node.empty()) {
    if (auto d = peer_directory(self, a.active_node)) {
      a.at = phase::awaiting_adopt;
      self->send(caf::actor_cast<directory_actor>(d), handoff_atom::value, key, self_name(self),
                 false);
      self->delayed_send(self, adopt_timeout, retry_atom::value, key, a.gen);
      return;  // the adopt finishes it
    }
  }
  auto gen = a.gen;
  self->request(st.init.store, persistence::store_wait, persistence::position_atom::value, key)
    .then(
      [self, key, gen](std::uint64_t epoch, std::uint64_t jseq) {
        auto* a = current(self, key, gen);
        if (!a) return;
        auto& peers = self->state.cluster->peers;
        auto p = peers.find(a->best_node);
        if (a->best > std::make_pair(epoch, jseq) && p != peers.end() && p->second.replica)
          return fetch(self, key, *a, p->second.replica);
        load_and_start(self, key);
      },
      [self, key, gen](caf::error& err) {
        if (!current(self, key, gen)) return;
        if (refetch_after_bad_read(self, key, gen, err)) return;
        fail_activation(self, key, make_error(skein_error::store_failure,
                                              "cannot read " + key + ": "
                                                + self->system().render(err)));
      });
}

}  // namespace

void submit(self_ptr self, persistence::write_batch b,
            std::function<void(const std::string&)> then) {
  auto& st = self->state;
  st.writes.submit(*st.init.committer, caf::actor_cast<directory_actor>(self), std::move(b),
                   std::move(then));
}

void fail_waiters(activation& a, const caf::error& why) {
  for (auto& w : a.waiters) w.deliver(why);
  if (!a.adopter) return;
  const bool before_fencing = a.at == phase::adopting || a.at == phase::loading;
  if (before_fencing && !is(why, skein_error::unrecoverable))
    a.adopter->deliver(make_error(skein_error::handoff_refused, reason_of(why)));
  else
    a.adopter->deliver(why);
}

void fail_activation(self_ptr self, const std::string& key, const caf::error& why) {
  auto& st = self->state;
  auto i = st.activating.find(key);
  if (i == st.activating.end()) return;
  fail_waiters(i->second, why);
  // An adopt wrote (or is writing) its copy before it failed. A durable
  // session's copy is one more replica's, kept current by its owner; a
  // durability-none session's is not, and a later activation here would
  // recover the state of that moment (forget_records erases a copy only
  // when an activation starts from it). Erased, after the copy's write
  // (the committer writes in order).
  if (i->second.adopter && unjournaled(self, key)) {
    persistence::write_batch erase;
    erase.erase_session(key);
    submit(self, std::move(erase), [key](const std::string& e) {
      if (!e.empty()) spdlog::warn("the copy of {} from a failed adopt was not erased: {}", key, e);
    });
    metrics().adopt_copies_erased.fetch_add(1, std::memory_order_relaxed);
  }
  st.activating.erase(i);
  if (draining(self)) on_directory_changed(self);
}

void load_and_start(self_ptr self, const std::string& key) {
  auto& st = self->state;
  auto i = st.activating.find(key);
  if (i == st.activating.end()) return;
  auto& a = i->second;
  if (!liveness::lease_held())
    return fail_activation(self, key, make_error(skein_error::no_quorum,
                                                 "this node cannot see a majority of the cluster"));
  a.at = phase::loading;
  auto gen = a.gen;
  self->request(st.init.replica, persistence::store_wait, persistence::epoch_atom::value, key)
    .then([self, key, gen](std::uint64_t known) { load(self, key, gen, known); },
          [self, key, gen](caf::error& err) {
            if (!current(self, key, gen)) return;
            fail_activation(self, key, is(err, skein_error::unrecoverable)
                                         ? err
                                         : make_error(skein_error::store_failure,
                                                      "epoch of " + key + ": "
                                                        + self->system().render(err)));
          });
}

/// At the session cap: asks the sessions idle longest to passivate (1 % of
/// the cap at a time). False if none is idle (or already asked).
bool make_room(self_ptr self) {
  auto& st = self->state;
  const auto now = clock::now();
  std::vector<std::pair<std::int64_t, local_session*>> idle;
  std::size_t asked = 0;
  for (auto& [_, s] : st.sessions) {
    if (s.handing_off || !s.counters) continue;
    if (now - s.passivate_asked < std::chrono::seconds(5)) {
      ++asked;
      continue;
    }
    auto since = s.counters->idle_since_ms.load(std::memory_order_relaxed);
    if (since > 0) idle.emplace_back(since, &s);
  }
  const std::size_t batch = std::max<std::size_t>(1, st.init.max_sessions / 100);
  if (asked >= batch) return true;  // room is being made
  if (idle.empty()) return asked > 0;
  const auto n = std::min(batch - asked, idle.size());
  std::partial_sort(idle.begin(), idle.begin() + static_cast<std::ptrdiff_t>(n), idle.end(),
                    [](const auto& a, const auto& b) { return a.first < b.first; });
  for (std::size_t i = 0; i < n; ++i) {
    idle[i].second->passivate_asked = now;
    caf::anon_send(idle[i].second->actor, passivate_atom::value, std::uint64_t{0});
  }
  spdlog::info("at --max-sessions {}: passivating the {} sessions idle longest", st.init.max_sessions, n);
  return true;
}

/// Claims go to the members whose directory is connected. A member that is
/// alive but not connected (its connection dropped; suspected, not declared
/// down) is not asked, and it may hold the freshest copy: every copy of a
/// session is on R members (the session's node and R-1 replicas), so the
/// claims still find the freshest one if at most R-1 members are missed,
/// and none may be missed for durability none, whose only copy is the live
/// activation. Empty if the claims cover it, else why not (the activation
/// fails with owner_unreachable and its connection retries). Without it a
/// node whose connections to the others had dropped for a moment (a
/// member's restart under load) started a session from its own older copy.
static std::string claims_cannot_cover(self_ptr self, const std::string& key) {
  auto& st = self->state;
  const auto may_miss =
    unjournaled(self, key) ? 0 : static_cast<std::size_t>(std::max(st.cluster->replicas - 1, 0));
  std::vector<std::string> missed;
  for (auto& n : st.cluster->view.alive()) {
    if (n == self_name(self)) continue;
    auto p = st.cluster->peers.find(n);
    if (p == st.cluster->peers.end() || !p->second.directory) missed.push_back(n);
  }
  if (missed.size() <= may_miss) return {};
  std::string names;
  for (auto& n : missed) names += (names.empty() ? "" : ", ") + n;
  return "claim of " + key + ": " + std::to_string(missed.size()) + " members alive but not "
         + "connected (" + names + "), more than the " + std::to_string(may_miss)
         + " a claim may miss; retrying";
}

caf::result<caf::actor> activate(self_ptr self, const std::string& key, bool existing) {
  auto& st = self->state;
  if (auto i = st.sessions.find(key); i != st.sessions.end()) return i->second.actor;
  auto rp = self->make_response_promise<caf::actor>();
  if (auto i = st.activating.find(key); i != st.activating.end()) {
    i->second.waiters.push_back(rp);
    i->second.existing_only = i->second.existing_only && existing;
    return rp;
  }
  if (st.init.max_sessions != 0 && st.sessions.size() + st.activating.size() >= st.init.max_sessions
      && !make_room(self)) {
    metrics().sessions_refused.fetch_add(1, std::memory_order_relaxed);
    rp.deliver(make_error(skein_error::overloaded,
                          "this node holds " + std::to_string(st.sessions.size())
                            + " sessions (--max-sessions) and none is idle"));
    return rp;
  }
  if (auto why = claims_cannot_cover(self, key); !why.empty()) {
    metrics().activations_unclaimed.fetch_add(1, std::memory_order_relaxed);
    rp.deliver(make_error(skein_error::owner_unreachable, why));
    return rp;
  }
  auto& a = st.activating[key];
  a.gen = st.next_gen++;
  a.existing_only = existing;
  a.waiters.push_back(rp);
  std::vector<std::pair<std::string, caf::actor>> asked;
  for (auto& [n, p] : st.cluster->peers)
    if (p.directory) asked.emplace_back(n, p.directory);
  if (asked.empty() || st.init.unsafe_skip_fencing) {
    load_and_start(self, key);
    return rp;
  }
  a.pending_claims = asked.size();
  auto gen = a.gen;
  for (auto& [name, handle] : asked) {
    auto on_answer = [self, key, gen, name = name](bool active, std::uint64_t epoch,
                                                   std::uint64_t data_epoch, std::uint64_t jseq) {
      auto* a = current(self, key, gen);
      if (!a || a->at != phase::claiming) return;
      a->max_epoch = std::max(a->max_epoch, epoch);
      if (active) a->active_node = name;
      // Copies are ordered by their data: the epoch of the last record,
      // then its seq (Raft's up-to-date rule). Ordering by the highest
      // epoch known let a copy that an aborted activation had only fenced
      // (epoch 9 over records of epoch 6 ending at seq 94) outrank the
      // local copy of epoch 7 ending at 184; the activation refetched the
      // older one and acknowledged new adds over 90 lost ones (nemesis seed
      // 25001, stop 25).
      if (std::make_pair(data_epoch, jseq) > a->best) {
        a->best = {data_epoch, jseq};
        a->best_node = name;
      }
      if (--a->pending_claims == 0) claims_done(self, key);
    };
    self->request(caf::actor_cast<directory_actor>(handle), claim_timeout, claim_atom::value, key)
      .then([on_answer](bool active, std::uint64_t epoch, std::uint64_t data_epoch,
                        std::uint64_t jseq) { on_answer(active, epoch, data_epoch, jseq); },
            [self, key, gen, name = name, on_answer](caf::error&) {
              // An unanswered claim may hide the freshest copy: the
              // activation fails (the connection retries) rather than
              // starting from an older one.
              if (auto* a = current(self, key, gen)) a->unanswered = name;
              on_answer(false, 0, 0, 0);
            });
  }
  return rp;
}

caf::result<caf::actor> adopt(self_ptr self, const std::string& key, std::uint64_t epoch,
                              const std::string& batch, const std::string& clients, bool pinned) {
  auto& st = self->state;
  // Already active here (it activated from a copy or won a race): the
  // sender forwards to this activation and stops; its epoch is older.
  if (auto i = st.sessions.find(key); i != st.sessions.end()) return i->second.actor;
  // A node that cannot activate (no quorum lease, joining, or held after a
  // pause) refuses before it writes anything; the sender serves on and
  // retries. Seen right after a join: the new member's lease lapsed for
  // some ms while the rebalance and a drain shipped sessions to it.
  if (!liveness::lease_held() || st.held || st.cluster->self_state == member_state::joining)
    return make_error(skein_error::handoff_refused,
                      "cannot adopt " + key + ": this node holds no quorum lease yet");
  persistence::write_batch copy;
  try {
    copy = persistence::write_batch::decode(batch, key);
  } catch (const std::exception& e) {
    return make_error(skein_error::store_failure, "cannot adopt " + key + ": " + e.what());
  }
  if (!copy.confined_to(key))
    return make_error(skein_error::store_failure,
                      "cannot adopt " + key + ": the copy writes outside its records");
  if (std::string why; !parse_handoff_clients(clients, &why))
    return make_error(skein_error::store_failure,
                      "cannot adopt " + key + ": its clients are malformed (" + why + ")");
  // A durability-none session keeps its events for resumes in memory only:
  // the copy's outbox records are them, handed to the new activation.
  std::vector<std::pair<std::uint64_t, persistence::outbox_record>> recent;
  if (unjournaled(self, key)) {
    try {
      recent = kept_events(copy, key);
    } catch (const std::exception& e) {
      return make_error(skein_error::store_failure, "cannot adopt " + key + ": " + e.what());
    }
  }
  auto rp = self->make_response_promise<caf::actor>();
  self->request(st.init.replica, persistence::store_wait, persistence::epoch_atom::value, key)
    .then(
      [self, key, epoch, clients, pinned, rp, copy = std::move(copy),
       recent = std::move(recent)](std::uint64_t known) mutable {
        auto& st = self->state;
        if (auto i = st.sessions.find(key); i != st.sessions.end())
          return void(rp.deliver(i->second.actor));
        // The same handoff asked again (its source heard no answer within
        // its adopt timeout, session_init::adopt_timeout): the adoption it
        // started is still under way here. Answer this request when it
        // ends; refusing would let the source serve on beside the
        // activation that adoption starts.
        if (auto a = st.activating.find(key); a != st.activating.end() && a->second.adopter
            && a->second.adopt_epoch == epoch) {
          a->second.adopter->deliver(make_error(skein_error::handoff_failed,
                                                "superseded by a repeat of this adopt"));
          a->second.adopter = rp;
          metrics().adopt_repeats.fetch_add(1, std::memory_order_relaxed);
          return;
        }
        if (epoch < known)
          return void(rp.deliver(make_error(skein_error::fenced,
                                            "adopt of " + key + " at epoch " + std::to_string(epoch)
                                              + " < known epoch " + std::to_string(known))));
        // An activation that is reading or fencing would not see the copy:
        // refuse; the sender keeps serving and tries again.
        if (auto a = st.activating.find(key); a != st.activating.end()
            && (a->second.at == phase::loading || a->second.at == phase::fencing
                || a->second.at == phase::verifying || a->second.at == phase::adopting))
          return void(rp.deliver(make_error(skein_error::handoff_refused,
                                            "an activation of " + key + " is starting here")));
        auto& a = st.activating[key];
        a.gen = st.next_gen++;  // answers to an earlier claim phase are void now
        a.at = phase::adopting;
        a.adopter = rp;
        a.adopt_epoch = epoch;
        a.max_epoch = std::max(a.max_epoch, epoch);
        a.clients_json = clients;
        a.pinned = pinned;
        a.recent = std::move(recent);
        st.overrides.erase(key);
        metrics().migrations_in.fetch_add(1, std::memory_order_relaxed);
        events().publish({{"type", "migration_in"}, {"session", key}});
        write_copy(self, key, a.gen, std::move(copy));
      },
      [self, key, rp](caf::error& err) mutable {
        rp.deliver(is(err, skein_error::unrecoverable)
                     ? make_error(skein_error::unrecoverable,
                                  "cannot adopt " + key + ": " + reason_of(err))
                     : err);
      });
  return rp;
}

}  // namespace skein::directory_detail
