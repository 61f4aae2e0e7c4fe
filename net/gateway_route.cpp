// GET /gateway[?session=kind/id]: which node a client should connect to
// (Discord-style), so it lands on a lightly loaded node, or on the node
// that holds its session and saves the hop between nodes.
//
//   GET /gateway                  200 {"node":"n2","url":"http://HOST:PORT"}
//     the least-loaded member in state `up`: fewest open client streams
//     (connections), then fewest activations (sessions), then the smallest
//     name. Loads are the numbers each member gossips with its heartbeat
//     (runtime/membership.hpp; every heartbeat_interval, 500 ms by
//     default), read from this node's view of the membership, this node's
//     own entry included: every node that has the same view gives the same
//     answer. A load is at most one heartbeat (plus a message delay) old.
//   GET /gateway?session=kind/id  200 {"node","url"} of the session's owner
//     (GET /cluster/placement's `owner`: HRW over the `up` members, or an
//     operator's move known to this node).
//
// `url` is the member's HTTP base URL exactly as GET /cluster lists it.
// No redirect: the client connects itself. Any origin may read the answer
// (browsers on another node's page call it).
// Errors: 400 {"error"} for a `session` that is not a valid key, 404 for an
// unknown kind, 503 when no member is up (or the owner's URL is unknown),
// 504 when the session host does not answer within 5 s.
#include <chrono>
#include <optional>
#include <string>
#include <tuple>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/atoms.hpp"
#include "actors/registry.hpp"
#include "actors/session_key.hpp"
#include "net/detail.hpp"
#include "runtime/membership.hpp"
#include "runtime/node.hpp"

namespace skein::net_detail {

namespace {

using json = nlohmann::json;

constexpr auto host_timeout = std::chrono::seconds(5);

/// The least-loaded up member: (connections, sessions, name) smallest.
const member_info* least_loaded(const membership& view) {
  const member_info* best = nullptr;
  for (auto& [name, m] : view.members()) {
    if (m.state != member_state::up) continue;
    if (!best || std::tie(m.connections, m.sessions, m.name)
                   < std::tie(best->connections, best->sessions, best->name))
      best = &m;
  }
  return best;
}

/// Answers {"node","url"} for member `name` of `view`, or 503.
void answer(const std::function<void(response)>& respond, response res, const membership& view,
            const std::string& name) {
  const member_info* m = name.empty() ? nullptr : view.find(name);
  if (!m || m->url.empty()) {
    res.result(http::status::service_unavailable);
    res.body() = json{{"error", name.empty() ? "no member is up" : "no URL known for node " + name}}.dump();
  } else {
    res.body() = json{{"node", m->name}, {"url", m->url}}.dump();
  }
  res.prepare_payload();
  respond(std::move(res));
}

void fail(const std::function<void(response)>& respond, response res, const caf::error& err) {
  const bool timeout = err == caf::sec::request_timeout;
  res.result(timeout ? http::status::gateway_timeout : http::status::service_unavailable);
  res.body() = json{{"error", timeout ? "the session host did not answer in time"
                                      : "the session host failed: " + caf::to_string(err)}}
                 .dump();
  res.prepare_payload();
  respond(std::move(res));
}

}  // namespace

bool gateway_route(request_context& rc) {
  auto& seg = rc.target.segments;
  if (seg.size() != 1 || seg[0] != "gateway") return false;
  rc.respond = [inner = rc.respond](response res) {
    res.set(http::field::access_control_allow_origin, "*");
    inner(std::move(res));
  };
  std::optional<std::string> session;
  if (auto q = rc.target.query.find("session"); q != rc.target.query.end()) {
    auto key = session_key::parse(q->second);
    if (!key) {
      rc.respond(error_response(rc, http::status::bad_request,
                                "session must be kind/id: " + session_key::why_invalid(q->second)));
      return true;
    }
    if (!rc.server.n.registry().contains(std::string(key->kind()))) {
      rc.respond(error_response(rc, http::status::not_found,
                                "unknown session kind '" + std::string(key->kind()) + "'"));
      return true;
    }
    session = key->str();
  }
  auto& n = rc.server.n;
  n.system().spawn([host = n.host(), respond = rc.respond,
                    base = json_response(rc, http::status::ok, ""),
                    session](caf::event_based_actor* a) {
    a->request(host, host_timeout, members_atom::value)
      .then(
        [=](std::string& members_json) {
          membership view;
          try {
            view = membership::from_json(members_json);
          } catch (const std::invalid_argument& e) {
            return fail(respond, base, caf::make_error(caf::sec::invalid_argument, e.what()));
          }
          if (!session) {
            const member_info* m = least_loaded(view);
            return answer(respond, base, view, m ? m->name : std::string());
          }
          a->request(host, host_timeout, placement_atom::value, *session)
            .then(
              [=](std::string& owner, std::vector<std::string>&, std::vector<std::string>&) {
                answer(respond, base, view, owner);
              },
              [=](caf::error& err) { fail(respond, base, err); });
        },
        [=](caf::error& err) { fail(respond, base, err); });
  });
  return true;
}

}  // namespace skein::net_detail
