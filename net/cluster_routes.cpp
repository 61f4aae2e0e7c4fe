// GET /healthz, GET /cluster, GET /cluster/placement?key=kind/id
//
// CORS: an Origin that is one of the members' URLs (as the last /cluster
// answer listed them) is echoed in Access-Control-Allow-Origin; any other
// gets none. /cluster leaves out mcp/ sessions.
#include <chrono>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/atoms.hpp"
#include "net/ask_host.hpp"
#include "net/host_json.hpp"
#include "actors/session_key.hpp"
#include "net/detail.hpp"
#include "net/http_util.hpp"
#include "runtime/node.hpp"
#include "runtime/membership.hpp"
#include "runtime/session_host.hpp"

namespace skein::net_detail {

namespace {

using json = nlohmann::json;

bool is_mcp_key(const json& k) {
  return k.is_string() && k.get_ref<const std::string&>().rfind("mcp/", 0) == 0;
}

/// The host's status JSON less mcp/ keys; remembers the members' origins.
std::string public_cluster_view(server_context& ctx, const std::string& body) {
  auto j = json::parse(body, nullptr, false);
  if (!j.is_object()) return body;
  if (auto s = j.find("sessions"); s != j.end() && s->is_array()) {
    json kept = json::array();
    for (auto& k : *s)
      if (!is_mcp_key(k)) kept.push_back(k);
    *s = std::move(kept);
  }
  if (auto s = j.find("session_stats"); s != j.end() && s->is_array()) {
    json kept = json::array();
    for (auto& st : *s)
      if (!st.is_object() || !is_mcp_key(st.value("key", json()))) kept.push_back(st);
    *s = std::move(kept);
  }
  std::vector<std::string> origins;
  if (auto m = j.find("members"); m != j.end() && m->is_array())
    for (auto& member : *m)
      if (member.is_object() && member.contains("url") && member["url"].is_string()) {
        auto url = member["url"].get<std::string>();
        while (!url.empty() && url.back() == '/') url.pop_back();
        origins.push_back(std::move(url));
      }
  {
    std::lock_guard<std::mutex> guard{ctx.origins_mutex};
    ctx.member_origins = std::move(origins);
  }
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

bool member_origin(server_context& ctx, const std::string& origin) {
  std::lock_guard<std::mutex> guard{ctx.origins_mutex};
  for (auto& o : ctx.member_origins)
    if (o == origin) return true;
  return false;
}

bool cluster_routes(request_context& rc) {
  auto& seg = rc.target.segments;
  const bool healthz = seg.size() == 1 && seg[0] == "healthz";
  const bool cluster = seg.size() == 1 && seg[0] == "cluster";
  const bool placement = seg.size() == 2 && seg[0] == "cluster" && seg[1] == "placement";
  if (!healthz && !cluster && !placement) return false;
  // The dashboard served by one node reads every node's /cluster: another
  // origin (port). Only the members' own origins are allowed (CORS), never
  // "*"; /cluster lists no mcp/ keys (an MCP session id is its credential).
  rc.respond = [inner = rc.respond, &ctx = rc.server, origin = header(rc.req, "Origin"),
                cluster](response res) {
    if (cluster && res.result() == http::status::ok) {
      res.body() = public_cluster_view(ctx, res.body());
      res.prepare_payload();
    }
    if (!origin.empty()) {
      res.set(http::field::vary, "Origin");
      if (member_origin(ctx, origin)) res.set(http::field::access_control_allow_origin, origin);
    }
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
    ask_host<std::string, std::vector<std::string>, std::vector<std::string>>(
      rc, std::chrono::seconds(5), http::status::service_unavailable,
      [key = k->second](const std::string& owner, const std::vector<std::string>& ranking,
                        const std::vector<std::string>& replicas) {
        return render_placement(key, owner, ranking, replicas);
      },
      placement_atom::value, k->second);
  } else {
    ask_host<node_status_ptr>(rc, std::chrono::seconds(5), http::status::service_unavailable,
                              [url = n.url()](const node_status_ptr& s) {
                                return render_status(*s, url);
                              },
                              status_atom::value);
  }
  return true;
}

}  // namespace skein::net_detail
