// A minimal synchronous HTTP(S) request (Boost.Beast) for the launcher and ctl.
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "cli/commands.hpp"

namespace skein::cli {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

template <class Stream>
int exchange(Stream& stream, const std::string& method, const std::string& host,
             const std::string& target, std::string& body, const std::string& bearer) {
  http::request<http::empty_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, host);
  if (!bearer.empty()) req.set(http::field::authorization, "Bearer " + bearer);
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  body = std::move(res.body());
  return static_cast<int>(res.result_int());
}

}  // namespace

int http_request(const std::string& method, const std::string& host, std::uint16_t port,
                 const std::string& target, std::string& body, int timeout_ms,
                 const std::string& bearer, const http_tls& tls) {
  try {
    boost::asio::io_context ioc;
    tcp::resolver resolver{ioc};
    if (!tls.on) {
      beast::tcp_stream stream{ioc};
      stream.expires_after(std::chrono::milliseconds(timeout_ms));
      stream.connect(resolver.resolve(host, std::to_string(port)));
      int status = exchange(stream, method, host, target, body, bearer);
      beast::error_code ec;
      stream.socket().shutdown(tcp::socket::shutdown_both, ec);
      return status;
    }
    ssl::context ctx{ssl::context::tls_client};
    if (tls.verify) {
      if (tls.ca_file.empty())
        ctx.set_default_verify_paths();  // honours SSL_CERT_FILE / SSL_CERT_DIR
      else
        ctx.load_verify_file(tls.ca_file);
      ctx.set_verify_mode(ssl::verify_peer);
    } else {
      ctx.set_verify_mode(ssl::verify_none);
    }
    beast::ssl_stream<beast::tcp_stream> stream{ioc, ctx};
    if (tls.verify) {
      boost::system::error_code ec;
      boost::asio::ip::make_address(host, ec);
      X509_VERIFY_PARAM* param = SSL_get0_param(stream.native_handle());
      if (!ec)
        X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
      else
        X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
    }
    if (!SSL_set_tlsext_host_name(stream.native_handle(), host.c_str())) return 0;
    beast::get_lowest_layer(stream).expires_after(std::chrono::milliseconds(timeout_ms));
    beast::get_lowest_layer(stream).connect(resolver.resolve(host, std::to_string(port)));
    stream.handshake(ssl::stream_base::client);
    int status = exchange(stream, method, host, target, body, bearer);
    beast::error_code ec;
    beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ec);
    return status;
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace skein::cli
