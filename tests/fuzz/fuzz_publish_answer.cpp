// libFuzzer target: a session's answer to a server-side publish as the
// publish route reads it (net/publish_answer.cpp). The answer may come from
// another node or from a record on disk: reading it must give an HTTP
// status of the documented set and an object body that dumps (with
// replacement of invalid UTF-8), never throw or crash.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "net/publish_answer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto out = skein::net_detail::read_publish_answer(text);
  switch (out.status) {
    case 200: case 400: case 409: case 422: case 503: break;
    default: std::abort();
  }
  if (!out.body.is_object()) std::abort();
  if (out.unavailable != (out.status == 503)) std::abort();
  (void)out.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return 0;
}
