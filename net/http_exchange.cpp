// http_exchange: one HTTP request answered later, as one response or as an
// event stream (see sse_stream.hpp); and deliver_once.
#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "net/sse_stream.hpp"
#include "runtime/node.hpp"

namespace skein::net_detail {

http_exchange::http_exchange(any_stream&& stream, server_context& ctx, unsigned version,
                             bool keep_alive)
  : http_exchange(std::move(stream), ctx, version, keep_alive, ctx.opts.max_queued_frames) {}

http_exchange::http_exchange(any_stream&& stream, server_context& ctx, unsigned version,
                             bool keep_alive, std::size_t max_frames)
  : client_stream(ctx, stream.get_executor(), max_frames),
    stream_(std::move(stream)),
    version_(version),
    keep_alive_(keep_alive),
    timer_(executor()) {
  stream_.expires_never();
}

void http_exchange::send_response(response res) {
  if (finished_ || streaming_) return;
  res.keep_alive(keep_alive_);
  auto sp = std::make_shared<response>(std::move(res));
  http::async_write(stream_, *sp, [self = self<http_exchange>(), sp](beast::error_code ec, std::size_t) {
    if (!ec && sp->keep_alive()) {
      start_http_session(std::move(self->stream_), self->ctx_);
      return;
    }
    if (ec) return;
    self->stream_.async_end(std::chrono::seconds(5), [self](beast::error_code) {
      if (self->stream_.is_tls()) self->stream_.close();
    });
  });
  finish();
}

void http_exchange::start_sse(const std::string& extra_headers, const std::string& content_type) {
  if (finished_ || streaming_) return;
  streaming_ = true;
  std::string head = version_ == 10 ? "HTTP/1.0 200 OK\r\n" : "HTTP/1.1 200 OK\r\n";
  head += "Server: " + ctx_.server_header + "\r\n";
  head += "X-Skein-Node: " + ctx_.n.options().name + "\r\n";
  head += "Content-Type: " + content_type + "\r\n";
  head +=
    "Cache-Control: no-cache, no-store\r\n"
    "X-Accel-Buffering: no\r\n"
    "Connection: close\r\n";
  head += extra_headers;
  head += "\r\n";
  push_unchecked(std::move(head));
  watch_peer();
  arm_keepalive();
}

void http_exchange::write_raw(std::string text) {
  if (finished_ || closing() || !streaming_) return;
  push(std::move(text));
}

void http_exchange::end_sse() {
  if (finished_) return;
  close_after_flush();
}

void http_exchange::abort_now() {
  if (finished_) return;
  stream_.close();
  finish();
}

void http_exchange::arm_timeout(std::chrono::milliseconds d) {
  auto gen = ++timer_gen_;
  timer_.expires_after(d);
  timer_.async_wait([self = self<http_exchange>(), gen](beast::error_code ec) {
    if (ec || gen != self->timer_gen_ || self->finished_ || self->streaming_) return;
    self->on_timeout();
  });
}

void http_exchange::start_write(const std::string& data) {
  asio::async_write(stream_, asio::buffer(data),
                    [self = self<http_exchange>()](beast::error_code ec, std::size_t) {
                      self->write_done(ec);
                    });
}

void http_exchange::watch_peer() {
  stream_.async_read_some(
    asio::buffer(peer_buf_), [self = self<http_exchange>()](beast::error_code ec, std::size_t) {
      if (self->finished_) return;
      if (ec) return self->abort_now();  // the client went away
      self->watch_peer();                // bytes from a client that should be quiet: ignore
    });
}

void http_exchange::arm_keepalive() {
  auto gen = ++timer_gen_;
  timer_.expires_after(sse_keepalive_interval());
  timer_.async_wait([self = self<http_exchange>(), gen](beast::error_code ec) {
    if (ec || gen != self->timer_gen_ || self->finished_ || self->closing()) return;
    if (self->queued_frames() == 0) self->write_raw(": keepalive\n\n");
    self->arm_keepalive();
  });
}

void http_exchange::finish() {
  if (finished_) return;
  finished_ = true;
  ++timer_gen_;
  timer_.cancel();
  on_finished();
}

void deliver_once(server_context& ctx, std::string key, std::string client_id,
                  std::string params_json, std::string text, bool as_new_client,
                  std::function<void(std::string)> done, std::uint64_t id,
                  std::function<void(bool, std::string)> acked) {
  auto& n = ctx.n;
  n.system().spawn([host = n.host(), key = std::move(key), client = std::move(client_id),
                    params = std::move(params_json), text = std::move(text), as_new_client,
                    done = std::move(done), id,
                    acked = std::move(acked)](caf::event_based_actor* a) mutable {
    a->request(host, std::chrono::seconds(5), resolve_atom::value, key)
      .then(
        [a, client, params, text, as_new_client, done, id, acked](caf::actor session) {
          auto me = caf::actor_cast<caf::actor>(a);
          // token 0, cseq 0: a one-shot message, not part of an ordered
          // stream; only its id (if any) is de-duplicated.
          if (as_new_client)
            a->send(session, join_atom::value, client, params, me, std::uint64_t{0}, false,
                    std::uint64_t{0}, std::uint64_t{0}, std::string{});
          a->send(session, message_atom::value, client, std::uint64_t{0}, std::uint64_t{0}, id,
                  text, me);
          if (as_new_client)
            a->send(session, leave_atom::value, client, std::uint64_t{0}, std::uint64_t{0}, me);
          if (done) done(std::string{});
          if (id == 0 || !acked) return;
          a->become(
            [a, acked](ack_atom, std::uint64_t, std::uint64_t, std::string& error) {
              acked(true, error);
              a->quit();
            },
            [](moved_atom, caf::actor&) {},   // the session moved; its ack still comes here
            [](frame_atom, std::string&) {},  // answers of a new client: not kept
            caf::after(std::chrono::seconds(10)) >> [a, acked] {
              acked(false, "no acknowledgement within 10 s: the message may or may not have "
                           "been applied; send it again with the same id");
              a->quit();
            });
        },
        [a, done](caf::error& err) {
          if (done) done(a->system().render(err));
        });
  });
}

}  // namespace skein::net_detail
