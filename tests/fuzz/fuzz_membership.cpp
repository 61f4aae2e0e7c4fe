// libFuzzer target: a cluster membership view (runtime/membership.cpp) as a
// peer sends it in gossip, hello and leave, and as the store records it:
// from_json must return a view or throw std::invalid_argument, never crash
// or throw anything else; a view it returns must satisfy the limits its
// header names, and must survive to_json -> from_json unchanged.
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "runtime/membership.hpp"

using skein::membership;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  membership v;
  try {
    v = membership::from_json(text);
  } catch (const std::invalid_argument&) {
    return 0;
  }
  if (v.members().size() > membership::max_members) std::abort();
  for (auto& [name, m] : v.members()) {
    if (name != m.name || !membership::valid_name(name)) std::abort();
    if (m.cluster_port == 0 || m.host.empty() || m.host.size() > 253) std::abort();
    if (m.url.size() > 2048 || m.sessions < 0 || m.connections < 0) std::abort();
  }
  membership again;
  try {
    again = membership::from_json(v.to_json());
  } catch (const std::invalid_argument&) {
    std::abort();  // what we wrote we must read
  }
  if (again.members() != v.members()) std::abort();
  return 0;
}
