// any_stream's write coalescing (net/any_stream.hpp, cork()):
// - writes that each start the next from their completion reach the socket
//   in one TCP segment (an uncorked stream sends one per write);
// - bytes keep their order, also past cork_limit, where a write completes
//   only once its bytes have gone to the socket;
// - a WebSocket close started by the peer still gets its close frame before
//   the server's teardown shuts the socket (a corked frame is not lost);
// - an idle corked stream frees its buffer.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "net/any_stream.hpp"

std::uint32_t tcp_data_segs_out(int fd);  // tcp_segs.cpp

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using skein::net_detail::any_stream;

/// A connected pair on 127.0.0.1: a plain client socket and the server's
/// end as an any_stream, both with TCP_NODELAY (one segment per sendmsg).
struct connected {
  net::io_context ioc;
  tcp::socket client{ioc};
  std::optional<any_stream> server;

  connected() {
    tcp::acceptor acc(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    client.connect(acc.local_endpoint());
    tcp::socket s(ioc);
    acc.accept(s);
    s.set_option(tcp::no_delay(true));
    client.set_option(tcp::no_delay(true));
    server.emplace(beast::tcp_stream(std::move(s)));
  }
  int server_fd() { return server->tcp().socket().native_handle(); }

  /// Reads exactly n bytes on the client side.
  std::string read_client(std::size_t n) {
    std::string got(n, '\0');
    net::read(client, net::buffer(got));
    return got;
  }
};

/// Writes each piece from the completion of the one before, as a queue of
/// frames does (client_stream::write_done starting the next write).
void write_chain(any_stream& s, std::vector<std::string>& pieces, std::size_t i, int& done) {
  if (i == pieces.size()) return;
  net::async_write(s, net::buffer(pieces[i]), [&s, &pieces, i, &done](beast::error_code ec,
                                                                       std::size_t n) {
    REQUIRE(!ec);
    REQUIRE(n == pieces[i].size());
    ++done;
    write_chain(s, pieces, i + 1, done);
  });
}

}  // namespace

TEST_CASE("a corked stream sends a chain of writes in one segment, an uncorked one in one each",
          "[cork]") {
  for (bool corked : {true, false}) {
    connected c;
    if (corked) c.server->cork();
    std::vector<std::string> pieces{"ack;", "said one;", "said two;"};
    const auto before = tcp_data_segs_out(c.server_fd());
    int done = 0;
    write_chain(*c.server, pieces, 0, done);
    c.ioc.run();
    REQUIRE(done == 3);
    REQUIRE(c.read_client(22) == "ack;said one;said two;");
    const auto segments = tcp_data_segs_out(c.server_fd()) - before;
    CHECK(segments == (corked ? 1u : 3u));
  }
}

TEST_CASE("a corked stream keeps the order past cork_limit and frees its buffer when drained",
          "[cork]") {
  connected c;
  c.server->cork();
  std::vector<std::string> pieces{std::string(any_stream::cork_limit - 10, 'a'),
                                  std::string(100, 'b'),  // over the limit: waits for the socket
                                  std::string(3 * any_stream::cork_limit, 'c'), "end"};
  std::size_t total = 0;
  for (auto& p : pieces) total += p.size();
  int done = 0;
  write_chain(*c.server, pieces, 0, done);
  c.ioc.run();  // the client's receive buffer holds it all (under 100 KiB)
  REQUIRE(done == 4);
  auto got = c.read_client(total);
  std::string want;
  for (auto& p : pieces) want += p;
  REQUIRE(got == want);
  // Drained: a later write starts from no buffer and still arrives.
  std::vector<std::string> more{"after"};
  write_chain(*c.server, more, 0, done);
  c.ioc.restart();
  c.ioc.run();
  REQUIRE(c.read_client(5) == "after");
}

TEST_CASE("a corked stream fails the writes after the peer is gone", "[cork]") {
  connected c;
  c.server->cork();
  c.client.close();
  // Writes until the socket reports the reset (the first ones may still be
  // accepted by the kernel): every completion after the first error fails.
  std::string piece(4096, 'x');
  int ok = 0, failed = 0;
  std::function<void()> next = [&] {
    net::async_write(*c.server, net::buffer(piece), [&](beast::error_code ec, std::size_t) {
      if (ec) {
        ++failed;
        if (failed < 3) next();
        return;
      }
      REQUIRE(failed == 0);
      ++ok;
      if (ok < 10000) next();
    });
  };
  next();
  c.ioc.run();
  REQUIRE(failed == 3);
}

TEST_CASE("a WebSocket close started by the client gets the server's close frame through the cork",
          "[cork]") {
  connected c;
  c.server->cork();
  websocket::stream<any_stream> server(std::move(*c.server));
  websocket::stream<tcp::socket> client(std::move(c.client));
  // Bounded: a close frame lost in the cork makes the close time out here
  // instead of hanging the test.
  const websocket::stream_base::timeout bound{std::chrono::seconds(5), std::chrono::seconds(5),
                                              false};
  server.set_option(bound);
  client.set_option(bound);
  beast::error_code accept_ec = net::error::would_block, handshake_ec = net::error::would_block;
  server.async_accept([&](beast::error_code ec) { accept_ec = ec; });
  client.async_handshake("127.0.0.1", "/", [&](beast::error_code ec) { handshake_ec = ec; });
  c.ioc.run();
  REQUIRE(!accept_ec);
  REQUIRE(!handshake_ec);
  c.ioc.restart();

  // The server writes a message and keeps reading; the client reads it and
  // closes. The server answers the close (a corked write) and tears down.
  beast::flat_buffer sbuf, cbuf;
  beast::error_code server_read = {}, client_close = net::error::would_block;
  std::string said = "said";
  server.async_write(net::buffer(said), [](beast::error_code ec, std::size_t) { REQUIRE(!ec); });
  server.async_read(sbuf, [&](beast::error_code ec, std::size_t) { server_read = ec; });
  client.async_read(cbuf, [&](beast::error_code ec, std::size_t) {
    REQUIRE(!ec);
    REQUIRE(beast::buffers_to_string(cbuf.data()) == "said");
    client.async_close(websocket::close_code::normal,
                       [&](beast::error_code ec2) { client_close = ec2; });
  });
  c.ioc.run();
  // The client saw the server's close frame: its close completed cleanly,
  // not with a truncated stream.
  CHECK(!client_close);
  CHECK(server_read == websocket::error::closed);
}
