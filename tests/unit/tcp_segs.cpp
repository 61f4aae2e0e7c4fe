// The number of TCP segments carrying data a socket has sent (Linux's
// tcp_info.tcpi_data_segs_out), for test_cork.cpp. In its own file: the
// kernel's <linux/tcp.h>, which has the field, cannot be included beside
// glibc's <netinet/tcp.h>, which Asio includes.
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>

std::uint32_t tcp_data_segs_out(int fd) {
  tcp_info ti{};
  socklen_t len = sizeof ti;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) return 0;
  return ti.tcpi_data_segs_out;
}
