// Reserved space that lets a node with a full disk open its store (persistence/ballast.hpp).
#include "persistence/ballast.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

namespace skein::persistence {

ballast_result prepare_ballast(const std::filesystem::path& dir) {
  ballast_result r;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  struct statvfs fs {};
  if (::statvfs(dir.c_str(), &fs) != 0) {
    r.problem = std::string("statvfs: ") + std::strerror(errno);
    return r;
  }
  const std::uint64_t total = static_cast<std::uint64_t>(fs.f_blocks) * fs.f_frsize;
  r.free_bytes = static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
  r.bytes = std::clamp<std::uint64_t>(total / 16, 1u << 20, 64u << 20);
  const auto path = dir / ballast_file_name;
  const bool present = std::filesystem::exists(path, ec);
  if (present && r.free_bytes < r.bytes) {
    std::filesystem::remove(path, ec);
    r.action = ec ? ballast_result::kept : ballast_result::released;
    if (ec) r.problem = "cannot delete the ballast: " + ec.message();
    return r;
  }
  if (present) {
    r.action = ballast_result::kept;
    return r;
  }
  if (r.free_bytes < 4 * r.bytes) {
    r.problem = "too little free space for a ballast";
    return r;
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    r.problem = std::string("cannot create the ballast: ") + std::strerror(errno);
    return r;
  }
  int err = ::posix_fallocate(fd, 0, static_cast<off_t>(r.bytes));
  ::close(fd);
  if (err != 0) {
    std::filesystem::remove(path, ec);
    r.problem = std::string("cannot reserve the ballast: ") + std::strerror(err);
    return r;
  }
  r.action = ballast_result::created;
  return r;
}

}  // namespace skein::persistence
