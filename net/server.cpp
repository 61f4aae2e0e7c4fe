// The listener and the io threads of a node's HTTP side.
#include <atomic>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include <pthread.h>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/metrics.hpp"
#include "net/any_stream.hpp"
#include "net/detail.hpp"
#include "net/http_util.hpp"
#include "runtime/node.hpp"

namespace skein {

namespace net_detail {

std::uint64_t server_context::add_connection(caf::actor conn) {
  std::lock_guard<std::mutex> guard{conns_mutex};
  auto id = next_conn++;
  conns.emplace(id, std::move(conn));
  return id;
}

void server_context::remove_connection(std::uint64_t id) {
  std::lock_guard<std::mutex> guard{conns_mutex};
  conns.erase(id);
}

std::string new_client_id() { return secure_random_id(); }

namespace {

namespace ssl = asio::ssl;

/// The server side of client TLS: TLS 1.2 or newer, the certificate chain
/// and key of opts. Throws std::invalid_argument for half a configuration,
/// std::runtime_error for files that cannot be used.
std::shared_ptr<ssl::context> make_tls_context(const server_options& opts) {
  if (opts.tls_cert_file.empty() && opts.tls_key_file.empty()) return nullptr;
  if (opts.tls_cert_file.empty() || opts.tls_key_file.empty())
    throw std::invalid_argument(
      "client TLS needs both --tls-cert and --tls-key (got only "
      + std::string(opts.tls_cert_file.empty() ? "--tls-key" : "--tls-cert") + ")");
  auto c = std::make_shared<ssl::context>(ssl::context::tls_server);
  c->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2
                 | ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1
                 | ssl::context::single_dh_use);
  beast::error_code ec;
  c->use_certificate_chain_file(opts.tls_cert_file, ec);
  if (ec) throw std::runtime_error("--tls-cert " + opts.tls_cert_file + ": cannot load the certificate chain: " + ec.message());
  c->use_private_key_file(opts.tls_key_file, ssl::context::pem, ec);
  if (ec) throw std::runtime_error("--tls-key " + opts.tls_key_file + ": cannot load the private key: " + ec.message());
  if (SSL_CTX_check_private_key(c->native_handle()) != 1)
    throw std::runtime_error("--tls-key " + opts.tls_key_file + " does not match the certificate of --tls-cert " + opts.tls_cert_file);
  return c;
}

/// TLS handshake on an accepted socket, bounded by the handshake timeout;
/// then an HTTP session. A failed or slow handshake closes this connection only.
void start_tls_handshake(tcp::socket s, server_context& ctx) {
  auto tls = std::make_shared<any_stream::tls_stream>(beast::tcp_stream(std::move(s)), *ctx.tls);
  beast::get_lowest_layer(*tls).expires_after(ctx.opts.tls_handshake_timeout);
  tls->async_handshake(ssl::stream_base::server, [tls, &ctx](beast::error_code ec) {
    if (ec) {
      metrics().tls_handshake_failures.fetch_add(1, std::memory_order_relaxed);
      spdlog::debug("TLS handshake failed: {}", ec.message());
      return;  // the stream (and its socket) goes with the last reference
    }
    beast::get_lowest_layer(*tls).expires_never();
    start_http_session(any_stream(std::move(*tls)), ctx);
  });
}

}  // namespace

}  // namespace net_detail

using namespace net_detail;

struct http_server::impl {
  // ctx before ioc: the io_context's destructor destroys the handlers still
  // pending (a stream's read or wait holds the stream), and a stream's
  // destructor reaches ctx (remove_connection). So ctx must outlive ioc.
  server_context ctx;
  asio::io_context ioc;
  tcp::acceptor acceptor;
  asio::steady_timer pause_timer{acceptor.get_executor()};
  std::atomic<bool> accept_paused{false};
  std::vector<std::thread> threads;
  bool stopped = false;

  impl(node& n, server_options opts)
    : ctx{n, std::move(opts)}, acceptor(asio::make_strand(ioc)) {}

  // The keep-alive's timer lives on ioc: ctx lets go of it first, so that
  // its last owner (the timer's pending handler, or a stream) goes with ioc.
  ~impl() { ctx.keepalive.reset(); }

  // Each stream's executor. With one io thread (the default) every handler
  // already runs on that thread, one at a time: a strand per stream would
  // only add its queue to each completion and its memory to each stream
  // (the strand's state, and executor copies too large for any_executor's
  // inline buffer: about 0.5 KiB less per idle connection without it,
  // docs/benchmarks.md). With several io threads each stream gets a
  // strand, as Beast's examples do.
  asio::any_io_executor stream_executor() {
    if (ctx.opts.threads > 1) return asio::make_strand(ioc);
    return ioc.get_executor();
  }

  void do_accept() {
    acceptor.async_accept(stream_executor(), [this](beast::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted) return;
      if (ec) {
        // Out of file descriptors (EMFILE/ENFILE) or another accept error:
        // pause accepting for 100 ms instead of spinning on the error; the
        // connections already open keep being served.
        if (!accept_paused.exchange(true)) spdlog::warn("accept failed: {}; pausing accepts", ec.message());
        pause_timer.expires_after(std::chrono::milliseconds(100));
        pause_timer.async_wait([this](beast::error_code wec) {
          if (wec != asio::error::operation_aborted) do_accept();
        });
        return;
      }
      accept_paused = false;
      // Small frames must not wait for the peer's delayed ACK (Nagle).
      beast::error_code ignored;
      s.set_option(tcp::no_delay(true), ignored);
      if (ctx.tls)
        start_tls_handshake(std::move(s), ctx);
      else
        start_http_session(any_stream(beast::tcp_stream(std::move(s))), ctx);
      do_accept();
    });
  }
};

http_server::http_server(node& n, server_options opts)
  : impl_(std::make_unique<impl>(n, std::move(opts))) {
  auto& d = *impl_;
  d.ctx.tls = make_tls_context(d.ctx.opts);
  beast::error_code ec;
  tcp::endpoint ep{asio::ip::make_address(d.ctx.opts.host, ec), d.ctx.opts.port};
  if (ec) throw std::runtime_error("bad listen address '" + d.ctx.opts.host + "'");
  auto fail = [&](const char* what) {
    throw std::runtime_error(std::string("cannot ") + what + " " + d.ctx.opts.host + ":"
                             + std::to_string(d.ctx.opts.port) + ": " + ec.message());
  };
  d.acceptor.open(ep.protocol(), ec);
  if (ec) fail("open");
  d.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  d.acceptor.bind(ep, ec);
  if (ec) fail("bind");
  d.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) fail("listen on");
  if (d.ctx.tls)
    spdlog::info("client TLS: https and wss with {}", d.ctx.opts.tls_cert_file);
  else
    spdlog::info("client TLS: off (plain http and ws; set --tls-cert and --tls-key to serve https)");
  if (d.ctx.opts.max_connections_per_address > 0)
    spdlog::info("limit: {} client streams per remote address", d.ctx.opts.max_connections_per_address);
  if (d.ctx.verifier.enabled())
    spdlog::info("auth: clients need a JWT ({}) on /ws, /sse and /mcp", d.ctx.verifier.algorithms());
  else
    spdlog::warn("auth: off (no --jwt-secret-file or --jwt-public-key-file): /ws, /sse and /mcp accept any client");
  if (d.ctx.opts.auth.admin_token.empty())
    spdlog::warn("admin: no admin token; /admin/* refuses every request");
}

http_server::~http_server() { stop(); }

std::uint16_t http_server::port() const { return impl_->acceptor.local_endpoint().port(); }

bool http_server::tls() const { return impl_->ctx.tls != nullptr; }

void http_server::run() {
  auto& d = *impl_;
  start_ws_keepalive(d.ctx, d.ioc.get_executor());
  d.do_accept();
  for (int i = 0; i < std::max(1, d.ctx.opts.threads); ++i)
    d.threads.emplace_back([&d] {
      ::pthread_setname_np(::pthread_self(), "skein.io");
      d.ioc.run();
    });
}

void http_server::stop() {
  auto& d = *impl_;
  if (d.stopped) return;
  d.stopped = true;
  asio::post(d.acceptor.get_executor(), [&d] {
    beast::error_code ec;
    d.acceptor.close(ec);
    d.pause_timer.cancel();
  });
  stop_ws_keepalive(d.ctx);
  // Close every stream politely (1001 after a short flush) while the io
  // threads still run; give them up to 2 s, then stop hard.
  {
    std::lock_guard<std::mutex> guard{d.ctx.conns_mutex};
    for (auto& [_, conn] : d.ctx.conns) caf::anon_send(conn, shutdown_atom::value, false);
  }
  for (int i = 0; i < 100; ++i) {
    {
      std::lock_guard<std::mutex> guard{d.ctx.conns_mutex};
      if (d.ctx.conns.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  d.ioc.stop();
  for (auto& t : d.threads) t.join();
  d.threads.clear();
  // The io threads are gone, streams will not be read again: every
  // connection actor leaves its session now. The io_context stays alive
  // (frames posted to it are dropped) until this object is destroyed.
  std::lock_guard<std::mutex> guard{d.ctx.conns_mutex};
  for (auto& [_, conn] : d.ctx.conns) caf::anon_send(conn, leave_atom::value);
  d.ctx.conns.clear();
}

}  // namespace skein
