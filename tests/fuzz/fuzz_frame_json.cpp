// libFuzzer target: a client frame on its way in (net/input_check.cpp, then
// nlohmann parse): what passes the UTF-8 and depth checks must parse or be
// refused without a crash, and what parses must dump and copy.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "net/input_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  const bool utf8 = skein::valid_utf8(text);
  auto depth = skein::json_depth(text, skein::default_max_json_depth);
  auto problem = skein::json_input_problem(text);
  if (problem.has_value() == (utf8 && depth <= skein::default_max_json_depth)) std::abort();
  if (problem) return 0;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return 0;
  auto copy = j;
  auto again = nlohmann::json::parse(copy.dump());
  if (again != j && !(j.is_number_float() || j.is_structured())) std::abort();  // NaN-free round trip
  return 0;
}
