// Internal to net/: any_stream, one client connection's byte stream, plain
// TCP or TLS (--tls-cert/--tls-key), behind one type so that every stream
// class of net/ (HTTP, WebSocket, SSE, MCP, /cluster/events) is written once.
//
// The choice is made per connection at accept (net/server.cpp) and each I/O
// call branches on it: the templates below instantiate both the plain and
// the TLS path of each operation once per handler type, in the TUs that
// already hold Beast (no session class is a template).
//
// It meets Beast's AsyncReadStream and AsyncWriteStream. Not thread-safe:
// use it on its strand (its executor) like any Beast stream. At most one
// read and one write in flight, as for ssl_stream.
#pragma once

#include <chrono>
#include <optional>
#include <utility>

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>

namespace skein::net_detail {

class any_stream {
 public:
  using tls_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;
  using executor_type = boost::beast::tcp_stream::executor_type;

  /// A plain connection.
  explicit any_stream(boost::beast::tcp_stream&& s) : plain_(std::move(s)) {}
  /// A TLS connection whose handshake is done.
  explicit any_stream(tls_stream&& s) : tls_(std::move(s)) {}
  any_stream(any_stream&&) = default;
  any_stream& operator=(any_stream&&) = default;

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
    if (tls_) return tls_->async_write_some(b, std::forward<Handler>(h));
    return plain_->async_write_some(b, std::forward<Handler>(h));
  }

  /// Ends the stream politely, then calls h(error_code): plain, a FIN
  /// (shutdown of the sending side; reading stays possible); TLS, a
  /// close_notify, completing when the peer's arrives, the peer closes or
  /// `limit` passes. The caller closes the socket after h if it wants.
  template <class Handler>
  void async_end(std::chrono::milliseconds limit, Handler&& h) {
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

 private:
  std::optional<boost::beast::tcp_stream> plain_;
  std::optional<tls_stream> tls_;
};

}  // namespace skein::net_detail
