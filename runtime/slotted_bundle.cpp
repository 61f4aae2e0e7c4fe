// Slotted lane bundles (runtime/slotted_bundle.hpp).
#include "runtime/slotted_bundle.hpp"

#include <algorithm>

#include <caf/all.hpp>

#include "runtime/bundle_codec.hpp"

namespace skein {

slot_writer::slot_writer(std::size_t capacity)
    : capacity_(std::clamp<std::size_t>(capacity, 1, max_slots)) {}

slotted_bundle slot_writer::pack(std::vector<bundle_entry>&& entries) {
  slotted_bundle b;
  b.generation = generation_;
  b.seq = seq_++;
  active_ = true;
  codec::encode_body(entries, b.body, [&](caf::actor& a) -> std::uint64_t {
    if (!a) return 0;
    const auto* ctrl = caf::actor_cast<caf::actor_control_block*>(a);
    const auto id = ctrl->id();
    auto [i, added] = by_id_.try_emplace(id, hand_);
    if (!added && by_slot_[i->second].node == ctrl->node()) return 2 * std::uint64_t{i->second} + 1;
    const auto slot = hand_;
    hand_ = static_cast<std::uint32_t>((hand_ + 1) % capacity_);
    if (slot < by_slot_.size()) {
      // The slot's previous actor: its entry goes unless it names another
      // slot now (an actor of the same id on another node took it).
      auto& old = by_slot_[slot];
      if (old.id != id)
        if (auto o = by_id_.find(old.id); o != by_id_.end() && o->second == slot) by_id_.erase(o);
      old = {ctrl->node(), id};
    } else {
      by_slot_.push_back({ctrl->node(), id});
    }
    i->second = slot;  // (an erase leaves other elements' iterators valid)
    b.actors.push_back(std::move(a));
    return 2 * std::uint64_t{slot} + 2;
  });
  return b;
}

slotted_bundle slot_writer::reset() {
  by_id_.clear();
  by_slot_.clear();
  hand_ = 0;
  seq_ = 0;
  ++generation_;
  return pack({});
}

void slot_reader::forget() {
  slots_.clear();
  slots_.shrink_to_fit();
  used_ = 0;
}

std::optional<std::vector<bundle_entry>> slot_reader::unpack(slotted_bundle& b) {
  auto refuse = [&]() -> std::optional<std::vector<bundle_entry>> {
    forget();
    started_ = false;
    refused_ = b.generation;
    return std::nullopt;
  };
  if (b.seq == 0) {
    forget();
    started_ = true;
    generation_ = b.generation;
    next_seq_ = 0;
  } else if (!started_ || b.generation != generation_ || b.seq != next_seq_) {
    return refuse();
  }
  std::size_t introduced = 0;
  auto entries = codec::decode_body(b.body, [&](std::uint64_t ref, caf::actor& out) {
    const auto slot = (ref - 1) / 2;
    if (slot >= max_slots) return false;
    const auto s = static_cast<std::size_t>(slot);
    if (ref % 2 == 0) {  // an introduction
      if (introduced == b.actors.size()) return false;
      if (s >= slots_.size()) slots_.resize(s + 1);
      if (!slots_[s].set) ++used_;
      // Null if it died before it arrived (CAF reads a dead local actor so):
      // the slot is set all the same, and later refs to it mean no actor.
      out = std::move(b.actors[introduced++]);
      slots_[s] = {out.address(), true};
      return true;
    }
    if (s >= slots_.size() || !slots_[s].set) return false;
    out = caf::actor_cast<caf::actor>(slots_[s].addr);  // null once the actor is gone
    return true;
  });
  if (!entries || introduced != b.actors.size()) return refuse();
  ++next_seq_;
  return entries;
}

}  // namespace skein
