// skein's error category: names, construction, matching and rendering.
#include "actors/errors.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/message.hpp>

namespace skein {

const char* to_string(skein_error code) {
  switch (code) {
    case skein_error::malformed_key: return "malformed_key";
    case skein_error::unknown_kind: return "unknown_kind";
    case skein_error::unrecoverable: return "unrecoverable";
    case skein_error::owner_unreachable: return "owner_unreachable";
    case skein_error::fenced: return "fenced";
    case skein_error::rejoining: return "rejoining";
    case skein_error::handoff_timeout: return "handoff_timeout";
    case skein_error::handoff_failed: return "handoff_failed";
    case skein_error::no_session: return "no_session";
    case skein_error::overloaded: return "overloaded";
    case skein_error::store_failure: return "store_failure";
    case skein_error::fetch_failed: return "fetch_failed";
    case skein_error::no_member: return "no_member";
    case skein_error::name_conflict: return "name_conflict";
    case skein_error::handler_failed: return "handler_failed";
    case skein_error::fence_failed: return "fence_failed";
    case skein_error::no_quorum: return "no_quorum";
    case skein_error::handoff_refused: return "handoff_refused";
    case skein_error::misrouted: return "misrouted";
  }
  return "unknown";
}

caf::error make_error(skein_error code) {
  return caf::error{static_cast<std::uint8_t>(code), skein_category};
}

caf::error make_error(skein_error code, std::string reason) {
  return caf::error{static_cast<std::uint8_t>(code), skein_category,
                    caf::make_message(std::move(reason))};
}

bool is(const caf::error& err, skein_error code) {
  return err && err.category() == skein_category
         && err.code() == static_cast<std::uint8_t>(code);
}

std::string reason_of(const caf::error& err) {
  if (!err || err.category() != skein_category) return {};
  auto& ctx = err.context();
  return ctx.match_elements<std::string>() ? ctx.get_as<std::string>(0) : std::string{};
}

void add_error_category(caf::actor_system_config& cfg) {
  cfg.add_error_category(skein_category,
                         [](std::uint8_t code, caf::atom_value, const caf::message& ctx) {
                           std::string out = "skein.";
                           out += to_string(static_cast<skein_error>(code));
                           if (ctx.match_elements<std::string>()) {
                             out += ": ";
                             out += ctx.get_as<std::string>(0);
                           }
                           return out;
                         });
}

}  // namespace skein
