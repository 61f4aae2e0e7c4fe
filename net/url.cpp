// Request-target parsing and route-pattern matching (see url.hpp).
#include "net/url.hpp"

#include "net/input_check.hpp"

namespace skein {

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<target> refuse(std::string* why, const char* reason) {
  if (why) *why = reason;
  return std::nullopt;
}
}  // namespace

std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<target> parse_target(std::string_view raw, std::string* why) {
  if (raw.empty() || raw.front() != '/') return refuse(why, "request target must start with '/'");
  target t;
  auto qpos = raw.find('?');
  auto path = raw.substr(0, qpos);
  while (!path.empty()) {
    auto slash = path.find('/');
    auto seg = path.substr(0, slash);
    if (!seg.empty()) {
      auto decoded = percent_decode(seg, false);
      if (!decoded) return refuse(why, "malformed percent-escape in the path");
      if (!valid_utf8(*decoded)) return refuse(why, "path is not valid UTF-8");
      t.segments.push_back(std::move(*decoded));
    }
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  if (qpos == std::string_view::npos) return t;
  auto query = raw.substr(qpos + 1);
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    if (!pair.empty()) {
      auto eq = pair.find('=');
      auto k = percent_decode(pair.substr(0, eq), true);
      auto v = eq == std::string_view::npos ? std::optional<std::string>{""}
                                            : percent_decode(pair.substr(eq + 1), true);
      if (!k || !v) return refuse(why, "malformed percent-escape in the query");
      if (!valid_utf8(*k) || !valid_utf8(*v)) return refuse(why, "query parameter is not valid UTF-8");
      t.query.emplace(std::move(*k), std::move(*v));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return t;
}

bool path_matches(std::string_view pattern, const std::vector<std::string>& segments) {
  std::size_t i = 0;
  if (!pattern.empty() && pattern.front() == '/') pattern.remove_prefix(1);
  while (!pattern.empty()) {
    auto slash = pattern.find('/');
    auto part = pattern.substr(0, slash);
    pattern.remove_prefix(slash == std::string_view::npos ? pattern.size() : slash + 1);
    if (part == "**") return true;
    if (i >= segments.size()) return false;
    if (part != "*" && part != segments[i]) return false;
    ++i;
  }
  return i == segments.size();
}

}  // namespace skein
