// `launch`: N local nodes as child processes of this binary.
//
// Picks ports, starts `node` children (they die with the launcher through
// PR_SET_PDEATHSIG), waits until every node's /healthz reports all its
// peers connected, prints `node <name> <url>` per node and `ready`, then
// waits for SIGINT/SIGTERM and stops the children (SIGTERM, then SIGKILL
// after 10 s). Children's stdout goes to the launcher's stderr so stdout
// carries only those lines.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
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

#include "cli/commands.hpp"
#include "runtime/members.hpp"

namespace skein::cli {

namespace {

struct child {
  std::string name;
  std::uint16_t http_port = 0;
  std::uint16_t cluster_port = 0;
  pid_t pid = -1;
  bool healthy = false;
};

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

bool is_healthy(const child& c) {
  std::string body;
  if (http_get("127.0.0.1", c.http_port, "/healthz", body, 1000) != 200) return false;
  auto j = nlohmann::json::parse(body, nullptr, false);
  return j.is_object() && j.value("peers_connected", -1) == j.value("peers", -2);
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
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::vector<child> children(args.nodes);
  std::vector<std::uint16_t> ports;
  if (args.base_port != 0) {
    for (int i = 0; i < args.nodes; ++i) {
      ports.push_back(static_cast<std::uint16_t>(args.base_port + 2 * i));
      ports.push_back(static_cast<std::uint16_t>(args.base_port + 2 * i + 1));
    }
  } else {
    ports = free_ports(2 * args.nodes);
  }
  std::vector<member_address> members;
  for (int i = 0; i < args.nodes; ++i) {
    auto& c = children[i];
    c.name = "n" + std::to_string(i + 1);
    c.http_port = ports[2 * i];
    c.cluster_port = ports[2 * i + 1];
    members.push_back({c.name, "127.0.0.1", c.cluster_port});
  }
  const auto peers = format_members(members);
  std::filesystem::create_directories(args.data);
  for (auto& c : children) {
    std::vector<std::string> a{"node",
                               "--name", c.name,
                               "--listen", "127.0.0.1:" + std::to_string(c.http_port),
                               "--cluster-port", std::to_string(c.cluster_port),
                               "--peers", peers,
                               "--data", (std::filesystem::path(args.data) / c.name).string(),
                               "--max-frame", std::to_string(args.max_frame)};
    if (args.sync) a.push_back("--sync");
    for (auto& o : args.kind_options) {
      a.push_back("--kind-option");
      a.push_back(o);
    }
    c.pid = spawn_node(self_exe, a, signals);
  }

  // Readiness: poll /healthz (a bounded wait for other processes, not a
  // synchronisation shortcut) while watching for signals and dead children.
  auto deadline = std::chrono::steady_clock::now()
                  + std::chrono::milliseconds(static_cast<long>(args.ready_timeout_s * 1000));
  auto pending_signal = [&](int& sig) {
    timespec zero{0, 0};
    sig = sigtimedwait(&signals, nullptr, &zero);
    return sig > 0;
  };
  std::size_t healthy = 0;
  while (healthy < children.size()) {
    int sig = 0;
    if (pending_signal(sig)) {
      if (sig == SIGCHLD) {
        int status = 0;
        pid_t pid = ::waitpid(-1, &status, WNOHANG);
        for (auto& c : children)
          if (c.pid == pid) {
            spdlog::error("node {} exited during start-up (status {})", c.name, status);
            c.pid = -1;
          }
        stop_children(children);
        return 1;
      }
      stop_children(children);
      return 0;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      spdlog::error("nodes not healthy after {} s", args.ready_timeout_s);
      stop_children(children);
      return 1;
    }
    healthy = 0;
    for (auto& c : children) {
      if (!c.healthy) c.healthy = is_healthy(c);
      healthy += c.healthy ? 1 : 0;
    }
    if (healthy < children.size()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (auto& c : children)
    std::cout << "node " << c.name << " http://127.0.0.1:" << c.http_port << '\n';
  std::cout << "ready" << std::endl;

  for (;;) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig == SIGCHLD) {
      int status = 0;
      pid_t pid;
      while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0)
        for (auto& c : children)
          if (c.pid == pid) {
            spdlog::warn("node {} exited (status {})", c.name, status);
            c.pid = -1;
          }
      continue;
    }
    spdlog::info("launcher: stopping {} nodes", children.size());
    stop_children(children);
    return 0;
  }
}

}  // namespace skein::cli
