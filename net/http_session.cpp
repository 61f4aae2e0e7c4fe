// One plain HTTP connection: reads requests (keep-alive), answers the small
// JSON routes, and hands WebSocket upgrades to websocket_session.
#include <chrono>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/registry.hpp"
#include "net/detail.hpp"
#include "net/url.hpp"
#include "runtime/node.hpp"
#include "runtime/placement.hpp"

namespace skein::net_detail {

namespace {

using json = nlohmann::json;
using response = http::response<http::string_body>;

std::string_view target_of(const http::request<http::string_body>& req) {
  auto t = req.target();
  return {t.data(), t.size()};
}

class http_session : public std::enable_shared_from_this<http_session> {
 public:
  http_session(tcp::socket&& socket, server_context& ctx) : stream_(std::move(socket)), ctx_(ctx) {}

  void run() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&http_session::do_read, shared_from_this()));
  }

 private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(ctx_.opts.max_http_body);
    stream_.expires_after(std::chrono::seconds(60));
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&http_session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream) return do_shutdown();
    if (ec == http::error::body_limit) {
      return send(error_response(http::status::payload_too_large, "request body too large", 11,
                                 false));
    }
    if (ec) return;
    auto req = parser_->release();
    stream_.expires_never();
    if (websocket::is_upgrade(req)) return upgrade(std::move(req));
    handle(std::move(req));
  }

  response error_response(http::status status, const std::string& message, unsigned version,
                          bool keep_alive) {
    return json_response(status, json{{"error", message}}.dump(), version, keep_alive);
  }

  response json_response(http::status status, std::string body, unsigned version,
                         bool keep_alive) {
    response res{status, version};
    res.set(http::field::server, ctx_.server_header);
    res.set(http::field::content_type, "application/json");
    res.set(http::field::cache_control, "no-store");
    res.keep_alive(keep_alive);
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
  }

  void upgrade(http::request<http::string_body> req) {
    auto t = parse_target(target_of(req));
    if (!t || t->segments.size() < 3 || t->segments[0] != "ws") {
      return send(error_response(http::status::not_found, "no such route", req.version(), false));
    }
    const auto& kind = t->segments[1];
    if (!ctx_.n.registry().contains(kind)) {
      return send(error_response(http::status::not_found, "unknown session kind '" + kind + "'",
                                 req.version(), false));
    }
    std::string id = t->segments[2];
    for (std::size_t i = 3; i < t->segments.size(); ++i) id += "/" + t->segments[i];
    std::string key = kind + "/" + id;
    std::string k, i;
    if (!split_session_key(key, k, i)) {
      return send(error_response(http::status::bad_request, "malformed session id",
                                 req.version(), false));
    }
    start_websocket_session(stream_.release_socket(), std::move(req), std::move(key),
                            json(t->query).dump(), ctx_);
  }

  void handle(http::request<http::string_body> req) {
    const auto version = req.version();
    const bool keep_alive = req.keep_alive();
    auto t = parse_target(target_of(req));
    if (!t) return send(error_response(http::status::bad_request, "bad request target", version,
                                       keep_alive));
    auto& seg = t->segments;
    auto is = [&](std::initializer_list<const char*> path) {
      if (seg.size() != path.size()) return false;
      std::size_t i = 0;
      for (auto p : path)
        if (seg[i++] != p) return false;
      return true;
    };
    const bool known = is({"healthz"}) || is({"cluster"}) || is({"cluster", "placement"})
                       || (seg.size() >= 3 && seg[0] == "ws");
    if (!known) return send(error_response(http::status::not_found, "no such route", version,
                                           keep_alive));
    if (req.method() != http::verb::get) {
      auto res = error_response(http::status::method_not_allowed, "method not allowed", version,
                                keep_alive);
      res.set(http::field::allow, "GET");
      return send(std::move(res));
    }
    if (is({"healthz"})) {
      auto& st = ctx_.n.status();
      json body{{"status", "ok"},
                {"node", ctx_.n.options().name},
                {"peers", ctx_.n.member_names().size() - 1},
                {"peers_connected", st.peers_connected.load()},
                {"sessions", st.active_sessions.load()}};
      return send(json_response(http::status::ok, body.dump(), version, keep_alive));
    }
    if (is({"cluster", "placement"})) {
      auto k = t->query.find("key");
      std::string kind, id;
      if (k == t->query.end() || !split_session_key(k->second, kind, id))
        return send(error_response(http::status::bad_request, "query parameter key=kind/id needed",
                                   version, keep_alive));
      auto ranking = hrw_ranking(k->second, ctx_.n.member_names());
      json body{{"key", k->second}, {"owner", ranking.front()}, {"ranking", ranking}};
      return send(json_response(http::status::ok, body.dump(), version, keep_alive));
    }
    if (is({"cluster"})) return ask_status(version, keep_alive);
    // GET /ws/... without an upgrade
    send(error_response(http::status::upgrade_required, "WebSocket upgrade required", version,
                        keep_alive));
  }

  // Asks the host actor for /cluster without blocking this thread: a
  // short-lived actor makes the request and posts the answer to our strand.
  void ask_status(unsigned version, bool keep_alive) {
    auto self = shared_from_this();
    auto ex = stream_.get_executor();
    auto reply = [self, ex, version, keep_alive](http::status status, std::string body) {
      asio::post(ex, [self, status, version, keep_alive, body = std::move(body)]() mutable {
        self->send(self->json_response(status, std::move(body), version, keep_alive));
      });
    };
    ctx_.n.system().spawn([host = ctx_.n.host(), reply](caf::event_based_actor* a) {
      a->request(host, std::chrono::seconds(5), status_atom::value)
        .then([reply](std::string& body) { reply(http::status::ok, std::move(body)); },
              [reply, a](caf::error& err) {
                reply(http::status::service_unavailable,
                      json{{"error", a->system().render(err)}}.dump());
              });
    });
  }

  void send(response res) {
    auto sp = std::make_shared<response>(std::move(res));
    http::async_write(stream_, *sp,
                      [self = shared_from_this(), sp](beast::error_code ec, std::size_t) {
                        if (ec) return;
                        if (sp->need_eof()) return self->do_shutdown();
                        self->do_read();
                      });
  }

  void do_shutdown() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  server_context& ctx_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

}  // namespace

void start_http_session(tcp::socket socket, server_context& ctx) {
  std::make_shared<http_session>(std::move(socket), ctx)->run();
}

}  // namespace skein::net_detail
