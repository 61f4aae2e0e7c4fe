// A session's answer to a publish, as the HTTP response (net/publish_answer.hpp).
#include "net/publish_answer.hpp"

#include <array>
#include <string>

#include "actors/json_field.hpp"

namespace skein::net_detail {

namespace {

using json = nlohmann::json;

/// The codes a session sends (actors/session_publish.cpp, the poison guard).
constexpr std::array<std::string_view, 8> known_codes{
  "bad_input",   "bad_json",      "no_publish_handler", "in_progress",
  "unavailable", "handler_error", "poison_input",       "idempotency_key_reused"};

}  // namespace

unsigned publish_status_of(std::string_view code) {
  if (code == "bad_input" || code == "bad_json") return 400;
  if (code == "no_publish_handler" || code == "in_progress") return 409;
  if (code == "unavailable") return 503;
  return 422;  // handler_error, poison_input, idempotency_key_reused
}

publish_outcome read_publish_answer(std::string_view text) {
  publish_outcome out;
  auto ans = json::parse(text.begin(), text.end(), nullptr, false);
  if (!ans.is_object()) {
    // The poison guard answers a quarantined input in plain text.
    const bool poison = text.substr(0, 12) == "poison_input";
    out.body = {{"error", poison ? std::string(text) : "the session's answer is not JSON"},
                {"code", poison ? "poison_input" : "handler_error"}};
    return out;
  }
  if (auto ok = ans.find("ok"); ok != ans.end() && ok->is_boolean() && ok->get<bool>()) {
    out.status = 200;
    auto r = ans.find("result");
    out.body = {{"result", r != ans.end() ? *r : json()}};
    return out;
  }
  auto code = string_field(ans, "code");
  bool known = false;
  for (auto k : known_codes) known = known || code == k;
  if (!known) code = "handler_error";
  out.status = publish_status_of(code);
  out.unavailable = code == "unavailable";
  const auto message = string_field(ans, "message");
  if (code == "idempotency_key_reused")  // the error is the code, as Stripe's
    out.body = {{"error", code}, {"code", code}, {"message", message}};
  else
    out.body = {{"error", message}, {"code", code}};
  return out;
}

}  // namespace skein::net_detail
