// Typed bundle entries (runtime/bundle.hpp).
#include "runtime/bundle.hpp"

#include <utility>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "runtime/packed_bundle.hpp"
#include "runtime/slotted_bundle.hpp"

namespace skein {

namespace {

using kind = bundle_entry::kind;

template <class T>
T take(caf::message& m, std::size_t i) {
  // get_mutable_as detaches a shared message first: copy then, move else.
  if (m.cvals()->get_reference_count() == 1) return std::move(m.get_mutable_as<T>(i));
  return m.get_as<T>(i);
}

}  // namespace

void add_bundle_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<bundle_entry>("skein::bundle_entry");
  cfg.add_message_type<std::vector<bundle_entry>>("std::vector<skein::bundle_entry>");
  cfg.add_message_type<packed_bundle>("skein::packed_bundle");
  cfg.add_message_type<slotted_bundle>("skein::slotted_bundle");
}

void to_entry(caf::message m, bundle_entry& e) {
  if (m.match_elements<frame_atom, std::string>()) {
    e.what = static_cast<std::uint8_t>(kind::frame);
    e.s1 = take<std::string>(m, 1);
  } else if (m.match_elements<ack_atom, std::uint64_t, std::uint64_t, std::string>()) {
    e.what = static_cast<std::uint8_t>(kind::ack);
    e.n1 = m.get_as<std::uint64_t>(1);
    e.n2 = m.get_as<std::uint64_t>(2);
    e.s1 = take<std::string>(m, 3);
  } else if (m.match_elements<repl_ack_atom, std::string, std::uint64_t, std::string>()) {
    e.what = static_cast<std::uint8_t>(kind::repl_ack);
    e.s1 = take<std::string>(m, 1);
    e.n1 = m.get_as<std::uint64_t>(2);
    e.s2 = take<std::string>(m, 3);
  } else if (m.match_elements<replicate_atom, std::string, std::uint64_t, std::string, caf::actor,
                              std::uint64_t>()) {
    e.what = static_cast<std::uint8_t>(kind::replicate);
    e.s1 = take<std::string>(m, 1);
    e.n1 = m.get_as<std::uint64_t>(2);
    e.s2 = take<std::string>(m, 3);
    e.a = m.get_as<caf::actor>(4);
    e.n2 = m.get_as<std::uint64_t>(5);
  } else if (m.match_elements<message_atom, std::string, std::uint64_t, std::uint64_t,
                              std::uint64_t, std::string, caf::actor>()) {
    e.what = static_cast<std::uint8_t>(kind::input);
    e.s1 = take<std::string>(m, 1);
    e.n1 = m.get_as<std::uint64_t>(2);
    e.n2 = m.get_as<std::uint64_t>(3);
    e.n3 = m.get_as<std::uint64_t>(4);
    e.s2 = take<std::string>(m, 5);
    e.a = m.get_as<caf::actor>(6);
  } else {
    e.what = static_cast<std::uint8_t>(kind::other);
    e.other = std::move(m);
  }
}

caf::message to_message(bundle_entry& e) {
  switch (static_cast<kind>(e.what)) {
    case kind::frame:
      return caf::make_message(frame_atom::value, std::move(e.s1));
    case kind::ack:
      return caf::make_message(ack_atom::value, e.n1, e.n2, std::move(e.s1));
    case kind::repl_ack:
      return caf::make_message(repl_ack_atom::value, std::move(e.s1), e.n1, std::move(e.s2));
    case kind::replicate:
      return caf::make_message(replicate_atom::value, std::move(e.s1), e.n1, std::move(e.s2),
                               std::move(e.a), e.n2);
    case kind::input:
      return caf::make_message(message_atom::value, std::move(e.s1), e.n1, e.n2, e.n3,
                               std::move(e.s2), std::move(e.a));
    case kind::other:
      return std::move(e.other);
  }
  return {};
}

}  // namespace skein
