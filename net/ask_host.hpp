// Internal to net/: asking the node's session host from an HTTP route
// without blocking an io thread.
#pragma once

#include <chrono>
#include <string>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "net/detail.hpp"
#include "runtime/node.hpp"

namespace skein::net_detail {

/// Sends `msg...` to the node's directory from a short-lived actor and
/// responds (200) with `render(reply...)`, the JSON text of its answer of
/// types Reply... (net/host_json.hpp renders them). Errors: 501 if the host
/// has no handler, 504 if it does not answer within `timeout`, otherwise
/// `on_error` with the host's reason as {"error": ...}.
template <class... Reply, class Render, class... Ts>
void ask_host(request_context& rc, std::chrono::seconds timeout, http::status on_error,
              Render render, Ts... msg) {
  auto& n = rc.server.n;
  auto respond = rc.respond;
  auto base = json_response(rc, http::status::ok, "");
  n.system().spawn([host = n.host(), respond, base, timeout, on_error, render,
                    msg...](caf::event_based_actor* a) {
    a->request(host, timeout, msg...)
      .then(
        [respond, base, render](Reply&... reply) mutable {
          base.body() = render(reply...);
          base.prepare_payload();
          respond(std::move(base));
        },
        [respond, base, a, on_error](caf::error& err) mutable {
          using json = nlohmann::json;
          if (err == caf::sec::unexpected_message) {
            base.result(http::status::not_implemented);
            base.body() = json{{"error", "not implemented yet"}}.dump();
          } else if (err == caf::sec::request_timeout) {
            base.result(http::status::gateway_timeout);
            base.body() = json{{"error", "the session host did not answer in time"}}.dump();
          } else {
            base.result(on_error);
            // host errors are skein_error values with one string (the reason)
            auto& ctx = err.context();
            auto text = ctx.match_elements<std::string>() ? ctx.get_as<std::string>(0)
                                                          : a->system().render(err);
            base.body() = json{{"error", text}}.dump();
          }
          base.prepare_payload();
          respond(std::move(base));
        });
  });
}

}  // namespace skein::net_detail
