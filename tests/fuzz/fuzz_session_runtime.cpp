// libFuzzer target: a session's runtime part (timers, tells, open clients)
// as a snapshot carries it (actors/timers.hpp, session_runtime::decode). A
// snapshot comes from this node's store or from a peer (replicate, adopt,
// fetch), so its text is outside input: decoding must return a runtime or
// throw std::invalid_argument, never crash, throw anything else or allocate
// without bound; whatever it returns re-encodes to a fixpoint (decode of
// its encoding encodes alike) and keeps every id below next_id.
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "actors/timers.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  skein::session_runtime rt;
  try {
    rt = skein::session_runtime::decode(text);
  } catch (const std::invalid_argument&) {
    return 0;
  }
  for (const auto& [id, _] : rt.timers())
    if (id == 0 || id >= rt.next_id()) std::abort();
  for (const auto& [id, t] : rt.tells())
    if (id == 0 || id >= rt.next_id() || rt.timers().count(id)
        || t.target.find('/') == std::string::npos)
      std::abort();
  const auto once = rt.encode();
  skein::session_runtime back;
  try {
    back = skein::session_runtime::decode(once);
  } catch (const std::invalid_argument&) {
    std::abort();  // its own encoding must decode
  }
  if (back.encode() != once) std::abort();
  return 0;
}
