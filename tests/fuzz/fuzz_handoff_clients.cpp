// libFuzzer target: the clients a handoff carries (actors/handoff_clients.cpp),
// as a peer sends them in an adopt: parsing must return the clients or
// nullopt with a reason, never crash or throw; every client it returns
// satisfies the header's limits.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "actors/handoff_clients.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::string why;
  auto clients = skein::parse_handoff_clients(text, &why);
  if (!clients) {
    if (why.empty()) std::abort();
    return 0;
  }
  for (const auto& c : *clients)
    if (c.id.empty() || c.id.size() > 256) std::abort();
  return 0;
}
