// The replica actor (runtime/replica.hpp): epochs, replicated batches,
// fences, fetches and claim positions of one node.
#include "runtime/replica.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <unordered_map>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/errors.hpp"
#include "actors/metrics.hpp"
#include "persistence/committer.hpp"
#include "persistence/keys.hpp"
#include "persistence/write_batch.hpp"
#include "runtime/packed_bundle.hpp"
#include "runtime/pending_writes.hpp"
#include "runtime/slotted_bundle.hpp"
#include "actors/stray_errors.hpp"

namespace skein {

namespace {

using epoch_fn = std::function<void(caf::expected<std::uint64_t>)>;

struct replica_state {
  static inline const char* name = "skein.replica";
  replica_init init;
  directory_actor directory;                             // local; null until wired
  std::map<std::string, std::uint64_t> epochs;           // known fencing epochs
  std::map<std::string, std::vector<epoch_fn>> loading;  // keys read from the store
  pending_writes writes;                                 // epoch writes awaited
  std::unordered_map<caf::actor_addr, slot_reader> slots;  // by peer lane (monitored)
};

using replica_self = replica_actor::stateful_pointer<replica_state>;

/// Maps a store actor error to the error this actor answers with.
caf::error from_store(replica_self self, const std::string& key, const caf::error& err) {
  if (err.category() == persistence::store_category
      && err.code() == static_cast<std::uint8_t>(persistence::store_errc::corrupt_record))
    return make_error(skein_error::unrecoverable,
                      "corrupt epoch record of " + key + ": " + self->system().render(err));
  return make_error(skein_error::store_failure,
                    "cannot read the epoch of " + key + ": " + self->system().render(err));
}

/// Calls fn with the known epoch of key, in arrival order per key.
void with_epoch(replica_self self, const std::string& key, epoch_fn fn) {
  auto& st = self->state;
  if (auto i = st.epochs.find(key); i != st.epochs.end()) return fn(i->second);
  auto [it, first] = st.loading.try_emplace(key);
  it->second.push_back(std::move(fn));
  if (!first) return;
  auto done = [self, key](caf::expected<std::uint64_t> e) {
    auto& st = self->state;
    auto i = st.loading.find(key);
    if (i == st.loading.end()) return;
    auto waiting = std::move(i->second);
    st.loading.erase(i);
    if (e) st.epochs[key] = std::max(st.epochs[key], *e);
    // Each waiter sees the cache as earlier waiters left it.
    for (auto& w : waiting) {
      if (!e) w(e.error());
      else w(st.epochs[key]);
    }
  };
  self->request(st.init.store, persistence::store_wait, persistence::epoch_atom::value, key)
    .then([done](std::uint64_t e) { done(e); },
          [self, key, done](caf::error& err) { done(from_store(self, key, err)); });
}

/// (repl_ack_atom, node, id, err) to a session, through the lane if there is
/// one (acks of one commit group to one node go as one cluster message).
/// Called on this actor or on the committer's thread.
void send_ack(const caf::actor& lane, const std::string& node, const caf::actor& session,
              std::uint64_t id, std::string err) {
  auto m = caf::make_message(repl_ack_atom::value, node, id, std::move(err));
  if (lane) caf::anon_send(lane, bundle_atom::value, session, std::move(m));
  else caf::anon_send(session, std::move(m));
}

/// Submits b; then(err) runs on this actor once it is durable.
void submit(replica_self self, persistence::write_batch b,
            std::function<void(const std::string&)> then) {
  auto& st = self->state;
  st.writes.submit(*st.init.committer, caf::actor_cast<replica_actor>(self), std::move(b),
                   std::move(then));
}

void replicate(replica_self self, const std::string& key, std::uint64_t epoch,
               const std::string& bytes, const caf::actor& session, std::uint64_t id) {
  with_epoch(self, key, [self, key, epoch, bytes, session, id](caf::expected<std::uint64_t> known) {
    auto& st = self->state;
    auto ack = [&](std::string err) {
      send_ack(st.init.lane, st.init.self, session, id, std::move(err));
    };
    if (!known) return ack(self->system().render(known.error()));
    if (epoch < *known && !st.init.unsafe_skip_fencing)
      return ack("fenced: epoch " + std::to_string(epoch) + " < " + std::to_string(*known));
    persistence::write_batch batch;
    try {
      batch = persistence::write_batch::decode(bytes, key);
    } catch (const std::exception& e) {
      return ack(e.what());
    }
    if (!batch.confined_to(key)) return ack("refused: the batch writes outside the records of " + key);
    if (epoch > *known) {
      st.epochs[key] = epoch;
      batch.put_meta(persistence::epoch_meta_key(key), std::to_string(epoch));
    }
    st.init.committer->submit(std::move(batch),
                              [session, id, lane = st.init.lane,
                               name = st.init.self](const std::string& err) {
                                send_ack(lane, name, session, id, err);
                              });
  });
}

caf::result<std::uint64_t> fence(replica_self self, const std::string& key, std::uint64_t epoch) {
  auto rp = self->make_response_promise<std::uint64_t>();
  with_epoch(self, key, [self, key, epoch, rp](caf::expected<std::uint64_t> known) mutable {
    auto& st = self->state;
    if (!known) return void(rp.deliver(known.error()));
    if (st.init.unsafe_skip_fencing) return void(rp.deliver(std::max(*known, epoch)));
    if (epoch <= *known)
      return void(rp.deliver(make_error(skein_error::fenced,
                                   "epoch " + std::to_string(epoch) + " of " + key
                                     + " is not above the known epoch " + std::to_string(*known))));
    st.epochs[key] = epoch;
    // A local activation of an older epoch must stop.
    if (st.directory) self->send(st.directory, fence_atom::value, key, epoch);
    persistence::write_batch b;
    b.put_meta(persistence::epoch_meta_key(key), std::to_string(epoch));
    submit(self, std::move(b), [rp, key, epoch](const std::string& err) mutable {
      if (err.empty()) rp.deliver(epoch);
      else rp.deliver(make_error(skein_error::store_failure,
                                 "cannot write the epoch of " + key + ": " + err));
    });
  });
  return rp;
}

caf::result<std::string> fetch(replica_self self, const std::string& key) {
  auto rp = self->make_response_promise<std::string>();
  with_epoch(self, key, [self, key, rp](caf::expected<std::uint64_t> known) mutable {
    if (!known) return void(rp.deliver(known.error()));
    self->request(self->state.init.store, persistence::store_wait, persistence::copy_atom::value, key, *known)
      .then([rp](std::string& bytes) mutable { rp.deliver(std::move(bytes)); },
            [self, rp, key](caf::error& err) mutable {
              rp.deliver(make_error(skein_error::store_failure,
                                    "cannot copy " + key + ": " + self->system().render(err)));
            });
  });
  return rp;
}

caf::result<std::uint64_t, std::uint64_t, std::uint64_t> claim(replica_self self,
                                                                const std::string& key) {
  auto rp = self->make_response_promise<std::uint64_t, std::uint64_t, std::uint64_t>();
  self->request(self->state.init.store, persistence::store_wait, persistence::position_atom::value, key)
    .then(
      [self, key, rp](std::uint64_t data_epoch, std::uint64_t jseq) mutable {
        with_epoch(self, key, [rp, data_epoch, jseq](caf::expected<std::uint64_t> known) mutable {
          if (!known) return void(rp.deliver(known.error()));
          rp.deliver(std::max(data_epoch, *known), data_epoch, jseq);
        });
      },
      [self, key, rp](caf::error& err) mutable {
        rp.deliver(make_error(skein_error::store_failure,
                              "cannot read " + key + ": " + self->system().render(err)));
      });
  return rp;
}

/// True if m carries a frame or an ack for connections (what the relay
/// counters count).
bool carries_frames(const caf::message& m) {
  return !m.empty() && m.match_element<caf::atom_value>(0)
         && (m.get_as<caf::atom_value>(0) == frame_atom::value
             || m.get_as<caf::atom_value>(0) == ack_atom::value);
}

/// What a relay or a bundle may carry: messages a peer could send to these
/// actors directly, and only to actors of this node; a relay is not a way
/// to reach anything else.
bool relayable(const caf::message& m) {
  if (m.empty() || !m.match_element<caf::atom_value>(0)) return false;
  const auto what = m.get_as<caf::atom_value>(0);
  if (what == frame_atom::value          // session -> connection
      || what == ack_atom::value         // session -> connection
      || what == repl_ack_atom::value    // replica -> session
      || what == replicate_atom::value)  // session -> replica
    return true;
  // connection -> session, in the session's shapes only: a connection's own
  // (message_atom, text) and (leave_atom) from its stream stay local.
  return m.match_elements<message_atom, std::string, std::uint64_t, std::uint64_t, std::uint64_t,
                          std::string, caf::actor>()
         || m.match_elements<join_atom, std::string, std::string, caf::actor, std::uint64_t, bool,
                             std::uint64_t, std::uint64_t, std::string>()
         || m.match_elements<leave_atom, std::string, std::uint64_t, std::uint64_t, caf::actor>();
}

/// Sends m on to each of targets (actors of this node) with `sender` as its
/// sender (a connection checks that a frame comes from its session), so a
/// broadcast crosses the cluster once per node.
void relay(replica_self self, const caf::strong_actor_ptr& sender,
           const std::vector<caf::actor>& targets, const caf::message& m) {
  if (!relayable(m)) return;
  const bool to_conns = carries_frames(m);
  const bool to_self = m.get_as<caf::atom_value>(0) == replicate_atom::value;  // for this actor only
  if (to_self) {
    // Handled here, in the bundle's turn, instead of enqueued to this actor
    // again (a mailbox round per replicated batch, two per guarded input).
    // The bundle's order is kept; a message already in the mailbox from
    // another sender was concurrent with it anyway.
    if (!m.match_elements<replicate_atom, std::string, std::uint64_t, std::string, caf::actor,
                          std::uint64_t>())
      return;
    for (const auto& c : targets)
      if (c && c.address() == self->address()) {
        replicate(self, m.get_as<std::string>(1), m.get_as<std::uint64_t>(2),
                  m.get_as<std::string>(3), m.get_as<caf::actor>(4), m.get_as<std::uint64_t>(5));
        return;
      }
    return;
  }
  for (const auto& c : targets)
    if (c && c.node() == self->node()) {
      c->enqueue(sender, caf::make_message_id(), m, self->context());
      if (to_conns) metrics().relay_deliveries.fetch_add(1, std::memory_order_relaxed);
    }
}

/// relay() for one message of a peer's bundle; true if it carried frames
/// (the relay counter counts a bundle once).
bool relay_bundled(replica_self self, const caf::actor& sender,
                   const std::vector<caf::actor>& targets, const caf::message& m) {
  relay(self, caf::actor_cast<caf::strong_actor_ptr>(sender), targets, m);
  return carries_frames(m);
}

/// relay_bundled() for each entry of a typed, packed or slotted bundle, in
/// order; the relay counter counts the bundle once if it carried frames.
void relay_entries(replica_self self, std::vector<bundle_entry>& entries) {
  bool frames = false;
  for (auto& e : entries) frames |= relay_bundled(self, e.sender, e.targets, to_message(e));
  if (frames) metrics().relay_messages.fetch_add(1, std::memory_order_relaxed);
}

replica_actor::behavior_type replica_fun(replica_self self, replica_init init) {
  self->state.init = std::move(init);
  // A peer lane that is gone (or unreachable) takes its slot table along.
  self->set_down_handler([self](caf::down_msg& dm) { self->state.slots.erase(dm.source); });
  static stray_error_log stray{"replica"};
  log_stray_errors(self, stray);
  return {
    [self](replicate_atom, const std::string& key, std::uint64_t epoch, const std::string& bytes,
           const caf::actor& session, std::uint64_t id) {
      replicate(self, key, epoch, bytes, session, id);
    },
    [self](fence_atom, const std::string& key, std::uint64_t epoch) {
      return fence(self, key, epoch);
    },
    [self](fetch_atom, const std::string& key) { return fetch(self, key); },
    [self](claim_atom, const std::string& key) { return claim(self, key); },
    [self](persistence::epoch_atom, const std::string& key) -> caf::result<std::uint64_t> {
      auto rp = self->make_response_promise<std::uint64_t>();
      with_epoch(self, key, [rp](caf::expected<std::uint64_t> known) mutable {
        if (known) rp.deliver(*known);
        else rp.deliver(known.error());
      });
      return rp;
    },
    [self](relay_atom, const std::vector<caf::actor>& conns, const caf::message& m) {
      metrics().relay_messages.fetch_add(1, std::memory_order_relaxed);
      if (carries_frames(m)) relay(self, self->current_sender(), conns, m);
    },
    [self](relay_atom, const caf::message& batch) {
      metrics().relay_messages.fetch_add(1, std::memory_order_relaxed);
      // Pairs in order; a malformed pair ends the batch (a peer's bug).
      for (std::size_t i = 0; i + 1 < batch.size(); i += 2) {
        if (!batch.match_element<std::vector<caf::actor>>(i)
            || !batch.match_element<caf::message>(i + 1))
          return;
        const auto& m = batch.get_as<caf::message>(i + 1);
        if (carries_frames(m))
          relay(self, self->current_sender(), batch.get_as<std::vector<caf::actor>>(i), m);
      }
    },
    [self](bundle_atom, const caf::message& bundle) {
      // (sender, targets, message) triples from a peer's lane, in order; a
      // malformed triple ends the bundle (a peer's bug).
      bool frames = false;
      for (std::size_t i = 0; i + 2 < bundle.size(); i += 3) {
        if (!bundle.match_element<caf::actor>(i)
            || !bundle.match_element<std::vector<caf::actor>>(i + 1)
            || !bundle.match_element<caf::message>(i + 2))
          break;
        frames |= relay_bundled(self, bundle.get_as<caf::actor>(i),
                                bundle.get_as<std::vector<caf::actor>>(i + 1),
                                bundle.get_as<caf::message>(i + 2));
      }
      if (frames) metrics().relay_messages.fetch_add(1, std::memory_order_relaxed);
    },
    [self](bundle_atom, std::vector<bundle_entry>& entries) {
      // The same triples, typed (runtime/bundle.hpp); an entry of a kind this
      // node does not know becomes an empty message, which relay() skips.
      relay_entries(self, entries);
    },
    [self](bundle_atom, packed_bundle& packed) {
      // Format 2 (runtime/packed_bundle.hpp): the same entries, packed. A
      // body that does not decode is dropped whole, as BASP drops a message
      // it cannot read.
      auto entries = unpack(packed);
      if (!entries) {
        metrics().bundles_refused.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      relay_entries(self, *entries);
    },
    [self](bundle_atom, slotted_bundle& b) {
      // Format 3 (runtime/slotted_bundle.hpp): the same entries against the
      // slot table kept with the sending lane. A bundle out of order (one was
      // lost with a connection) or that does not decode is dropped whole,
      // and the lane is asked for a new generation.
      const auto& sender = self->current_sender();
      if (!sender) return;
      auto addr = caf::actor_cast<caf::actor_addr>(sender);
      auto [it, added] = self->state.slots.try_emplace(addr);
      if (added) self->monitor(sender);
      auto entries = it->second.unpack(b);
      if (!entries) {
        metrics().bundles_refused.fetch_add(1, std::memory_order_relaxed);
        // From this actor (the lane resets the table of the sender's node);
        // enqueued, since a typed actor may not send() to an untyped one.
        sender->enqueue(self->ctrl(), caf::make_message_id(),
                        caf::make_message(reset_atom::value, it->second.refused_generation()),
                        self->context());
        return;
      }
      relay_entries(self, *entries);
    },
    [](bundle_atom) { return slotted_bundle_format; },
    [](flush_atom) {},  // after_relay (actors/lane_barrier.hpp): the answer is the barrier
    [self](reset_atom) { self->state.epochs.clear(); },
    [self](written_atom, std::uint64_t id, const std::string& err) {
      self->state.writes.complete(id, err);
    },
    [self](wire_atom, const caf::actor& directory) {
      self->state.directory = caf::actor_cast<directory_actor>(directory);
    },
  };
}

}  // namespace

replica_actor spawn_replica(caf::actor_system& sys, replica_init init) {
  return sys.spawn(replica_fun, std::move(init));
}

}  // namespace skein
