// One HTTP connection (plain or TLS, net/any_stream.hpp): reads requests
// (keep-alive) and hands each to the routes (net/routes.cpp), which answer
// or take the stream over.
#include <chrono>

#include <nlohmann/json.hpp>

#include "actors/registry.hpp"
#include "actors/metrics.hpp"
#include "actors/session_key.hpp"
#include "net/any_stream.hpp"
#include "net/detail.hpp"
#include "net/http_util.hpp"
#include "net/input_check.hpp"
#include "runtime/node.hpp"
#include "runtime/session_host.hpp"

namespace skein::net_detail {

response json_response(const request_context& rc, http::status status, std::string body) {
  response res{status, rc.req.version()};
  res.set(http::field::server, rc.server.server_header);
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(rc.req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

response error_response(const request_context& rc, http::status status,
                        const std::string& message) {
  return json_response(rc, status, nlohmann::json{{"error", message}}.dump());
}

std::optional<nlohmann::json> json_body(request_context& rc) {
  if (!content_type_is(rc.req, "application/json")) {
    rc.respond(error_response(rc, http::status::unsupported_media_type,
                              "Content-Type must be application/json"));
    return std::nullopt;
  }
  if (auto problem = json_input_problem(rc.req.body(), rc.server.opts.max_json_depth)) {
    rc.respond(error_response(rc, http::status::bad_request, "body: " + *problem));
    return std::nullopt;
  }
  auto body = nlohmann::json::parse(rc.req.body(), nullptr, false);
  if (body.is_discarded()) {
    rc.respond(error_response(rc, http::status::bad_request, "body is not JSON"));
    return std::nullopt;
  }
  return body;
}

std::optional<std::string> session_key_of(request_context& rc) {
  auto& seg = rc.target.segments;
  if (seg.size() < 3) {
    rc.respond(error_response(rc, http::status::not_found, "use /" + seg.at(0) + "/{kind}/{id}"));
    return std::nullopt;
  }
  const auto& kind = seg[1];
  if (!rc.server.n.registry().contains(kind)) {
    rc.respond(error_response(rc, http::status::not_found, "unknown session kind '" + kind + "'"));
    return std::nullopt;
  }
  std::string key = kind;
  for (std::size_t i = 2; i < seg.size(); ++i) key += "/" + seg[i];
  if (!session_key::parse(key)) {
    rc.respond(error_response(rc, http::status::bad_request,
                              "malformed session id: " + session_key::why_invalid(key)));
    return std::nullopt;
  }
  return key;
}

namespace {

class http_session : public std::enable_shared_from_this<http_session> {
 public:
  http_session(any_stream&& stream, server_context& ctx) : stream_(std::move(stream)), ctx_(ctx) {
    beast::error_code ec;
    auto ep = stream_.tcp().socket().remote_endpoint(ec);
    if (!ec) remote_address_ = ep.address().to_string();
  }

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
      request_context rc{ctx_, parser_->get(), {}, {}, {}, {}, remote_address_};
      auto res = error_response(rc, http::status::payload_too_large, "request body too large");
      res.keep_alive(false);
      return send(std::move(res));
    }
    if (ec) return;
    stream_.expires_never();
    auto self = shared_from_this();
    request_context rc{ctx_, parser_->release(), {}, {}, {}, {}, remote_address_};
    auto raw = rc.req.target();
    std::string why;
    auto parsed = parse_target(std::string_view(raw.data(), raw.size()), &why);
    rc.respond = [self](response res) {
      asio::post(self->stream_.get_executor(),
                 [self, res = std::move(res)]() mutable { self->send(std::move(res)); });
    };
    rc.take_stream = [self]() { return std::move(self->stream_); };
    rc.take_buffered = [self]() {
      const auto d = self->buffer_.data();
      std::string bytes(static_cast<const char*>(d.data()), d.size());
      self->buffer_.consume(d.size());
      return bytes;
    };
    if (!parsed) return rc.respond(error_response(rc, http::status::bad_request, "bad request target: " + why));
    // Header values reach JSON (error messages, client params): UTF-8 only.
    for (const auto& field : rc.req)
      if (!valid_utf8(std::string_view(field.value().data(), field.value().size())))
        return rc.respond(error_response(rc, http::status::bad_request,
                                         "header " + std::string(field.name_string()) + " is not valid UTF-8"));
    rc.target = std::move(*parsed);
    dispatch(rc);
  }

  void send(response res) {
    metrics().http_responses[node_metrics::status_class(res.result_int())].fetch_add(1, std::memory_order_relaxed);
    auto sp = std::make_shared<response>(std::move(res));
    http::async_write(stream_, *sp,
                      [self = shared_from_this(), sp](beast::error_code ec, std::size_t) {
                        if (ec) return;
                        if (sp->need_eof()) return self->do_shutdown();
                        self->do_read();
                      });
  }

  void do_shutdown() {
    // TLS: close_notify, then the peer's (bounded like the lingering below).
    stream_.async_end(std::chrono::seconds(5), [self = shared_from_this()](beast::error_code) {
      if (self->stream_.is_tls()) return self->stream_.close();
      self->linger();
    });
  }

  // Lingering close: reads and drops what the client still sends (the rest
  // of a body over the limit) for up to 5 s, so that closing the socket with
  // unread data does not reset the connection before the client has read
  // the answer (e.g. a 413).
  void linger() {
    stream_.expires_after(std::chrono::seconds(5));
    stream_.async_read_some(asio::buffer(discard_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (!ec) self->linger();
                            });
  }
  std::array<char, 4096> discard_{};

  any_stream stream_;
  server_context& ctx_;
  std::string remote_address_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

}  // namespace

void start_http_session(any_stream stream, server_context& ctx) {
  std::make_shared<http_session>(std::move(stream), ctx)->run();
}

}  // namespace skein::net_detail
