// Internal to net/: any_stream, one client connection's byte stream, plain
// TCP or TLS (--tls-cert/--tls-key), behind one type so that every stream
// class of net/ (HTTP, WebSocket, SSE, MCP, /cluster/events) is written once.
//
// The choice is made per connection at accept (net/server.cpp) and each I/O
// call branches on it: the templates below instantiate both the plain and
// the TLS path of each operation once per handler type, in the TUs that
// already hold Beast (no session class is a template).
//
// It meets Beast's AsyncReadStream and AsyncWriteStream and offers the
// websocket customisation points (teardown, close on timeout), so
// websocket::stream<any_stream> works. Not thread-safe: use it on its
// strand (its executor) like any Beast stream. At most one read and one
// write in flight, as for ssl_stream.
//
// Write coalescing (cork(), used by WebSocket streams): a stream that writes
// many small messages (an input's ack and its echo, the frames of several
// sessions) would make one sendmsg per message, each a syscall and a TCP
// segment, on both ends. Corked, a write is copied into the stream's buffer
// and completes at once (posted, never inline); the buffer goes to the
// socket in one write from a handler posted behind the handlers already
// queued on the executor, so what they write joins it. While that write is
// in flight, new writes collect for the next one. Bounds: past cork_limit
// bytes buffered, a write completes only once the write carrying its bytes
// has completed, as an uncorked write would. Errors: a failed socket write
// fails every later write with its error. async_teardown (after a WebSocket
// close) and async_end wait until the buffer has reached the socket; close()
// drops it. An idle stream keeps no buffer (the state is freed when drained).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

namespace skein::net_detail {

class any_stream {
 public:
  using tls_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;
  using executor_type = boost::beast::tcp_stream::executor_type;

  /// Bytes a corked stream buffers before a write waits for the socket.
  static constexpr std::size_t cork_limit = 16 * 1024;

  /// A plain connection.
  explicit any_stream(boost::beast::tcp_stream&& s) : plain_(std::move(s)) {}
  /// A TLS connection whose handshake is done.
  explicit any_stream(tls_stream&& s) : tls_(std::move(s)) {}
  any_stream(any_stream&& o) noexcept
    : plain_(std::move(o.plain_)), tls_(std::move(o.tls_)), corked_(o.corked_),
      cork_(std::move(o.cork_)) {
    if (cork_) cork_->owner = this;
  }
  any_stream& operator=(any_stream&&) = delete;  // Beast's tcp_stream cannot be assigned
  ~any_stream() {
    if (cork_) cork_->owner = nullptr;  // a write in flight finds no stream
  }

  /// Turns write coalescing on (see the top of this file); for good.
  void cork() { corked_ = true; }

  bool is_tls() const { return tls_.has_value(); }
  executor_type get_executor() { return tcp().get_executor(); }
  /// The TCP layer (timeouts, socket options, the peer's address).
  boost::beast::tcp_stream& tcp() { return tls_ ? boost::beast::get_lowest_layer(*tls_) : *plain_; }

  /// Bound the next operations (Beast's tcp_stream timeout: they complete
  /// with beast::error::timeout and the socket is closed).
  template <class Duration>
  void expires_after(Duration d) { tcp().expires_after(d); }
  void expires_never() { tcp().expires_never(); }

  template <class Buffers, class Handler>
  auto async_read_some(const Buffers& b, Handler&& h) {
    if (tls_) return tls_->async_read_some(b, std::forward<Handler>(h));
    return plain_->async_read_some(b, std::forward<Handler>(h));
  }
  template <class Buffers, class Handler>
  auto async_write_some(const Buffers& b, Handler&& h) {
    if (corked_) return corked_write(b, std::forward<Handler>(h));
    if (tls_) return tls_->async_write_some(b, std::forward<Handler>(h));
    return plain_->async_write_some(b, std::forward<Handler>(h));
  }

  /// Ends the stream politely, then calls h(error_code): plain, a FIN
  /// (shutdown of the sending side; reading stays possible); TLS, a
  /// close_notify, completing when the peer's arrives, the peer closes or
  /// `limit` passes. The caller closes the socket after h if it wants.
  template <class Handler>
  void async_end(std::chrono::milliseconds limit, Handler&& h) {
    if (!drained())
      return when_drained([this, limit, h = std::forward<Handler>(h)](boost::beast::error_code) mutable {
        async_end(limit, std::move(h));
      });
    if (tls_) {
      tcp().expires_after(limit);
      tls_->async_shutdown(std::forward<Handler>(h));
      return;
    }
    boost::beast::error_code ec;
    plain_->socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
    boost::asio::post(get_executor(), [h = std::forward<Handler>(h), ec]() mutable { h(ec); });
  }

  /// Closes the socket now (TLS: without close_notify). Pending operations
  /// complete with an error.
  void close() {
    boost::beast::error_code ec;
    tcp().socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    tcp().socket().close(ec);
  }

  // Beast customisation points, found by argument-dependent lookup.
  friend void beast_close_socket(any_stream& s) { s.close(); }
  friend void teardown(boost::beast::role_type role, any_stream& s, boost::beast::error_code& ec) {
    using boost::beast::websocket::teardown;
    s.flush_blocking(ec);
    if (s.tls_) {
      using boost::beast::teardown;
      teardown(role, *s.tls_, ec);
    } else {
      teardown(role, s.plain_->socket(), ec);
    }
  }
  template <class Handler>
  friend void async_teardown(boost::beast::role_type role, any_stream& s, Handler&& h) {
    if (!s.drained())
      return s.when_drained([&s, role, h = std::forward<Handler>(h)](boost::beast::error_code) mutable {
        async_teardown(role, s, std::move(h));
      });
    if (s.tls_) {
      // close_notify and the peer's; bounded, a peer may never answer.
      s.tcp().expires_after(std::chrono::seconds(5));
      using boost::beast::async_teardown;
      async_teardown(role, *s.tls_, std::forward<Handler>(h));
    } else {
      using boost::beast::websocket::async_teardown;
      async_teardown(role, *s.plain_, std::forward<Handler>(h));
    }
  }

 private:
  // A continuation kept until the buffer drains (a write past cork_limit, a
  // teardown): move-only, as Beast's handlers are.
  struct parked {
    virtual ~parked() = default;
    virtual void complete(boost::beast::error_code ec) = 0;
  };
  template <class F>
  struct parked_fn final : parked {
    F f;
    explicit parked_fn(F&& fn) : f(std::move(fn)) {}
    void complete(boost::beast::error_code ec) override { f(ec); }
  };
  template <class F>
  static std::unique_ptr<parked> park(F&& f) {
    return std::make_unique<parked_fn<std::decay_t<F>>>(std::forward<F>(f));
  }

  // Shared with the handlers of the socket write in flight, which outlive
  // the stream when it is destroyed first (owner is then null).
  struct cork_state {
    any_stream* owner = nullptr;
    std::string pending;                 // written, not yet handed to the socket
    std::string flushing;                // in the socket write in flight
    bool scheduled = false;              // a flush is posted
    bool writing = false;                // a socket write is in flight
    bool fresh = false;                  // written since the flush was posted
    int reposts = 0;                     // times the posted flush waited again
    boost::beast::error_code failed;     // the first failed socket write
    std::unique_ptr<parked> waiter;      // a write past cork_limit, its bytes in pending
    std::unique_ptr<parked> on_drained;  // a teardown or end waiting for the buffer
  };

  // Nothing more will reach the socket: all of it has, or a write failed.
  bool drained() const {
    return !cork_ || (!cork_->writing && (cork_->pending.empty() || cork_->failed));
  }

  template <class F>
  void when_drained(F&& f) { cork_->on_drained = park(std::forward<F>(f)); }

  template <class Buffers, class Handler>
  void corked_write(const Buffers& b, Handler&& h) {
    namespace net = boost::asio;
    const std::size_t n = net::buffer_size(b);
    if (!cork_) {
      cork_ = std::make_shared<cork_state>();
      cork_->owner = this;
    }
    auto& c = *cork_;
    if (c.failed || n == 0) {
      net::post(get_executor(), boost::beast::bind_front_handler(std::forward<Handler>(h),
                                                                 c.failed, std::size_t{0}));
      return;
    }
    const auto old = c.pending.size();
    c.pending.resize(old + n);
    net::buffer_copy(net::buffer(c.pending.data() + old, n), b);
    c.fresh = true;
    // The completion is posted before the flush: it usually starts the next
    // write (Beast's queue, client_stream's), which then joins this flush.
    if (c.pending.size() + c.flushing.size() <= cork_limit) {
      net::post(get_executor(), boost::beast::bind_front_handler(std::forward<Handler>(h),
                                                                 boost::beast::error_code{}, n));
    } else {
      c.waiter = park([ex = get_executor(), n, h = std::forward<Handler>(h)](
                        boost::beast::error_code ec) mutable {
        net::post(ex, boost::beast::bind_front_handler(std::move(h), ec, ec ? std::size_t{0} : n));
      });
    }
    if (!c.scheduled && !c.writing) {
      c.scheduled = true;
      c.reposts = 0;
      post_flush();
    }
  }

  // The flush runs behind the handlers queued now. If they wrote more, it
  // waits behind the ones those queued in turn, up to max_reposts times, so
  // a chain of completions (each starting the next write) joins one write.
  static constexpr int max_reposts = 4;
  void post_flush() {
    cork_->fresh = false;
    boost::asio::post(get_executor(), [st = cork_] {
      if (!st->owner) return;
      if (st->fresh && st->reposts < max_reposts && !st->waiter) {
        ++st->reposts;
        return st->owner->post_flush();
      }
      st->scheduled = false;
      st->owner->flush();
    });
  }

  // Hands the buffer to the socket in one write.
  void flush() {
    auto st = cork_;
    if (!st || st->writing || st->pending.empty()) return;
    st->flushing.swap(st->pending);
    st->writing = true;
    auto done = [st, waiter = std::move(st->waiter)](boost::beast::error_code ec,
                                                     std::size_t) mutable {
      st->writing = false;
      st->flushing.clear();
      if (ec && !st->failed) st->failed = ec;
      if (waiter) waiter->complete(ec);
      auto* self = st->owner;
      if (!self) return;  // the stream is gone: nothing more to write
      if (!st->failed && !st->pending.empty()) return self->flush();
      if (st->failed && st->waiter) std::exchange(st->waiter, nullptr)->complete(st->failed);
      if (auto d = std::exchange(st->on_drained, nullptr)) d->complete(st->failed);
      if (self->cork_ == st && !st->failed && !st->writing && st->pending.empty() && !st->on_drained)
        self->cork_.reset();  // an idle stream keeps no buffer
    };
    if (tls_) boost::asio::async_write(*tls_, boost::asio::buffer(st->flushing), std::move(done));
    else boost::asio::async_write(*plain_, boost::asio::buffer(st->flushing), std::move(done));
  }

  // Beast's synchronous teardown: the buffer first, blocking.
  void flush_blocking(boost::beast::error_code& ec) {
    if (!cork_ || cork_->writing || cork_->pending.empty()) return;
    if (tls_) boost::asio::write(*tls_, boost::asio::buffer(cork_->pending), ec);
    else boost::asio::write(*plain_, boost::asio::buffer(cork_->pending), ec);
    cork_->pending.clear();
  }

  std::optional<boost::beast::tcp_stream> plain_;
  std::optional<tls_stream> tls_;
  bool corked_ = false;
  std::shared_ptr<cork_state> cork_;  // only while a corked stream has bytes to write
};

}  // namespace skein::net_detail
