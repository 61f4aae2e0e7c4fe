// The heartbeat channel's socket and thread (runtime/heartbeat_channel.hpp):
// poll(2) on the UDP socket and an eventfd that wakes the thread for sends.
#include "runtime/heartbeat_channel.hpp"

#include <pthread.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "runtime/heartbeat_wire.hpp"

namespace skein {

namespace {

constexpr std::size_t max_queued = 1024;

[[noreturn]] void fail(const std::string& what, int err) {
  throw std::system_error(err, std::generic_category(), what);
}

struct resolved {
  sockaddr_storage addr{};
  socklen_t len = 0;
};

}  // namespace

struct heartbeat_channel::impl {
  int fd = -1;
  int wake = -1;
  int family = AF_INET;
  std::uint16_t port = 0;
  handler on_datagram;
  std::atomic<bool> stop{false};
  std::mutex mtx;
  struct outgoing {
    std::string host;
    std::uint16_t port;
    std::string bytes;
  };
  std::deque<outgoing> queue;  // guarded by mtx
  std::map<std::string, resolved> cache;  // thread only: host -> address (port 0)
  std::thread thread;

  ~impl() {
    if (fd >= 0) ::close(fd);
    if (wake >= 0) ::close(wake);
  }

  /// Resolves host for the socket's family (numeric or by name), cached.
  const resolved* resolve(const std::string& host) {
    if (auto it = cache.find(host); it != cache.end()) return &it->second;
    addrinfo hints{};
    hints.ai_family = family;
    hints.ai_socktype = SOCK_DGRAM;
    addrinfo* res = nullptr;
    if (::getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || !res) return nullptr;
    resolved r;
    std::memcpy(&r.addr, res->ai_addr, res->ai_addrlen);
    r.len = res->ai_addrlen;
    ::freeaddrinfo(res);
    if (cache.size() > 256) cache.clear();  // members come and go; stay bounded
    return &cache.emplace(host, r).first->second;
  }

  void flush() {
    std::deque<outgoing> batch;
    {
      std::lock_guard lock(mtx);
      batch.swap(queue);
    }
    for (auto& o : batch) {
      auto* r = resolve(o.host);
      if (!r) continue;
      sockaddr_storage to = r->addr;
      if (to.ss_family == AF_INET)
        reinterpret_cast<sockaddr_in*>(&to)->sin_port = htons(o.port);
      else if (to.ss_family == AF_INET6)
        reinterpret_cast<sockaddr_in6*>(&to)->sin6_port = htons(o.port);
      else
        continue;
      // Non-blocking: a full socket buffer or an unreachable host drops
      // this heartbeat; the next one is due in one heartbeat interval.
      (void)::sendto(fd, o.bytes.data(), o.bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
                     reinterpret_cast<const sockaddr*>(&to), r->len);
    }
  }

  void run() {
    std::vector<char> buf(heartbeat_wire::max_datagram_bytes + 1);
    while (!stop.load()) {
      pollfd p[2] = {{fd, POLLIN, 0}, {wake, POLLIN, 0}};
      int n = ::poll(p, 2, 1000);
      if (n < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (p[1].revents & POLLIN) {
        std::uint64_t v;
        (void)!::read(wake, &v, sizeof v);
        if (stop.load()) return;
        flush();
      }
      if (p[0].revents & POLLIN) {
        // Drain what is there; a datagram longer than any valid one is cut
        // (MSG_TRUNC gives its real length) and dropped.
        for (;;) {
          auto got = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT | MSG_TRUNC);
          if (got < 0) break;
          if (static_cast<std::size_t>(got) > heartbeat_wire::max_datagram_bytes || got == 0)
            continue;
          on_datagram(std::string(buf.data(), static_cast<std::size_t>(got)));
        }
      }
    }
  }
};

heartbeat_channel::heartbeat_channel(const std::string& host, std::uint16_t port,
                                     handler on_datagram)
    : impl_(std::make_unique<impl>()) {
  auto& d = *impl_;
  d.on_datagram = std::move(on_datagram);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  auto service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res);
      rc != 0 || !res)
    throw std::system_error(EINVAL, std::generic_category(),
                            "heartbeat channel: cannot resolve " + host + ": " + ::gai_strerror(rc));
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard(res, ::freeaddrinfo);
  d.family = res->ai_family;
  d.fd = ::socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (d.fd < 0) fail("heartbeat channel: socket", errno);
  if (::bind(d.fd, res->ai_addr, res->ai_addrlen) != 0)
    fail("heartbeat channel: bind UDP " + host + ":" + service, errno);
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  if (::getsockname(d.fd, reinterpret_cast<sockaddr*>(&bound), &len) != 0)
    fail("heartbeat channel: getsockname", errno);
  d.port = ntohs(bound.ss_family == AF_INET6
                   ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                   : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  d.wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (d.wake < 0) fail("heartbeat channel: eventfd", errno);
  d.thread = std::thread([&d] {
    ::pthread_setname_np(::pthread_self(), "skein.heartbeat");
    d.run();
  });
}

heartbeat_channel::~heartbeat_channel() {
  auto& d = *impl_;
  d.stop.store(true);
  std::uint64_t one = 1;
  (void)!::write(d.wake, &one, sizeof one);
  if (d.thread.joinable()) d.thread.join();
}

std::uint16_t heartbeat_channel::port() const { return impl_->port; }

void heartbeat_channel::send(const std::string& host, std::uint16_t port, std::string datagram) {
  auto& d = *impl_;
  {
    std::lock_guard lock(d.mtx);
    if (d.queue.size() >= max_queued) return;
    d.queue.push_back({host, port, std::move(datagram)});
  }
  std::uint64_t one = 1;
  (void)!::write(d.wake, &one, sizeof one);
}

}  // namespace skein
