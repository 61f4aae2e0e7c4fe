// Format 3 of a lane bundle (runtime/lane.hpp): a packed bundle whose actor
// references are slots of a table that the sending lane and the receiving
// replica actor keep for each other, so an actor crosses the cluster once
// per table instead of once per bundle.
//
// Why: in format 2 (runtime/packed_bundle.hpp) every distinct actor of a
// bundle still crosses as a CAF handle: the sender's BASP writes its node id
// and registers it, and the receiver looks each one up in CAF's actor or
// proxy registry (a lock and a map lookup each). At the rtt peak reading
// them was 5 % of a node's CAF samples (stop 58's profile), and a bundle
// names the same connections and sessions again and again. Here the
// receiver resolves a slot to a weak handle it already holds.
// docs/benchmarks.md, "Lever: handle slots (stop 59)", has the measured
// effect. The idea is HTTP/2's HPACK dynamic table (RFC 7541): state that
// both ends of one ordered stream keep in step.
//
// Shape: `generation` and `seq` order the bundles of one table; `actors`
// are the actors introduced by this bundle, in the order the body introduces
// them; `body` is runtime/bundle_codec.hpp's encoding with these refs:
//   0          no actor
//   2k + 1     the actor in slot k
//   2k + 2     slot k now holds the next actor of `actors` (and it is meant)
// Refs are applied in body order, so a slot may be reused within a bundle.
//
// Ordering: a lane sends a node's bundles to one replica actor, and CAF
// keeps the order of messages between two actors; a lost bundle (a BASP
// connection that drops) shows as a gap in seq. The receiver then forgets
// the table, drops the bundle (as BASP drops what it cannot read) and asks
// the lane for a new generation (reset_atom, generation); until that
// generation's seq 0 arrives it drops the old generation's bundles. The
// lane also starts a new generation when the view hands it a new handle of
// the peer's replica actor (a reconnect), and when it has sent the peer
// nothing for a whole tick (default_slot_idle, runtime/lane.hpp), so an
// idle table holds no actor's memory. A bundle with seq 0 always starts a
// new table.
//
// Errors: slot_reader::unpack() refuses (nullopt) a body that does not decode
// (bundle_codec.hpp), a slot at or past max_slots, a ref to an empty slot,
// an introduction with no actor left in `actors` or actors left over, and a
// bundle out of order (above).
//
// Memory: the writer holds at most its capacity of (node id, actor id) pairs
// per peer, no actor references; the reader a weak handle per slot, which
// keeps a stopped actor's allocation (CAF frees an actor's memory when its
// last weak reference goes) until the slot is reused or the table reset.
//
// Thread-safety: plain values; each writer belongs to one lane, each reader
// to one replica actor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/node_id.hpp>

#include "runtime/bundle.hpp"

namespace skein {

/// The bundle format a replica actor reads since stop 59.
inline constexpr std::uint32_t slotted_bundle_format = 3;

/// Slots a reader accepts (an index at or past it is refused): bounds what a
/// peer can make this node allocate.
inline constexpr std::size_t max_slots = 65536;

/// Slots a lane keeps per peer by default. At 1,000 rtt pairs on three nodes
/// a node names about 1,000 distinct actors to each peer; past the capacity
/// the oldest slot is reused (an actor named again is introduced again).
inline constexpr std::size_t default_slots = 4096;

/// Registered with CAF by add_bundle_types (bundle.hpp).
struct slotted_bundle {
  std::uint64_t generation = 0;
  std::uint64_t seq = 0;             // 0 starts the generation's table
  std::vector<caf::actor> actors;    // introduced by this bundle, in body order
  std::string body;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, slotted_bundle& x) {
  return inspect_guarded<Inspector>([&] {
    return f(caf::meta::type_name("skein::slotted_bundle"), x.generation, x.seq, x.actors, x.body);
  });
}

/// The lane's side of one peer's table.
class slot_writer {
 public:
  /// capacity: slots used, 1..max_slots (clamped).
  explicit slot_writer(std::size_t capacity = default_slots);

  /// The entries as the next bundle of this table (moved from). Precondition:
  /// packable(entries) (runtime/packed_bundle.hpp).
  slotted_bundle pack(std::vector<bundle_entry>&& entries);

  /// An empty bundle that starts a new generation: the reader forgets every
  /// slot. Used for a reset the reader asked for and for an idle table.
  slotted_bundle reset();

  std::uint64_t generation() const noexcept { return generation_; }

  /// Slots in use.
  std::size_t size() const noexcept { return by_slot_.size(); }

  /// True if a bundle was packed since the last call (then clears the mark):
  /// the lane's idle check.
  bool take_active() noexcept { return std::exchange(active_, false); }

 private:
  struct named {
    caf::node_id node;
    caf::actor_id id = 0;
  };

  std::size_t capacity_;
  // By actor id alone (cheap to hash); the slot's node decides a match, so
  // two nodes' actors of one id share the entry and the later one holds it.
  std::unordered_map<caf::actor_id, std::uint32_t> by_id_;
  std::vector<named> by_slot_;
  std::uint32_t hand_ = 0;  // the next slot to (re)use, FIFO
  std::uint64_t generation_ = 0;
  std::uint64_t seq_ = 0;
  bool active_ = false;
};

/// The replica actor's side of one lane's table.
class slot_reader {
 public:
  /// The entries of b, resolved against this table; nullopt if b is refused
  /// (see Errors above). After a refusal the table is empty and waits for a
  /// generation's seq 0; the caller asks the lane for one (refused_generation()).
  std::optional<std::vector<bundle_entry>> unpack(slotted_bundle& b);

  /// The generation to name in a reset request after a refusal.
  std::uint64_t refused_generation() const noexcept { return refused_; }

  std::size_t size() const noexcept { return used_; }

 private:
  void forget();

  struct slot {
    caf::actor_addr addr;  // weak; empty for an actor that was already gone
    bool set = false;
  };
  std::vector<slot> slots_;
  std::size_t used_ = 0;
  bool started_ = false;
  std::uint64_t generation_ = 0;
  std::uint64_t next_seq_ = 0;
  std::uint64_t refused_ = 0;
};

}  // namespace skein
