// `node`: one node in the foreground until SIGINT or SIGTERM.
#include <sys/resource.h>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <filesystem>
#include <unistd.h>
#include <stdexcept>
#include <tuple>

#include <spdlog/spdlog.h>

#include "cli/commands.hpp"
#include "net/auth.hpp"
#include "net/server.hpp"
#include "runtime/members.hpp"
#include "runtime/node.hpp"

namespace skein::cli {

namespace {
/// Raises the soft limit on open files to the hard limit, so that the node
/// can hold as many client streams as the machine allows.
void raise_fd_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= lim.rlim_max) return;
  const auto before = lim.rlim_cur;
  lim.rlim_cur = lim.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &lim) == 0)
    spdlog::info("open files limit raised from {} to {}", before, lim.rlim_cur);
}

std::pair<std::string, std::uint16_t> split_host_port(const std::string& s,
                                                      const char* option = "--listen") {
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0)
    throw std::invalid_argument(std::string(option) + " wants HOST:PORT, got '" + s + "'");
  int port = std::stoi(s.substr(colon + 1));
  if (port < 0 || port > 65535) throw std::invalid_argument("bad port in '" + s + "'");
  return {s.substr(0, colon), static_cast<std::uint16_t>(port)};
}
}  // namespace

int run_node(const node_args& args, const behaviour_registry& registry) {
  // Block the stop signals before any thread starts, so every thread
  // inherits the mask and only sigwait below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto [host, port] = split_host_port(args.listen);
  // Half a TLS configuration would silently serve plain http: refuse it.
  if (args.tls_cert_file.empty() != args.tls_key_file.empty())
    throw std::invalid_argument("client TLS needs both --tls-cert and --tls-key (got only "
                                + std::string(args.tls_cert_file.empty() ? "--tls-key" : "--tls-cert")
                                + ")");
  const bool tls = !args.tls_cert_file.empty();
  // Unreadable files: say so before anything starts (the server checks the
  // contents: a chain, a key, and that they match).
  for (auto [flag, file] : {std::pair{"--tls-cert", &args.tls_cert_file},
                            std::pair{"--tls-key", &args.tls_key_file}})
    if (tls && !std::ifstream(*file))
      throw std::invalid_argument(std::string(flag) + " " + *file + ": cannot read: "
                                  + std::strerror(errno));
  const std::string scheme = tls ? "https://" : "http://";
  node_options opts;
  opts.name = args.name;
  opts.http_host = host;
  opts.http_port = port;
  opts.cluster_host = host;
  opts.cluster_port = args.cluster_port;
  if (!args.cluster_listen.empty()) {
    auto [chost, cport] = split_host_port(args.cluster_listen, "--cluster-listen");
    if (args.cluster_port_given && args.cluster_port != cport)
      throw std::invalid_argument("--cluster-port " + std::to_string(args.cluster_port)
                                  + " contradicts --cluster-listen " + args.cluster_listen);
    opts.cluster_host = chost;
    opts.cluster_port = cport;
  } else if (!args.cluster_port_given) {
    throw std::invalid_argument("the cluster port is needed: --cluster-port PORT or "
                                "--cluster-listen HOST:PORT");
  }
  if (!args.advertise.empty()) {
    auto [ahost, aport] = split_host_port(args.advertise, "--advertise");
    opts.advertise_url = scheme + ahost + ":" + std::to_string(aport);
  } else if (tls) {
    // Members and /gateway hand this URL to clients: it says https.
    opts.advertise_url = scheme + host + ":" + std::to_string(port);
  }
  if (!args.cluster_advertise.empty())
    std::tie(opts.cluster_advertise_host, opts.cluster_advertise_port) =
      split_host_port(args.cluster_advertise, "--cluster-advertise");
  opts.unsafe_skip_fencing = args.unsafe_skip_fencing;
  opts.cluster_tls_dir = args.cluster_tls_dir;
  opts.seeds = parse_addresses(args.seeds);
  opts.replicas = args.replicas;
  opts.max_sessions = args.max_sessions;
  opts.failure_timeout = std::chrono::milliseconds(args.failure_timeout_ms);
  opts.heartbeat_interval = std::chrono::milliseconds(args.heartbeat_ms);
  opts.heartbeat_udp = args.heartbeat_udp;
  opts.scheduler_threads = static_cast<std::size_t>(args.scheduler_threads);
  opts.scheduler_policy = args.scheduler_policy;
  opts.basp_workers = args.basp_workers;
  opts.cluster_lane = args.cluster_lane;
  // A drained node stops like on SIGTERM and exits 0.
  opts.on_drained = [] { ::kill(::getpid(), SIGTERM); };
  opts.data_dir = args.data;
  opts.sync = args.sync;
  opts.rocksdb_options = args.rocksdb_options;
  opts.idle_flush = std::chrono::milliseconds(args.idle_flush_ms);

  server_options sopts;
  sopts.host = host;
  sopts.port = port;
  sopts.max_frame = args.max_frame;
  sopts.max_connections = args.max_connections;
  sopts.max_connections_per_address = args.max_connections_per_address;
  sopts.tls_cert_file = args.tls_cert_file;
  sopts.tls_key_file = args.tls_key_file;
  sopts.max_message_rate = args.max_message_rate;
  sopts.message_burst = args.message_burst;
  raise_fd_limit();
  sopts.threads = args.io_threads;
  sopts.ws_idle_timeout = std::chrono::milliseconds(args.ws_idle_timeout_ms);
  if (!args.jwt_secret_file.empty()) {
    sopts.auth.jwt_secret = read_secret_file(args.jwt_secret_file);
    warn_if_shared(args.jwt_secret_file);
  }
  if (!args.jwt_public_key_file.empty())
    sopts.auth.jwt_public_key = read_secret_file(args.jwt_public_key_file, false);
  sopts.auth.admin_token =
    args.admin_token_file.empty()
      ? ensure_admin_token_file((std::filesystem::path(args.data) / "admin.token").string())
      : read_admin_token_file(args.admin_token_file);

  node n{opts, registry};
  http_server server{n, sopts};
  server.run();
  spdlog::info("node {} serving {} (data {})", args.name, n.url(), args.data);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  spdlog::info("node {} stopping on signal {}", args.name, sig);
  server.stop();
  n.stop();
  spdlog::info("node {} stopped", args.name);
  return 0;
}

}  // namespace skein::cli
