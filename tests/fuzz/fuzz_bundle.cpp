// libFuzzer target: a lane bundle as a peer's replica actor reads it off a
// BASP connection (runtime/bundle.hpp): the bytes are CAF 0.17's binary
// serialization of a message (bundle_atom, std::vector<bundle_entry>), or of
// the vector alone, or of a packed bundle (runtime/packed_bundle.hpp), or a
// packed bundle's body alone, or of a slotted bundle (format 3,
// runtime/slotted_bundle.hpp) read by a fresh slot table, or a slotted
// bundle's body alone. Reading them must fail with an error or give entries,
// never crash or allocate without bound; each entry must become a message
// (empty for an unknown kind) that turns into an entry and back unchanged.
//
// The message form is read only when its type names are a bundle's; other
// bytes are read as the vector alone (the part of the frame that is skein's).
//
// Links libcaf_core (not instrumented: the fuzzer is guided by skein's code,
// the inspect() of bundle_entry and bundle.cpp; CAF's own code is covered by
// ASan only where it calls into ours or allocates).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "runtime/bundle.hpp"
#include "runtime/packed_bundle.hpp"
#include "runtime/slotted_bundle.hpp"

namespace {

// Made once and never destroyed: CAF 0.17's actor_system does not survive
// being torn down among the exit handlers (its singletons go first).
caf::actor_system& sys() {
  static auto* s = [] {
    auto* cfg = new caf::actor_system_config;
    skein::add_bundle_types(*cfg);
    cfg->set("scheduler.max-threads", 1);
    cfg->set("logger.verbosity", caf::atom("quiet"));
    return new caf::actor_system{*cfg};
  }();
  return *s;
}

// How CAF 0.17 names the element types of (bundle_atom, std::vector<bundle_entry>).
const std::string bundle_names = "@<>+@atom+std::vector<skein::bundle_entry>";

void check_entries(std::vector<skein::bundle_entry>& entries) {
  for (auto& e : entries) {
    const auto known = e.what <= static_cast<std::uint8_t>(skein::bundle_entry::kind::input);
    auto m = skein::to_message(e);
    if (!known && !m.empty()) std::abort();
    if (m.empty()) continue;
    skein::bundle_entry again;
    skein::to_entry(m, again);
    auto m2 = skein::to_message(again);
    if (to_string(m) != to_string(m2) || m.type_token() != m2.type_token()) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto& s = sys();
  const auto* bytes = reinterpret_cast<const char*>(data);
  // The message form only for bytes that name a bundle's types: what a
  // message of other types does in CAF's reader is CAF's (its config_value
  // reader throws on a bad variant index there too; docs/operations.md,
  // "Cluster port").
  std::uint16_t zero = 1;
  std::string names;
  if (caf::binary_deserializer head{s, bytes, size};
      !head(zero, names) && zero == 0 && names == bundle_names) {
    caf::message in;
    caf::binary_deserializer source{s, bytes, size};
    if (!source(in) && in.match_elements<skein::bundle_atom, std::vector<skein::bundle_entry>>()) {
      auto entries = in.get_as<std::vector<skein::bundle_entry>>(1);
      check_entries(entries);
    }
  }
  {
    std::vector<skein::bundle_entry> entries;
    caf::binary_deserializer source{s, bytes, size};
    if (!source(entries)) check_entries(entries);
  }
  // Format 2 (runtime/packed_bundle.hpp): the bytes as a packed bundle read
  // by CAF, and as the body alone (skein's decoder, no CAF in between). What
  // decodes must pack and unpack again to the same messages.
  auto packed_round_trip = [](skein::packed_bundle& b) {
    auto entries = skein::unpack(b);
    if (!entries) return;
    if (!skein::packable(*entries)) {  // a kind::other byte: not packed again
      check_entries(*entries);
      return;
    }
    std::vector<std::string> first;
    for (auto& e : *entries) {
      auto copy = e;
      first.push_back(to_string(skein::to_message(copy)));
    }
    auto checked = *entries;
    check_entries(checked);
    auto again = skein::pack(std::move(*entries));
    auto second = skein::unpack(again);
    if (!second || second->size() != first.size()) std::abort();
    for (std::size_t i = 0; i < first.size(); ++i)
      if (to_string(skein::to_message((*second)[i])) != first[i]) std::abort();
  };
  {
    skein::packed_bundle b;
    caf::binary_deserializer source{s, bytes, size};
    if (!source(b)) packed_round_trip(b);
  }
  {
    skein::packed_bundle b;
    b.body.assign(bytes, size);
    packed_round_trip(b);
  }
  // Format 3: what decodes must pack through a slot table and read back
  // from its peer's to the same messages.
  auto slotted_round_trip = [](skein::slot_reader& r, skein::slotted_bundle& b) {
    auto entries = r.unpack(b);
    if (!entries || !skein::packable(*entries)) return;
    std::vector<std::string> first;
    for (auto& e : *entries) {
      auto copy = e;
      first.push_back(to_string(skein::to_message(copy)));
    }
    skein::slot_writer w{4};
    skein::slot_reader back;
    auto again = w.pack(std::move(*entries));
    auto second = back.unpack(again);
    if (!second || second->size() != first.size()) std::abort();
    for (std::size_t i = 0; i < first.size(); ++i)
      if (to_string(skein::to_message((*second)[i])) != first[i]) std::abort();
  };
  {
    skein::slotted_bundle b;
    caf::binary_deserializer source{s, bytes, size};
    if (!source(b)) {
      skein::slot_reader fresh;
      slotted_round_trip(fresh, b);
    }
  }
  {
    skein::slotted_bundle b;
    b.body.assign(bytes, size);
    skein::slot_reader fresh;
    slotted_round_trip(fresh, b);
  }
  return 0;
}
