// RFC 6570 level-1 URI template matching (see uri_template.hpp).
#include "actors/mcp/uri_template.hpp"

namespace skein::mcp {

bool match_uri_template(const std::string& tmpl, const std::string& uri,
                        std::map<std::string, std::string>& vars) {
  std::size_t t = 0, u = 0;
  while (t < tmpl.size()) {
    if (tmpl[t] == '{') {
      auto close = tmpl.find('}', t);
      if (close == std::string::npos) return false;
      auto name = tmpl.substr(t + 1, close - t - 1);
      t = close + 1;
      // The variable ends at the next literal char of the template (or '/').
      char stop = t < tmpl.size() ? tmpl[t] : '\0';
      std::size_t end = u;
      while (end < uri.size() && uri[end] != '/' && (stop == '\0' || uri[end] != stop)) ++end;
      if (end == u) return false;
      vars[name] = uri.substr(u, end - u);
      u = end;
    } else {
      if (u >= uri.size() || uri[u] != tmpl[t]) return false;
      ++t;
      ++u;
    }
  }
  return u == uri.size();
}

}  // namespace skein::mcp
