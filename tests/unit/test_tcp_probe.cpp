// tcp_probe (runtime/tcp_probe.hpp): true for a listening port, false for a
// refused one, and false by the deadline for a host that does not answer
// (a listener whose accept queue is full drops further SYNs).
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <vector>

#include "runtime/tcp_probe.hpp"

using namespace std::chrono_literals;

namespace {

/// A TCP listener on 127.0.0.1 at a free port, with the given backlog.
struct listener {
  int fd = -1;
  std::uint16_t port = 0;
  explicit listener(int backlog) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd, backlog) == 0);
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port = ntohs(a.sin_port);
  }
  ~listener() { if (fd >= 0) ::close(fd); }
};

}  // namespace

TEST_CASE("tcp_probe: a listening port is reachable and a closed one is not", "[tcp_probe]") {
  std::uint16_t port = 0;
  {
    listener l(16);
    port = l.port;
    CHECK(skein::tcp_probe("127.0.0.1", port, 1000ms));
    CHECK(skein::tcp_probe("localhost", port, 1000ms));
  }
  auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(skein::tcp_probe("127.0.0.1", port, 1000ms));
  CHECK(std::chrono::steady_clock::now() - t0 < 900ms);  // refused at once, not at the deadline
  CHECK_FALSE(skein::tcp_probe("no-such-host.invalid", port, 1000ms));
}

TEST_CASE("tcp_probe: a host that drops SYNs is unreachable by the deadline", "[tcp_probe]") {
  listener l(0);  // never accepts: once its queue is full the kernel drops SYNs
  bool dropped = false;
  for (int i = 0; i < 8 && !dropped; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    bool ok = skein::tcp_probe("127.0.0.1", l.port, 300ms);
    if (!ok) {
      dropped = true;
      CHECK(std::chrono::steady_clock::now() - t0 >= 250ms);
      CHECK(std::chrono::steady_clock::now() - t0 < 2000ms);
    }
  }
  CHECK(dropped);
}
