// The cluster port's idle-connection reaper: closes accepted connections on
// the cluster port that received no byte for a while.
//
// Why: a peer that opens a TCP connection to the cluster port and then sends
// nothing, or half a TLS ClientHello, holds a descriptor and a pending
// handshake in CAF's multiplexer forever (libcaf-openssl 0.17 has no
// handshake timeout, and BASP's own connection timeout covers only
// connections that finished the BASP handshake). Members never go quiet:
// they gossip every heartbeat interval (500 ms by default), so a connection
// that received no data for `idle` is a half-open handshake, a silent
// attacker or a frozen peer (SIGSTOP: already declared down after the
// failure timeout, and it dials again when it wakes).
//
// How: every `every`, walk /proc/self/fd; for each TCP socket whose local
// port is the cluster port and which is not the listener, read TCP_INFO;
// if it is established, received fewer than max_handshake_bytes in all
// (never got past a handshake: members exchange kilobytes of gossip within
// seconds) and tcpi_last_data_recv (ms since it last received data, or
// since it was established) exceeds `idle`, shutdown(2) it. A member that
// goes quiet (SIGSTOP, a partition) keeps its connection: cutting every
// connection of a waking node at once is the failure detector's call. CAF then
// sees the end of the stream and closes its side; the descriptor is never
// closed under CAF's feet. Linux only (TCP_INFO, /proc).
//
// Thread-safety: owns one thread; start() and stop() from one thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

namespace skein {

class idle_reaper {
public:
  /// Bytes a connection may have received and still count as half-open.
  static constexpr std::uint64_t max_handshake_bytes = 4096;

  struct options {
    std::uint16_t port = 0;                          // the cluster port (bound)
    std::chrono::milliseconds idle{10000};           // no data received for this long
    std::chrono::milliseconds every{2000};           // scan interval
  };

  idle_reaper() = default;
  idle_reaper(const idle_reaper&) = delete;
  idle_reaper& operator=(const idle_reaper&) = delete;
  ~idle_reaper() { stop(); }

  void start(options o);
  void stop();

  /// Connections shut down so far (also skein_cluster_idle_closed_total).
  std::uint64_t closed() const { return closed_.load(std::memory_order_relaxed); }

  /// One scan now (the thread calls it; tests may too). Returns how many
  /// connections it shut down; each is counted in
  /// skein_cluster_idle_closed_total before its shutdown(2), so a peer that
  /// sees the close and then reads /metrics sees it counted.
  static std::size_t scan(std::uint16_t port, std::chrono::milliseconds idle);

private:
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::atomic<std::uint64_t> closed_{0};
};

}  // namespace skein
