// POST /api/sessions/{kind}/{id...}/messages: a server-side publish into a
// session (issue 16, item 3; docs/protocol.md "Publish"). The JSON body is
// one input of kind "publish" for the behaviour's on_publish, journaled once;
// the answer waits until that input is durable (per the kind's durability).
//
//   Authorization: Bearer ADMIN_TOKEN, or a client JWT whose sessions claim
//   admits the session (when client auth is on).
//   Idempotency-Key: optional, 1..255 visible ASCII characters; a repeat of
//   (principal, key) gets the first answer again, applied once; a repeat
//   with another body (compared as canonical JSON) gets 422.
//
//   200 {"result": R}                          on_publish's reply (null if none)
//   400 {"error": M, "code": "bad_input"|"bad_json"}   the behaviour rejected it
//   401 / 403                                  no or wrong token / not this session
//   404                                        unknown kind, or no .../messages
//   409 {"code": "no_publish_handler"|"in_progress"}   kind without on_publish;
//                                              the same key still in flight
//   413 body over --max-http-body; 415 not application/json
//   422 {"code": "handler_error"|"poison_input"}  the handler threw / crashed
//   422 {"error": "idempotency_key_reused"}    the key was used with another body
//   503 the session cannot be reached, or still moving after 8 s of retries
//       (a publish that meets a handoff or a failover is retried at the new
//       owner every 100 ms until then); 504 no answer in 10 s
// The request may land on any node: the session is resolved through this
// node's host, which routes to the owner.
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>
#include <xxhash.h>

#include "actors/atoms.hpp"
#include "actors/errors.hpp"
#include "actors/metrics.hpp"
#include "actors/registry.hpp"
#include "actors/session_key.hpp"
#include "net/detail.hpp"
#include "net/http_util.hpp"
#include "net/input_check.hpp"
#include "net/publish_answer.hpp"
#include "runtime/node.hpp"
#include "runtime/session_host.hpp"

namespace skein::net_detail {

namespace {

using json = nlohmann::json;

std::string hex64(std::string_view text) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx",
                static_cast<unsigned long long>(XXH64(text.data(), text.size(), 0)));
  return buf;
}

bool valid_idempotency_key(std::string_view k) {
  if (k.empty() || k.size() > 255) return false;
  for (unsigned char c : k)
    if (c < 0x21 || c > 0x7e) return false;
  return true;
}

/// Who publishes: "admin" or "user:SUB"; nullopt after answering 401/403.
std::optional<std::string> principal_of(request_context& rc, const std::string& key) {
  const auto authorization = header(rc.req, "Authorization");
  auto bearer = bearer_token(authorization);
  auto unauthorized = [&](const std::string& why) {
    rc.respond(refusal_response(rc, refusal{http::status::unauthorized, why}));
    return std::nullopt;
  };
  if (!bearer) return unauthorized("publish needs Authorization: Bearer TOKEN (admin or client token)");
  const auto& admin = rc.server.opts.auth.admin_token;
  if (!admin.empty() && same_secret(*bearer, admin)) return std::string("admin");
  if (!rc.server.verifier.enabled()) return unauthorized("not the admin token");
  client_identity id;
  if (auto no = authenticate_client(rc, id)) {
    rc.respond(refusal_response(rc, *no));
    return std::nullopt;
  }
  if (auto no = authorize_session(rc, id, key)) {
    rc.respond(refusal_response(rc, *no));
    return std::nullopt;
  }
  return "user:" + id.user;
}

/// How long a publish is retried while its session moves (a handoff, an
/// activation after a failover): resolve failures and the session's
/// "unavailable" answer are retried every `retry_every` until then. Neither
/// applied anything, so a retry never applies a publish twice.
constexpr auto retry_for = std::chrono::seconds(8);
constexpr auto retry_every = std::chrono::milliseconds(100);

using finish_fn = std::function<void(http::status, const json&)>;

struct publish_job {
  caf::actor host;
  std::string key, client, body;
  bool keyed = false;
  finish_fn finish;
  std::chrono::steady_clock::time_point deadline;
  std::uint32_t attempts = 0;
};

/// Errors of resolve that another attempt cannot fix.
bool final_error(const caf::error& err) {
  return is(err, skein_error::overloaded) || is(err, skein_error::unrecoverable)
         || is(err, skein_error::unknown_kind) || is(err, skein_error::malformed_key);
}

void attempt(caf::event_based_actor* a, std::shared_ptr<publish_job> job);

/// Tries again after retry_every if the deadline allows; false if not.
bool retry_later(caf::event_based_actor* a, const std::shared_ptr<publish_job>& job) {
  if (std::chrono::steady_clock::now() + retry_every >= job->deadline) return false;
  a->delayed_send(a, retry_every, retry_atom::value);
  a->become([a, job](retry_atom) { attempt(a, job); });
  return true;
}

void answered(caf::event_based_actor* a, const std::shared_ptr<publish_job>& job,
              const std::string& text) {
  auto out = read_publish_answer(text);
  if (out.unavailable && retry_later(a, job)) return;  // moving: not applied
  job->finish(static_cast<http::status>(out.status), out.body);
  a->quit();
}

void attempt(caf::event_based_actor* a, std::shared_ptr<publish_job> job) {
  ++job->attempts;
  a->request(job->host, std::chrono::seconds(5), resolve_atom::value, job->key)
    .then(
      [a, job](caf::actor session) {
        a->send(session, publish_atom::value, job->client, job->keyed, job->body,
                caf::actor_cast<caf::actor>(a));
        a->become(
          [a, job](ack_atom, std::uint64_t, std::uint64_t, std::string& text) {
            answered(a, job, text);
          },
          caf::after(std::chrono::seconds(10)) >> [a, job] {
            job->finish(http::status::gateway_timeout,
                        {{"error", "no answer within 10 s: the publish may or may not have been "
                                   "applied; repeat it with the same Idempotency-Key"}});
            a->quit();
          });
      },
      [a, job](caf::error& err) {
        if (!final_error(err) && retry_later(a, job)) return;
        job->finish(http::status::service_unavailable,
                    {{"error", "session unavailable: " + a->system().render(err)}});
        a->quit();
      });
}

}  // namespace

bool publish_route(request_context& rc) {
  auto& seg = rc.target.segments;  // api, sessions, kind, id..., messages
  if (seg.size() < 5 || seg.back() != "messages") {
    rc.respond(error_response(rc, http::status::not_found,
                              "use POST /api/sessions/{kind}/{id}/messages"));
    return true;
  }
  const auto& kind = seg[2];
  if (!rc.server.n.registry().contains(kind) || kind == "mcp") {
    rc.respond(error_response(rc, http::status::not_found, "unknown session kind '" + kind + "'"));
    return true;
  }
  std::string key = kind;
  for (std::size_t i = 3; i + 1 < seg.size(); ++i) key += "/" + seg[i];
  if (!session_key::parse(key)) {
    rc.respond(error_response(rc, http::status::bad_request,
                              "malformed session id: " + session_key::why_invalid(key)));
    return true;
  }
  auto principal = principal_of(rc, key);
  if (!principal) return true;
  if (!json_body(rc)) return true;
  const auto idem = header(rc.req, "Idempotency-Key");
  const bool keyed = !idem.empty();
  if (keyed && !valid_idempotency_key(idem)) {
    rc.respond(error_response(rc, http::status::bad_request,
                              "Idempotency-Key must be 1..255 visible ASCII characters"));
    return true;
  }
  // The pseudo-client: not a valid client id (':'), so no stream can claim it.
  std::string client = "publish:" + hex64(*principal) + ":"
                       + (keyed ? "k" + hex64(idem) : new_client_id());
  metrics().messages_in.fetch_add(1, std::memory_order_relaxed);

  auto respond = rc.respond;
  auto answer = json_response(rc, http::status::ok, "");
  finish_fn finish = [respond, answer](http::status status, const json& body) {
    auto res = answer;
    res.result(status);
    res.body() = body.dump(-1, ' ', false, json::error_handler_t::replace);
    res.prepare_payload();
    respond(std::move(res));
  };
  auto job = std::make_shared<publish_job>();
  job->host = rc.server.n.host();
  job->key = key;
  job->client = client;
  job->keyed = keyed;
  job->body = rc.req.body();
  job->finish = std::move(finish);
  job->deadline = std::chrono::steady_clock::now() + retry_for;
  rc.server.n.system().spawn([job](caf::event_based_actor* a) { attempt(a, job); });
  return true;
}

}  // namespace skein::net_detail
