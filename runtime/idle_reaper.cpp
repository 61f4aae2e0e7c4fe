// idle_reaper: /proc/self/fd, getsockname and TCP_INFO (runtime/idle_reaper.hpp).
#include "runtime/idle_reaper.hpp"

#include <pthread.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <linux/tcp.h>  // struct tcp_info with tcpi_bytes_received (glibc's lacks it)
#include <sys/socket.h>

#include <cstdlib>
#include <string>

#include <spdlog/spdlog.h>

#include "actors/metrics.hpp"

namespace skein {

namespace {

/// The local port of `fd` if it is a TCP/IP socket, else 0.
std::uint16_t local_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return 0;
}

std::string peer_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "?";
  char buf[INET6_ADDRSTRLEN] = "?";
  std::uint16_t port = 0;
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
    port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    ::inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
    port = ntohs(a->sin6_port);
  }
  return std::string(buf) + ":" + std::to_string(port);
}

}  // namespace

std::size_t idle_reaper::scan(std::uint16_t port, std::chrono::milliseconds idle) {
  std::size_t closed = 0;
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) return 0;
  const int own = ::dirfd(dir);
  while (auto* e = ::readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd == own || fd < 0) continue;
    const int s = static_cast<int>(fd);
    if (local_port(s) != port) continue;
    int listening = 0;
    socklen_t len = sizeof listening;
    if (::getsockopt(s, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || listening) continue;
    tcp_info info{};
    len = sizeof info;
    if (::getsockopt(s, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) continue;
    constexpr std::uint8_t established = 1;  // TCP_ESTABLISHED (include/net/tcp_states.h)
    if (info.tcpi_state != established) continue;
    if (info.tcpi_last_data_recv <= static_cast<std::uint32_t>(idle.count())) continue;
    // A member's connection carried a TLS and BASP handshake and gossip
    // (kilobytes within seconds); one that never got past a handshake's
    // worth of bytes is the kind this reaper is for. A member that goes
    // quiet (SIGSTOP, a partition) keeps its connection: the membership's
    // failure detector, not this, decides about members.
    if (info.tcpi_bytes_received >= max_handshake_bytes) continue;
    spdlog::warn("cluster port: closing the connection from {}: no data for {} ms (a half-open "
                 "handshake or a silent peer)", peer_of(s), info.tcpi_last_data_recv);
    // Count before the shutdown: the peer may see the close and read
    // /metrics before this scan finishes walking the descriptors.
    metrics().cluster_idle_closed.fetch_add(1, std::memory_order_relaxed);
    ++closed;
    ::shutdown(s, SHUT_RDWR);
  }
  ::closedir(dir);
  return closed;
}

void idle_reaper::start(options o) {
  stop();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this, o] {
    ::pthread_setname_np(::pthread_self(), "skein.reaper");
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, o.every, [this] { return stopping_; })) {
      lock.unlock();
      auto n = scan(o.port, o.idle);
      if (n) closed_.fetch_add(n, std::memory_order_relaxed);
      lock.lock();
    }
  });
}

void idle_reaper::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace skein
