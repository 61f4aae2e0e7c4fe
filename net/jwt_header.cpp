// JWS header reading (contract in net/jwt_header.hpp).
#include "net/jwt_header.hpp"

#include <cstdint>

#include <nlohmann/json.hpp>

namespace skein {

namespace {

int b64url_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

bool is_b64url(std::string_view part) {
  for (char c : part)
    if (b64url_value(c) < 0) return false;
  return true;
}

}  // namespace

std::optional<std::string> base64url_decode(std::string_view in) {
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(in.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = b64url_value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

std::optional<jwt_header> parse_jwt_header(std::string_view token) {
  auto dot1 = token.find('.');
  if (dot1 == std::string_view::npos) return std::nullopt;
  auto dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
    return std::nullopt;
  auto head = token.substr(0, dot1);
  auto payload = token.substr(dot1 + 1, dot2 - dot1 - 1);
  auto sig = token.substr(dot2 + 1);
  if (head.empty() || payload.empty() || !is_b64url(payload) || !is_b64url(sig)) return std::nullopt;
  auto text = base64url_decode(head);
  if (!text) return std::nullopt;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  auto alg = j.find("alg");
  if (alg == j.end() || !alg->is_string()) return std::nullopt;
  return jwt_header{alg->get<std::string>()};
}

}  // namespace skein
