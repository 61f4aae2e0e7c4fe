// One message of a lane bundle (runtime/lane.hpp) as a typed value, for the
// cluster hop between a node's lane and a peer's replica actor.
//
// Why: CAF 0.17 serializes a type-erased caf::message as the names of its
// element types joined into one string ("@<>+@atom+@str+..."), and reads it
// back by looking each name up in a linear table of built-in names before
// it allocates a holder per element. A bundle that carries its messages as
// (sender, targets, message) triples of one caf::message pays that for the
// three elements of every triple and again for the elements of each inner
// message. A `std::vector<bundle_entry>` is one element: CAF looks up one
// name per bundle, and each entry is read field by field through inspect().
// docs/benchmarks.md, "Lever: typed bundles", has the measured effect.
//
// Shape: the kinds a bundle carries most (what replica.cpp's relayable()
// admits), with their fields mapped as below; any other message (a join or
// a leave, say) travels in `other` (kind::other) and meets the receiver's
// checks as before.
//
//   kind       message                                           fields used
//   frame      (frame_atom, string frame)                        s1
//   ack        (ack_atom, uint64 cseq, uint64 id, string error)  n1, n2, s1
//   repl_ack   (repl_ack_atom, string node, uint64 id, string err) s1, n1, s2
//   replicate  (replicate_atom, string key, uint64 epoch,        s1, n1, s2, a, n2
//               string batch, actor session, uint64 id)
//   input      (message_atom, string client, uint64 token,        s1, n1, n2, n3, s2, a
//               uint64 cseq, uint64 id, string text, actor conn)
//
// Errors: to_message() answers an empty message for an entry whose kind is
// not one of these (a peer's bug or a newer peer's kind): the receiver skips
// it, as it skips an unrelayable message.
//
// Compatibility: a peer built before typed bundles does not know
// bundle_entry; the lane sends typed bundles only to a replica actor that
// answered (bundle_atom) with bundle_format (runtime/lane.cpp), and legacy
// triples to any other.
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/message.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/sec.hpp>

namespace skein {

/// The typed bundle format a replica actor reads (its answer to (bundle_atom)).
inline constexpr std::uint32_t bundle_format = 1;

struct bundle_entry {
  enum class kind : std::uint8_t { other = 0, frame = 1, ack = 2, repl_ack = 3, replicate = 4,
                            input = 5 };

  caf::actor sender;                // null for an anonymous send (the replica's acks)
  std::vector<caf::actor> targets;  // actors of the receiving node
  std::uint8_t what = 0;            // a kind, as a byte on the wire
  std::uint64_t n1 = 0;
  std::uint64_t n2 = 0;
  std::uint64_t n3 = 0;
  std::string s1;
  std::string s2;
  caf::actor a;
  caf::message other;  // kind::other only
};

/// CAF's inspection. Reading (a deserializer) fails with
/// sec::invalid_argument where CAF 0.17 would throw: its deserializer of a
/// caf::config_value throws std::runtime_error on a bad variant index, and a
/// throw out of a BASP worker ends the node (tests/fuzz/fuzz_bundle.cpp found
/// it in `other`). BASP drops a message it cannot read: the whole bundle.
template <class Inspector, class Fields>
typename Inspector::result_type inspect_guarded(Fields fields) {
  if constexpr (Inspector::writes_state) {
    try {
      return fields();
    } catch (const std::exception&) {
      return caf::make_error(caf::sec::invalid_argument);
    }
  } else {
    return fields();
  }
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, bundle_entry& x) {
  return inspect_guarded<Inspector>([&] {
    return f(caf::meta::type_name("skein::bundle_entry"), x.sender, x.targets, x.what, x.n1, x.n2,
             x.n3, x.s1, x.s2, x.a, x.other);
  });
}

/// Registers bundle_entry, std::vector<bundle_entry>, packed_bundle
/// (runtime/packed_bundle.hpp, format 2) and slotted_bundle
/// (runtime/slotted_bundle.hpp, format 3) with CAF (every node must, before
/// its actor system starts).
void add_bundle_types(caf::actor_system_config& cfg);

/// Fills e's kind and fields from m (moved from where m is not shared).
void to_entry(caf::message m, bundle_entry& e);

/// The message e stands for; empty if e's kind is unknown.
caf::message to_message(bundle_entry& e);

}  // namespace skein
