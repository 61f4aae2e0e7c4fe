// RFC 6570 level-1 URI template matching for MCP resource templates:
// `{var}` matches one or more characters other than '/' (and other than the
// template's next literal character). No state; thread-safe.
#pragma once

#include <map>
#include <string>

namespace skein::mcp {

/// Matches `uri` against `tmpl` ("file:///{dir}/{name}.txt"). On a match
/// returns true and sets vars[name] for every variable; on no match returns
/// false (vars may hold partial results). An unclosed '{' never matches.
bool match_uri_template(const std::string& tmpl, const std::string& uri,
                        std::map<std::string, std::string>& vars);

}  // namespace skein::mcp
