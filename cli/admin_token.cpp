// The admin token's file: created (mode 0600, 64 hex digits) by `launch`
// and by a `node` that was given none, read by `node` and `ctl`.
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "cli/commands.hpp"
#include "net/auth.hpp"

namespace skein::cli {

namespace {

/// A Bearer token must be one header-safe word.
void check_token_text(const std::string& token, const std::string& where) {
  for (unsigned char c : token)
    if (c <= 0x20 || c >= 0x7f)
      throw std::runtime_error(where + ": the admin token must be printable ASCII without spaces");
}

}  // namespace

std::string ensure_admin_token_file(const std::string& path) {
  std::filesystem::create_directories(std::filesystem::absolute(path).parent_path());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    auto token = new_admin_token() + "\n";
    bool ok = ::write(fd, token.data(), token.size()) == static_cast<ssize_t>(token.size());
    ok = ::fsync(fd) == 0 && ok;
    ::close(fd);
    if (!ok) throw std::runtime_error("cannot write " + path);
    spdlog::info("admin token written to {} (mode 0600)", path);
  } else if (errno != EEXIST) {
    throw std::runtime_error("cannot create " + path + ": " + std::strerror(errno));
  }
  return read_admin_token_file(path);
}

std::string read_admin_token_file(const std::string& path) {
  auto token = read_secret_file(path);
  check_token_text(token, path);
  warn_if_shared(path);
  return token;
}

void warn_if_shared(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0)
    spdlog::warn("{} is readable by group or others (mode {:o}); chmod 600 it", path, st.st_mode & 0777);
}

std::string ctl_admin_token(const ctl_args& args) {
  if (!args.token_file.empty()) return read_admin_token_file(args.token_file);
  if (const char* env = std::getenv("SKEIN_ADMIN_TOKEN"); env != nullptr && *env != '\0') {
    std::string token = env;
    check_token_text(token, "SKEIN_ADMIN_TOKEN");
    return token;
  }
  if (!args.data.empty()) {
    auto path = (std::filesystem::path(args.data) / "admin.token").string();
    if (std::filesystem::exists(path)) return read_admin_token_file(path);
  }
  return {};
}

}  // namespace skein::cli
