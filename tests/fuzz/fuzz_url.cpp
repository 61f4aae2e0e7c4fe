// libFuzzer target: request-target parsing (net/url.cpp). Any bytes must
// parse or be refused with a reason; a parsed target holds only UTF-8 (it
// becomes JSON), so dumping it as JSON must not throw.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "net/input_check.hpp"
#include "net/url.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view raw(reinterpret_cast<const char*>(data), size);
  std::string why;
  auto t = skein::parse_target(raw, &why);
  if (!t) {
    if (why.empty()) std::abort();  // a refusal always says why
    return 0;
  }
  for (auto& s : t->segments)
    if (s.empty() || !skein::valid_utf8(s)) std::abort();
  nlohmann::json params(t->query);
  (void)params.dump();  // throws (uncaught: a crash) on invalid UTF-8
  (void)skein::percent_decode(raw, true);
  return 0;
}
