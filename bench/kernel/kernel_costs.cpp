// skein-kernel-costs: what the kernel charges on this machine for the three
// things a message through any of the benchmarked servers is made of, so that
// the per-message figures of bench/run (kernel µs, context switches) can be
// read as counts times prices.
//
//   build/bin/skein-kernel-costs [--seconds 2] [--json]
//
// Prints one line per measure (with --json one object instead,
// {"syscall_us", "wake_us", "loopback_us"}; bench/run puts it on the
// page's machine line), each the mean over a loop that runs for --seconds
// (default 2):
//   syscall       getppid(2): the bare cost of entering and leaving the kernel.
//   wake          a round trip between two threads that block in futex(2)
//                 (std::condition_variable), halved: one wake, one context
//                 switch on each side.
//   loopback      send(2) of 64 bytes on a loopback TCP connection (TCP_NODELAY)
//                 and recv(2) of them on the other end, one thread
//                 (blocking sockets; the data is there when recv runs): the
//                 kernel's TCP path both ways.
//
// Run it on an otherwise idle machine; it uses two threads for `wake` only.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>

namespace {

using clock_type = std::chrono::steady_clock;

/// Runs `step` in batches until `seconds` pass; returns ns per step.
template <class F>
double per_step(double seconds, F step) {
  const auto until = clock_type::now() + std::chrono::duration<double>(seconds);
  std::uint64_t n = 0;
  const auto t0 = clock_type::now();
  while (clock_type::now() < until) {
    for (int i = 0; i < 256; ++i) step();
    n += 256;
  }
  return std::chrono::duration<double, std::nano>(clock_type::now() - t0).count()
         / static_cast<double>(n);
}

double syscall_ns(double seconds) {
  return per_step(seconds, [] { (void)::getppid(); });
}

/// One wake: half a ping-pong between two threads through a condition
/// variable (each side sleeps in futex until the other flips `turn`).
double wake_ns(double seconds) {
  std::mutex m;
  std::condition_variable cv;
  int turn = 0;  // 0: main's, 1: the other's, 2: stop
  std::thread other([&] {
    std::unique_lock<std::mutex> lock(m);
    for (;;) {
      cv.wait(lock, [&] { return turn != 0; });
      if (turn == 2) return;
      turn = 0;
      cv.notify_one();
    }
  });
  double ns = per_step(seconds, [&] {
    std::unique_lock<std::mutex> lock(m);
    turn = 1;
    cv.notify_one();
    cv.wait(lock, [&] { return turn == 0; });
  });
  {
    std::lock_guard<std::mutex> lock(m);
    turn = 2;
  }
  cv.notify_one();
  other.join();
  return ns / 2;
}

int check(int r, const char* what) {
  if (r < 0) throw std::runtime_error(std::string(what) + ": " + std::strerror(errno));
  return r;
}

/// send(64 B) + recv(64 B) over a loopback TCP connection, one thread.
double loopback_ns(double seconds) {
  int l = check(::socket(AF_INET, SOCK_STREAM, 0), "socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  check(::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a), "bind");
  check(::listen(l, 1), "listen");
  socklen_t len = sizeof a;
  check(::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len), "getsockname");
  int c = check(::socket(AF_INET, SOCK_STREAM, 0), "socket");
  check(::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a), "connect");
  int s = check(::accept(l, nullptr, nullptr), "accept");
  int one = 1;
  ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  char out[64] = {'x'};
  char in[256];
  double ns = per_step(seconds, [&] {
    check(static_cast<int>(::send(c, out, sizeof out, 0)), "send");
    std::size_t got = 0;
    while (got < sizeof out) got += static_cast<std::size_t>(check(static_cast<int>(::recv(s, in, sizeof in, 0)), "recv"));
  });
  ::close(s);
  ::close(c);
  ::close(l);
  return ns;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 2;
  bool json = false;
  CLI::App app{"skein-kernel-costs: the price of a system call, a thread wake and a loopback TCP message here"};
  app.add_option("--seconds", seconds, "how long each measure loops")->check(CLI::Range(0.1, 60.0));
  app.add_flag("--json", json, "print one JSON object");
  CLI11_PARSE(app, argc, argv);
  try {
    const double sys = syscall_ns(seconds) / 1e3;
    const double wake = wake_ns(seconds) / 1e3;
    const double loop = loopback_ns(seconds) / 1e3;
    if (json) {
      std::printf("{\"syscall_us\":%.3f,\"wake_us\":%.3f,\"loopback_us\":%.3f}\n", sys, wake, loop);
    } else {
      std::printf("syscall   getppid                          %8.2f µs\n", sys);
      std::printf("wake      futex wake + context switch      %8.2f µs\n", wake);
      std::printf("loopback  TCP send + recv of 64 bytes      %8.2f µs\n", loop);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "skein-kernel-costs: %s\n", e.what());
    return 1;
  }
  return 0;
}
