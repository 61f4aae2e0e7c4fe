// `launch`: N local nodes as child processes of this binary.
//
// Picks ports, starts `node` children (they die with the launcher through
// PR_SET_PDEATHSIG), waits until every node's /healthz reports all its
// peers connected, prints `node <name> <url>` per node and `ready`, then
// supervises them until SIGINT/SIGTERM, then stops the children (SIGTERM,
// then SIGKILL after 10 s). Children's stdout goes to the launcher's stderr
// so stdout carries only those lines.
//
// Supervision (cli/supervise.hpp): a node that crashes is restarted on its
// own ports and data, joining through the others, after a backoff that
// doubles per crash in a row; more than --max-restarts crashes in a row stop
// everything with exit 1. A node that exits 0 (drained) stays down unless a
// restart request (`ctl rolling-restart`) is waiting for it. When no node is
// left the launcher exits (0).
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cli/cluster_certs.hpp"
#include "cli/commands.hpp"
#include "cli/supervise.hpp"
#include "runtime/members.hpp"

namespace skein::cli {

namespace {

struct child {
  std::string name;
  std::uint16_t http_port = 0;
  std::uint16_t cluster_port = 0;
  pid_t pid = -1;
  int crashes = 0;  // in a row; reset once the node has run kUpResetsCrashes
  std::chrono::steady_clock::time_point started{};
  std::chrono::steady_clock::time_point restart_at{};
  bool restart_pending = false;
};

/// A node that ran this long before crashing starts a new crash count.
constexpr std::chrono::seconds kUpResetsCrashes{30};

/// Asks the kernel for `count` distinct free loopback ports. The sockets are
/// held until all are picked, so the ports differ; a small window remains
/// between closing them and the children binding.
std::vector<std::uint16_t> free_ports(int count) {
  std::vector<int> fds;
  std::vector<std::uint16_t> ports;
  for (int i = 0; i < count; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) throw std::runtime_error("socket() failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0
        || ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      throw std::runtime_error("cannot pick a free port");
    fds.push_back(fd);
    ports.push_back(ntohs(addr.sin_port));
  }
  for (int fd : fds) ::close(fd);
  return ports;
}

pid_t spawn_node(const std::string& exe, const std::vector<std::string>& args,
                 const sigset_t& unblock) {
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid > 0) return pid;
  // child
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  ::pthread_sigmask(SIG_UNBLOCK, &unblock, nullptr);
  ::dup2(STDERR_FILENO, STDOUT_FILENO);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(exe.c_str()));
  for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  ::execv(exe.c_str(), argv.data());
  std::perror("execv");
  ::_exit(127);
}

/// Up, connected to every member it knows, and knowing `peers` others (-1: any).
/// `tls`: the nodes serve https (client TLS); probed without verifying the
/// certificate (our own children on loopback; nothing secret is sent).
bool is_healthy(const child& c, int peers, bool tls) {
  std::string body;
  if (http_get("127.0.0.1", c.http_port, "/healthz", body, 1000, http_tls{tls, false, {}}) != 200)
    return false;
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object() || j.value("state", "") != "up") return false;
  const int known = j.value("peers", -1), connected = j.value("peers_connected", -2);
  return known == connected && (peers < 0 || known == peers);
}

/// The launch file: DIR/launch.json, the nodes started on this data root.
nlohmann::json read_launch_file(const std::string& dir) {
  std::ifstream in(std::filesystem::path(dir) / "launch.json");
  if (!in) return nlohmann::json::array();
  auto j = nlohmann::json::parse(in, nullptr, false);
  return j.is_array() ? j : nlohmann::json::array();
}

void write_launch_file(const std::string& dir, const nlohmann::json& nodes) {
  auto path = std::filesystem::path(dir) / "launch.json";
  std::ofstream out(path.string() + ".tmp");
  out << nodes.dump(2) << '\n';
  out.close();
  std::filesystem::rename(path.string() + ".tmp", path);
}

void stop_children(std::vector<child>& children) {
  for (auto& c : children)
    if (c.pid > 0) ::kill(c.pid, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (auto& c : children) {
    if (c.pid <= 0) continue;
    int status = 0;
    while (::waitpid(c.pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        spdlog::warn("node {} did not stop in time; killing it", c.name);
        ::kill(c.pid, SIGKILL);
        ::waitpid(c.pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    c.pid = -1;
  }
}

}  // namespace

int run_launch(const launch_args& args, const std::string& self_exe) {
  if (args.tls_cert_file.empty() != args.tls_key_file.empty())
    throw std::invalid_argument("client TLS needs both --tls-cert and --tls-key (got only "
                                + std::string(args.tls_cert_file.empty() ? "--tls-key" : "--tls-cert")
                                + ")");
  const bool client_tls = !args.tls_cert_file.empty();
  const std::string scheme = client_tls ? "https://" : "http://";
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::filesystem::create_directories(args.data);

  // Which nodes: n1..nN, or (--add-node) the next name after those already
  // launched on this data root, joining through them.
  auto launched = read_launch_file(args.data);
  const int first = args.add_node ? static_cast<int>(launched.size()) + 1 : 1;
  const int count = args.add_node ? 1 : args.nodes;
  if (args.add_node && launched.empty())
    throw std::runtime_error("--add-node: no launch.json in " + args.data + "; launch first");
  std::vector<child> children(count);
  std::vector<std::uint16_t> ports;
  if (args.base_port != 0) {
    for (int i = first - 1; i < first - 1 + count; ++i) {
      ports.push_back(static_cast<std::uint16_t>(args.base_port + 2 * i));
      ports.push_back(static_cast<std::uint16_t>(args.base_port + 2 * i + 1));
    }
  } else {
    ports = free_ports(2 * count);
  }
  std::vector<address> seeds;
  if (args.add_node)
    for (auto& n : launched) seeds.emplace_back("127.0.0.1", n.at("cluster_port").get<std::uint16_t>());
  for (int i = 0; i < count; ++i) {
    auto& c = children[i];
    c.name = "n" + std::to_string(first + i);
    c.http_port = ports[2 * i];
    c.cluster_port = ports[2 * i + 1];
  }
  if (!args.add_node) {
    launched = nlohmann::json::array();
    std::filesystem::remove_all(std::filesystem::path(args.data) / "restart");  // stale requests
  }
  for (auto& c : children)
    launched.push_back({{"name", c.name}, {"http_port", c.http_port}, {"cluster_port", c.cluster_port}});
  write_launch_file(args.data, launched);

  // Every node gets the same admin token (ctl works against any of them).
  const std::string admin_token_file =
    args.admin_token_file.empty() ? (std::filesystem::path(args.data) / "admin.token").string()
                                  : args.admin_token_file;
  if (args.admin_token_file.empty()) ensure_admin_token_file(admin_token_file);

  if (args.cluster_tls) {
    std::vector<std::string> names;
    for (auto& c : children) names.push_back(c.name);
    ensure_cluster_certs(std::filesystem::path(args.data) / "tls", names);
    // The openssl commands' exits left SIGCHLD pending (it is blocked here):
    // consume it, or the supervision loop takes it for a node's death.
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    timespec zero{0, 0};
    while (::sigtimedwait(&chld, nullptr, &zero) > 0) {
    }
  }

  // Every node on this one machine: CAF's default (a scheduler thread per
  // core in each node) puts nodes x cores work-stealing threads on the
  // cores, and their idle polling costs more than it gives.
  const int scheduler_threads =
    args.scheduler_threads > 0
      ? args.scheduler_threads
      : std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / std::max(1, args.nodes));

  auto start = [&](child& c, const std::vector<address>& via) {
    std::vector<std::string> a{"node",
                               "--name", c.name,
                               "--listen", "127.0.0.1:" + std::to_string(c.http_port),
                               "--cluster-port", std::to_string(c.cluster_port),
                               "--data", (std::filesystem::path(args.data) / c.name).string(),
                               "--max-frame", std::to_string(args.max_frame),
                               "--max-connections", std::to_string(args.max_connections),
                               "--max-sessions", std::to_string(args.max_sessions),
                               "--max-connections-per-address",
                               std::to_string(args.max_connections_per_address),
                               "--max-message-rate", std::to_string(args.max_message_rate),
                               "--message-burst", std::to_string(args.message_burst),
                               "--replicas", std::to_string(args.replicas),
                               "--heartbeat-udp", args.heartbeat_udp ? "true" : "false",
                               "--scheduler-threads", std::to_string(scheduler_threads),
                               "--scheduler-policy", args.scheduler_policy,
                               "--basp-workers", std::to_string(args.basp_workers),
                               "--cluster-lane", args.cluster_lane ? "true" : "false",
                               "--idle-flush-ms", std::to_string(args.idle_flush_ms)};
    if (!via.empty()) {
      a.push_back("--seeds");
      a.push_back(format_addresses(via));
    }
    if (args.sync) a.push_back("--sync");
    if (!args.rocksdb_options.empty()) {
      a.push_back("--rocksdb-options");
      a.push_back(args.rocksdb_options);
    }
    if (args.cluster_tls) {
      a.push_back("--cluster-tls-dir");
      a.push_back((std::filesystem::path(args.data) / "tls" / c.name).string());
    }
    a.push_back("--admin-token-file");
    a.push_back(admin_token_file);
    for (auto [flag, file] : {std::pair{"--jwt-secret-file", &args.jwt_secret_file},
                              std::pair{"--jwt-public-key-file", &args.jwt_public_key_file},
                              std::pair{"--tls-cert", &args.tls_cert_file},
                              std::pair{"--tls-key", &args.tls_key_file}})
      if (!file->empty()) {
        a.push_back(flag);
        a.push_back(*file);
      }
    for (auto& o : args.kind_options) {
      a.push_back("--kind-option");
      a.push_back(o);
    }
    c.pid = spawn_node(self_exe, a, signals);
    c.started = std::chrono::steady_clock::now();
  };
  // A restarted node joins through every other node of this launch.
  auto others_of = [&](const child& c) {
    std::vector<address> via;
    for (auto& n : launched)
      if (n.at("name").get<std::string>() != c.name)
        via.emplace_back("127.0.0.1", n.at("cluster_port").get<std::uint16_t>());
    return via;
  };

  // Readiness: poll /healthz (a bounded wait for other processes, not a
  // synchronisation shortcut) while watching for signals and dead children.
  auto deadline = std::chrono::steady_clock::now()
                  + std::chrono::milliseconds(static_cast<long>(args.ready_timeout_s * 1000));
  // Returns 0 when all of `group` are healthy, else the exit code to return.
  auto wait_healthy = [&](std::vector<child*> group, int peers) -> int {
    for (;;) {
      timespec zero{0, 0};
      int sig = sigtimedwait(&signals, nullptr, &zero);
      if (sig == SIGCHLD) {
        int status = 0;
        pid_t pid = ::waitpid(-1, &status, WNOHANG);
        for (auto& c : children)
          if (c.pid == pid) {
            spdlog::error("node {} {} during start-up", c.name, describe_wait_status(status));
            c.pid = -1;
          }
        stop_children(children);
        return 1;
      }
      if (sig > 0) {
        stop_children(children);
        return 130;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        spdlog::error("nodes not healthy after {} s", args.ready_timeout_s);
        stop_children(children);
        return 1;
      }
      bool all = true;
      for (auto* c : group) all = is_healthy(*c, peers, client_tls) && all;
      if (all) return 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  };

  int rc = 0;
  if (args.add_node) {
    start(children[0], seeds);
    rc = wait_healthy({&children[0]}, -1);
  } else {
    // The first node forms the cluster; the others join through it. All
    // start at once: a node restarted on a data dir that recorded the
    // cluster (runtime/membership_actor.cpp, restore_view) is up only once
    // it reaches the members it recorded, so waiting for the first alone
    // would wait forever on a relaunch.
    start(children[0], {});
    for (int i = 1; i < count; ++i) start(children[i], {{"127.0.0.1", children[0].cluster_port}});
    std::vector<child*> all;
    for (auto& c : children) all.push_back(&c);
    rc = wait_healthy(all, count - 1);
  }
  if (rc == 130) return 0;
  if (rc != 0) return rc;
  for (auto& c : children)
    std::cout << "node " << c.name << " " << scheme << "127.0.0.1:" << c.http_port << '\n';
  if (!args.add_node)
    std::cout << "dashboard " << scheme << "127.0.0.1:" << children.front().http_port << "/\n";
  std::cout << "ready" << std::endl;

  using clock = std::chrono::steady_clock;
  for (;;) {
    // Sleep until a signal or the next scheduled restart.
    auto wake = clock::now() + std::chrono::seconds(1);
    for (auto& c : children)
      if (c.restart_pending) wake = std::min(wake, c.restart_at);
    auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::max(wake - clock::now(), clock::duration::zero()));
    timespec ts{static_cast<time_t>(wait.count() / 1000000000), static_cast<long>(wait.count() % 1000000000)};
    int sig = sigtimedwait(&signals, nullptr, &ts);
    if (sig > 0 && sig != SIGCHLD) {
      spdlog::info("launcher: stopping {} nodes", children.size());
      stop_children(children);
      return 0;
    }
    if (sig == SIGCHLD) {
      int status = 0;
      pid_t pid;
      while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0)
        for (auto& c : children) {
          if (c.pid != pid) continue;
          c.pid = -1;
          const bool requested = take_restart_request(args.data, c.name);
          const auto how = describe_wait_status(status);
          if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            if (requested) {
              spdlog::info("node {} {}; restarting it (restart requested)", c.name, how);
              c.restart_pending = true;
              c.restart_at = clock::now();
            } else {
              spdlog::info("node {} {}; not restarting it (drained or stopped)", c.name, how);
            }
            continue;
          }
          if (args.max_restarts == 0) {
            spdlog::warn("node {} {}; not restarting it (--max-restarts 0)", c.name, how);
            continue;
          }
          if (clock::now() - c.started > kUpResetsCrashes) c.crashes = 0;
          if (++c.crashes > args.max_restarts) {
            spdlog::error("node {} {}; giving up after {} restarts in a row, stopping the cluster",
                          c.name, how, args.max_restarts);
            stop_children(children);
            return 1;
          }
          auto delay = restart_delay(std::chrono::milliseconds(args.restart_backoff_ms), c.crashes);
          spdlog::warn("node {} {}; restarting in {} ms (restart {} of {})", c.name, how,
                       delay.count(), c.crashes, args.max_restarts);
          c.restart_pending = true;
          c.restart_at = clock::now() + delay;
        }
    }
    bool any = false;
    for (auto& c : children) {
      if (c.restart_pending && clock::now() >= c.restart_at) {
        c.restart_pending = false;
        start(c, others_of(c));
        spdlog::info("node {} restarted (pid {})", c.name, c.pid);
      }
      any = any || c.pid > 0 || c.restart_pending;
    }
    if (!any) {
      spdlog::info("launcher: no node left running; exiting");
      return 0;
    }
  }
}

}  // namespace skein::cli
