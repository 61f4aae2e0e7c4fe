// Exit statuses in words, restart backoff and restart-request files for the
// launcher's supervision (contract in supervise.hpp).
#include "cli/supervise.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <sys/wait.h>

namespace skein::cli {

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) {
    const int code = WEXITSTATUS(status);
    return code == 0 ? "exited normally (status 0)"
                     : "exited with status " + std::to_string(code);
  }
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    std::string out = "killed by signal " + std::to_string(sig) + " (" + ::strsignal(sig);
    if (WCOREDUMP(status)) out += ", core dumped";
    return out + ")";
  }
  return "stopped with wait status " + std::to_string(status);
}

std::chrono::milliseconds restart_delay(std::chrono::milliseconds first, int n) {
  const std::chrono::milliseconds cap{30000};
  auto d = first;
  for (int i = 1; i < n && d < cap; ++i) d *= 2;
  return std::min(d, cap);
}

std::string restart_request_path(const std::string& data_dir, const std::string& node) {
  return (std::filesystem::path(data_dir) / "restart" / node).string();
}

void request_restart(const std::string& data_dir, const std::string& node) {
  std::filesystem::create_directories(std::filesystem::path(data_dir) / "restart");
  std::ofstream out(restart_request_path(data_dir, node));
  out << "restart requested\n";
  if (!out) throw std::runtime_error("cannot write " + restart_request_path(data_dir, node));
}

bool take_restart_request(const std::string& data_dir, const std::string& node) {
  std::error_code ec;
  return std::filesystem::remove(restart_request_path(data_dir, node), ec);
}

bool restart_requested(const std::string& data_dir, const std::string& node) {
  std::error_code ec;
  return std::filesystem::exists(restart_request_path(data_dir, node), ec);
}

}  // namespace skein::cli
