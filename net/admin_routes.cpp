// The admin API the dashboard's buttons call. Thin: each route checks its
// parameters and forwards one request to this node's session host; the
// host's answer (a JSON text) is the response body.
//
//   POST /admin/drain?node=NAME           -> host (drain_atom, string node) -> string json
//   POST /admin/move?key=kind/id&to=NAME  -> host (move_atom, string key, string to) -> string json
//
// Answers: 200 with the host's JSON; 400 for missing or malformed
// parameters; 405 for another method; 409 {"error"} when the host refuses
// (its error text); 504 when it does not answer within 30 s; 501
// {"error":"not implemented yet"} if the host has no handler for the message.
//
// Every request needs `Authorization: Bearer ADMIN_TOKEN` (the node's
// --admin-token-file; net/client_auth.cpp): 401 without it, before the
// parameters are looked at. No CORS headers: a page of another origin
// cannot read the answers.
#include <chrono>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/atoms.hpp"
#include "net/ask_host.hpp"
#include "net/host_json.hpp"
#include "actors/session_key.hpp"
#include "net/detail.hpp"
#include "runtime/node.hpp"
#include "runtime/session_host.hpp"

namespace skein::net_detail {

namespace {

using json = nlohmann::json;

constexpr auto host_timeout = std::chrono::seconds(30);

const std::string* param(const request_context& rc, const char* name) {
  auto i = rc.target.query.find(name);
  return i == rc.target.query.end() || i->second.empty() ? nullptr : &i->second;
}

}  // namespace

bool admin_routes(request_context& rc) {
  auto& seg = rc.target.segments;
  if (seg.empty() || seg[0] != "admin") return false;
  const bool drain = seg.size() == 2 && seg[1] == "drain";
  const bool move = seg.size() == 2 && seg[1] == "move";
  if (!drain && !move) {
    rc.respond(error_response(rc, http::status::not_found, "no such route"));
    return true;
  }
  if (rc.req.method() != http::verb::post) {
    auto res = error_response(rc, http::status::method_not_allowed, "method not allowed");
    res.set(http::field::allow, "POST");
    rc.respond(std::move(res));
    return true;
  }
  if (!admin_authorized(rc)) return true;
  if (drain) {
    auto node = param(rc, "node");
    if (!node) {
      rc.respond(error_response(rc, http::status::bad_request, "query parameter node=NAME needed"));
      return true;
    }
    ask_host<std::string, std::uint64_t>(rc, host_timeout, http::status::conflict,
                                         &render_drain, drain_atom::value, *node);
  } else {
    auto key = param(rc, "key");
    auto to = param(rc, "to");
    if (!key || !to || !session_key::parse(*key)) {
      rc.respond(error_response(rc, http::status::bad_request,
                                "query parameters key=kind/id and to=NAME needed"));
      return true;
    }
    ask_host<std::string, bool>(
      rc, host_timeout, http::status::conflict,
      [key = *key, to = *to](const std::string& from, bool moving) {
        return render_move(key, to, from, moving);
      },
      move_atom::value, *key, *to);
  }
  return true;
}

}  // namespace skein::net_detail
