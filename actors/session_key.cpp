// Validation and splitting of session keys "kind/id" (see session_key.hpp).
#include "actors/session_key.hpp"

#include <boost/locale/utf.hpp>

namespace skein {

namespace {

namespace utf = boost::locale::utf;

bool is_control(utf::code_point c) { return c < 0x20 || (c >= 0x7f && c <= 0x9f); }

}  // namespace

std::string session_key::why_invalid(std::string_view text) {
  if (text.size() > max_size)
    return "longer than " + std::to_string(max_size) + " bytes";
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return "no '/' between kind and id";
  if (slash == 0) return "empty kind";
  if (slash + 1 == text.size()) return "empty id";
  // utf_traits::decode rejects overlong forms, surrogates and code points
  // above U+10FFFF as well as truncated sequences.
  auto p = text.begin();
  while (p != text.end()) {
    auto at = static_cast<std::size_t>(p - text.begin());
    auto c = utf::utf_traits<char>::decode(p, text.end());
    if (c == utf::illegal || c == utf::incomplete)
      return "invalid UTF-8 at byte " + std::to_string(at);
    if (is_control(c)) return "control character at byte " + std::to_string(at);
  }
  return {};
}

std::optional<session_key> session_key::parse(std::string_view text) {
  if (!why_invalid(text).empty()) return std::nullopt;
  return session_key(std::string(text), text.find('/'));
}

}  // namespace skein
