// A minimal synchronous HTTP GET (Boost.Beast) for the launcher and ctl.
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "cli/commands.hpp"

namespace skein::cli {

int http_request(const std::string& method, const std::string& host, std::uint16_t port,
                 const std::string& target, std::string& body, int timeout_ms,
                 const std::string& bearer) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  using tcp = boost::asio::ip::tcp;
  try {
    boost::asio::io_context ioc;
    beast::tcp_stream stream{ioc};
    stream.expires_after(std::chrono::milliseconds(timeout_ms));
    tcp::resolver resolver{ioc};
    stream.connect(resolver.resolve(host, std::to_string(port)));
    http::request<http::empty_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, host);
    if (!bearer.empty()) req.set(http::field::authorization, "Bearer " + bearer);
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    body = std::move(res.body());
    return static_cast<int>(res.result_int());
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace skein::cli
