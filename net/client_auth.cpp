// The auth checks of the routes: client tokens on /ws, /sse, /mcp and the
// admin token on /admin/* (what is accepted: net/auth.hpp). Every check runs
// before a stream is taken over, so a refusal is a plain HTTP answer (401
// with WWW-Authenticate: Bearer, or 403) and never an upgrade.
#include <chrono>

#include <spdlog/spdlog.h>

#include "net/detail.hpp"
#include "net/http_util.hpp"

namespace skein::net_detail {

namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

}  // namespace

std::optional<refusal> authenticate_client(const request_context& rc, client_identity& id) {
  const auto& verifier = rc.server.verifier;
  if (!verifier.enabled()) return std::nullopt;
  std::string_view token;
  auto authorization = header(rc.req, "Authorization");
  if (!authorization.empty()) {
    auto bearer = bearer_token(authorization);
    if (!bearer) return refusal{http::status::unauthorized, "Authorization must be Bearer TOKEN"};
    token = *bearer;
  } else if (auto q = rc.target.query.find("token"); q != rc.target.query.end()) {
    token = q->second;  // browsers cannot set headers on WebSocket / EventSource
  }
  auto e = verifier.verify(token, unix_now(), id);
  if (e == token_error::none) return std::nullopt;
  spdlog::debug("auth: {} {} refused: {}", std::string(rc.req.method_string()),
                std::string(rc.target.segments.empty() ? "" : rc.target.segments[0]), describe(e));
  return refusal{http::status::unauthorized, std::string(describe(e))};
}

std::optional<refusal> authorize_session(const request_context& rc, const client_identity& id,
                                         std::string_view key) {
  if (!rc.server.verifier.enabled() || session_allowed(id.claims, key)) return std::nullopt;
  return refusal{http::status::forbidden, "the token may not open session " + std::string(key)};
}

response refusal_response(const request_context& rc, const refusal& r) {
  auto res = error_response(rc, r.status, r.message);
  if (r.status == http::status::unauthorized) res.set(http::field::www_authenticate, "Bearer");
  return res;
}

void apply_identity(const request_context& rc, const client_identity& id, nlohmann::json& params) {
  if (!rc.server.verifier.enabled()) return;
  params.erase("token");
  params["user"] = id.user;
  params["claims"] = id.claims.dump();
}

bool admin_authorized(request_context& rc) {
  const auto& want = rc.server.opts.auth.admin_token;
  const auto authorization = header(rc.req, "Authorization");  // bearer views into it
  auto bearer = bearer_token(authorization);
  if (!want.empty() && bearer && same_secret(*bearer, want)) return true;
  auto res = error_response(rc, http::status::unauthorized,
                            want.empty() ? "admin API disabled: the node has no admin token"
                                         : "admin token required (Authorization: Bearer TOKEN)");
  res.set(http::field::www_authenticate, "Bearer");
  rc.respond(std::move(res));
  return false;
}

}  // namespace skein::net_detail
