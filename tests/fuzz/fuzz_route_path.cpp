// libFuzzer target: the URL path split a session key comes from
// (/ws/{kind}/{id...}: net/url.cpp parse_target + path_matches, the route
// table's matcher). The input is the path after "/ws/"; a matched path's
// "kind/id" key must be valid UTF-8 and dump as JSON.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "net/input_check.hpp"
#include "net/url.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string raw = "/ws/";
  raw.append(reinterpret_cast<const char*>(data), size);
  auto t = skein::parse_target(raw);
  if (!t) return 0;
  for (auto pattern : {"/ws/**", "/ws/*", "/", "/cluster/placement", "/assets/*", "/**", "/*/*/*"})
    (void)skein::path_matches(pattern, t->segments);
  if (!skein::path_matches("/ws/**", t->segments)) std::abort();  // it starts with /ws
  if (t->segments.size() < 3) return 0;
  std::string key = t->segments[1];
  for (std::size_t i = 2; i < t->segments.size(); ++i) key += "/" + t->segments[i];
  if (!skein::valid_utf8(key)) std::abort();
  (void)nlohmann::json{{"key", key}}.dump();
  return 0;
}
