// GET /            the cluster dashboard (net/assets/dashboard.html)
// GET /chat        the chat demo page (net/assets/chat.html)
// GET /assets/NAME the pages' scripts, styles and icon
// GET /assets/client/NAME  @skein/client's ES modules (clients/js, compiled)
//
// Every file is embedded in the binary (net/embed_assets.cmake); nothing is
// read from disk or fetched from another host. Responses carry an ETag
// (If-None-Match answers 304) and a Content-Security-Policy that only allows
// this origin's scripts and styles; the pages talk to every node of the
// cluster (fetch, EventSource, WebSocket), so connect-src is open.
//
#include <string>
#include <string_view>

#include "net/assets.hpp"
#include "net/detail.hpp"

namespace skein::net_detail {

namespace {

constexpr std::string_view content_security_policy =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
  "connect-src *; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

// Beast 1.74 takes boost::string_view.
beast::string_view bsv(std::string_view s) { return {s.data(), s.size()}; }

const embedded_asset* find_asset(std::string_view name) {
  for (auto& a : embedded_assets())
    if (a.name == name) return &a;
  return nullptr;
}

response asset_response(const request_context& rc, const embedded_asset& a) {
  const bool fresh = rc.req[http::field::if_none_match] == bsv(a.etag);
  response res{fresh ? http::status::not_modified : http::status::ok, rc.req.version()};
  res.set(http::field::server, rc.server.server_header);
  res.set(http::field::etag, bsv(a.etag));
  res.set(http::field::cache_control, "no-cache");
  res.set("X-Content-Type-Options", "nosniff");
  if (a.content_type.starts_with("text/html")) {
    res.set("Content-Security-Policy", bsv(content_security_policy));
    res.set("Referrer-Policy", "no-referrer");
  }
  res.keep_alive(rc.req.keep_alive());
  if (!fresh) {
    res.set(http::field::content_type, bsv(a.content_type));
    res.body().assign(a.bytes());
  }
  res.prepare_payload();
  return res;
}

}  // namespace

bool dashboard_routes(request_context& rc) {
  auto& seg = rc.target.segments;
  std::string_view file;
  std::string client_file;
  if (seg.empty()) {
    file = "dashboard.html";
  } else if (seg.size() == 1 && seg[0] == "chat") {
    file = "chat.html";
  } else if (seg.size() == 2 && seg[0] == "assets") {
    file = seg[1];
  } else if (seg.size() == 3 && seg[0] == "assets" && seg[1] == "client") {
    client_file = "client/" + seg[2];
    file = client_file;
  } else if (!seg.empty() && seg[0] == "assets") {
    rc.respond(error_response(rc, http::status::not_found, "no such asset"));
    return true;
  } else {
    return false;
  }
  if (rc.req.method() != http::verb::get) {
    auto res = error_response(rc, http::status::method_not_allowed, "method not allowed");
    res.set(http::field::allow, "GET");
    rc.respond(std::move(res));
    return true;
  }
  auto a = find_asset(file);
  if (!a) {
    rc.respond(error_response(rc, http::status::not_found, "no such asset"));
    return true;
  }
  rc.respond(asset_response(rc, *a));
  return true;
}


}  // namespace skein::net_detail
