// A TCP reachability probe with a deadline, run before a cluster dial.
//
// CAF 0.17's middleman actor connects with a blocking connect(2) in a
// detached actor (libcaf_io/src/io/middleman_actor_impl.cpp), one dial at a
// time. A dial to a host whose packets are dropped (a partition, a host gone
// without a RST) blocks it for the kernel's SYN retries (about 127 s with
// tcp_syn_retries = 6), and every later dial of the node, to any peer, waits
// behind it: after a partition heals the node stays cut off for up to two
// minutes. Probing first with a non-blocking connect and a deadline keeps
// unreachable hosts away from the middleman; the probe connection is closed
// at once (the peer's accept sees a connection that ends before BASP's
// handshake, which CAF drops).
//
// Thread-safety: reentrant; it blocks the calling thread for up to `timeout`
// (call it from a detached actor or thread, never from a scheduled actor).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace skein {

/// True if a TCP connection to host:port (a numeric address or a name,
/// resolved with getaddrinfo) completes within `timeout`; false on refusal,
/// unreachability, a resolver error or the deadline.
bool tcp_probe(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout);

}  // namespace skein
