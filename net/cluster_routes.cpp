// GET /healthz, GET /cluster, GET /cluster/placement?key=kind/id
#include <chrono>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/atoms.hpp"
#include "net/ask_host.hpp"
#include "actors/session_key.hpp"
#include "net/detail.hpp"
#include "runtime/node.hpp"
#include "runtime/membership.hpp"
#include "runtime/session_host.hpp"

namespace skein::net_detail {

namespace {

using json = nlohmann::json;

}  // namespace

bool cluster_routes(request_context& rc) {
  auto& seg = rc.target.segments;
  const bool healthz = seg.size() == 1 && seg[0] == "healthz";
  const bool cluster = seg.size() == 1 && seg[0] == "cluster";
  const bool placement = seg.size() == 2 && seg[0] == "cluster" && seg[1] == "placement";
  if (!healthz && !cluster && !placement) return false;
  // The dashboard served by one node reads every node's /cluster and
  // /healthz: another origin (port), so these answers allow any origin.
  rc.respond = [inner = rc.respond](response res) {
    res.set(http::field::access_control_allow_origin, "*");
    inner(std::move(res));
  };
  if (rc.req.method() != http::verb::get) {
    auto res = error_response(rc, http::status::method_not_allowed, "method not allowed");
    res.set(http::field::allow, "GET");
    rc.respond(std::move(res));
    return true;
  }
  auto& n = rc.server.n;
  if (healthz) {
    auto& st = n.status();
    json body{{"status", "ok"},
              {"node", n.options().name},
              {"state", member_state_name(static_cast<member_state>(st.state.load()))},
              {"peers", st.peers.load()},
              {"peers_connected", st.peers_connected.load()},
              {"sessions", st.active_sessions.load()}};
    rc.respond(json_response(rc, http::status::ok, body.dump()));
  } else if (placement) {
    auto k = rc.target.query.find("key");
    if (k == rc.target.query.end() || !session_key::parse(k->second)) {
      rc.respond(error_response(rc, http::status::bad_request, "query parameter key=kind/id needed"));
      return true;
    }
    ask_host(rc, std::chrono::seconds(5), http::status::service_unavailable, placement_atom::value,
             k->second);
  } else {
    ask_host(rc, std::chrono::seconds(5), http::status::service_unavailable, status_atom::value);
  }
  return true;
}

}  // namespace skein::net_detail
