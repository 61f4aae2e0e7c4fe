// The route table: every HTTP route of a node as (methods, path pattern,
// handler), and the one place that answers 404 (no pattern matches the
// path) and 405 (a pattern matches, the method is not one of its methods;
// Allow lists the methods that would be).
// Patterns are matched by path_matches (net/url.hpp): a literal segment,
// `*` one segment, `**` (last only) zero or more; "/" is the empty path.
#include <string_view>

#include "net/detail.hpp"

namespace skein::net_detail {

namespace {

enum method_bits : unsigned { GET = 1, POST = 2, DELETE = 4 };

struct route {
  unsigned methods;
  std::string_view pattern;
  route_fn handler;
};

const route table[] = {
  {GET, "/healthz", cluster_routes},
  {GET, "/cluster", cluster_routes},
  {GET, "/cluster/placement", cluster_routes},
  {GET, "/cluster/events", events_route},            // SSE
  {GET, "/gateway", gateway_route},                   // ?session=kind/id
  {GET, "/ws/**", websocket_route},                   // /ws/{kind}/{id...}
  {GET | POST, "/sse/**", sse_route},                 // /sse/{kind}/{id...}
  {GET | POST | DELETE, "/mcp", mcp_route},           // MCP Streamable HTTP
  {POST, "/api/sessions/**", publish_route},          // /api/sessions/{kind}/{id...}/messages
  {GET, "/metrics", metrics_route},
  {POST, "/admin/drain", admin_routes},
  {POST, "/admin/move", admin_routes},
  {GET, "/", dashboard_routes},
  {GET, "/chat", dashboard_routes},
  {GET, "/assets/*", dashboard_routes},
  {GET, "/assets/client/*", dashboard_routes},         // @skein/client's modules
};

unsigned bit_of(http::verb v) {
  switch (v) {
    case http::verb::get: return GET;
    case http::verb::post: return POST;
    case http::verb::delete_: return DELETE;
    default: return 0;
  }
}

std::string allow_header(unsigned methods) {
  std::string out;
  for (auto [bit, name] : {std::pair{GET, "GET"}, std::pair{POST, "POST"}, std::pair{DELETE, "DELETE"}})
    if (methods & bit) out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

}  // namespace

void dispatch(request_context& rc) {
  const unsigned method = bit_of(rc.req.method());
  unsigned allowed = 0;
  for (const auto& r : table) {
    if (!path_matches(r.pattern, rc.target.segments)) continue;
    if (!(r.methods & method)) {
      allowed |= r.methods;
      continue;
    }
    if (r.handler(rc)) return;
  }
  if (allowed) {
    auto res = error_response(rc, http::status::method_not_allowed, "method not allowed");
    res.set(http::field::allow, allow_header(allowed));
    return rc.respond(std::move(res));
  }
  rc.respond(error_response(rc, http::status::not_found, "no such route"));
}

}  // namespace skein::net_detail
