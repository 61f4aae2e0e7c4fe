// The heartbeat channel: a UDP socket and one thread that carry quorum
// heartbeats (runtime/heartbeat_wire.hpp) beside BASP.
//
// Why: CAF 0.17's BASP is one in-order TCP stream per pair of nodes. The
// gossip that doubles as the heartbeat queues behind whatever was written
// before it (session copies of a rebalance, replica batches), and a node
// whose echoes are late loses its quorum lease and stops serving. Datagrams
// have no head-of-line: a heartbeat is sent when it is due and arrives
// unless the network drops it, which is what a failure detector must see.
// BASP gossip still carries the view, the suspect lists and a heartbeat of
// its own; the channel only adds a second, faster path for ts and echo.
//
// The socket binds the cluster port's host and port number over UDP
// (TCP and UDP ports are separate namespaces). Peers are sent to at their
// advertised cluster address (host, cluster_port) over UDP; where that
// address maps only TCP (a NAT that forwards one protocol), nothing arrives
// and the nodes run on BASP heartbeats alone, as before the channel.
//
// Thread-safety: send() may be called from any thread (it queues; the
// channel's thread resolves and sends). The handler runs on the channel's
// thread, one datagram at a time; it must not block (post to an actor).
// The destructor stops and joins the thread; no handler call runs after it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace skein {

class heartbeat_channel {
 public:
  /// Called with each datagram received (at most heartbeat_wire::
  /// max_datagram_bytes; longer ones are dropped before it). The sender's
  /// address is not passed: datagrams authenticate themselves (the mac).
  using handler = std::function<void(std::string datagram)>;

  /// Binds UDP host:port (a numeric address or a name; port 0: any) and
  /// starts the thread. Throws std::system_error if the socket cannot be
  /// created or bound.
  heartbeat_channel(const std::string& host, std::uint16_t port, handler on_datagram);
  ~heartbeat_channel();
  heartbeat_channel(const heartbeat_channel&) = delete;
  heartbeat_channel& operator=(const heartbeat_channel&) = delete;

  /// The bound port.
  std::uint16_t port() const;

  /// Queues one datagram for host:port. Never blocks on the network: names
  /// are resolved on the channel's thread (cached per host), and a datagram
  /// the socket cannot take at once is dropped (heartbeats are periodic; the
  /// next one replaces it). At most 1,024 datagrams wait; more are dropped.
  void send(const std::string& host, std::uint16_t port, std::string datagram);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace skein
