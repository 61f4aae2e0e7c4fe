// Making a local cluster's CA and node certificates with openssl (cli/cluster_certs.hpp).
#include "cli/cluster_certs.hpp"

#include <cstdlib>
#include <stdexcept>

#include <sys/stat.h>

namespace skein::cli {

namespace {

namespace fs = std::filesystem;

/// Single-quoted for /bin/sh.
std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

void run(const std::string& command) {
  const std::string line = command + " >/dev/null 2>&1";
  if (std::system(line.c_str()) != 0)
    throw std::runtime_error("making cluster certificates failed: " + command);
}

}  // namespace

void ensure_cluster_certs(const fs::path& dir, const std::vector<std::string>& nodes) {
  fs::create_directories(dir);
  const auto ca_pem = (dir / "ca.pem").string(), ca_key = (dir / "ca.key").string();
  if (!fs::exists(ca_pem) || !fs::exists(ca_key)) {
    run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650"
        " -subj '/CN=skein local cluster CA' -keyout " + quoted(ca_key) + " -out " + quoted(ca_pem));
    ::chmod(ca_key.c_str(), 0600);
  }
  for (auto& name : nodes) {
    const auto d = dir / name;
    fs::create_directories(d);
    const auto key = (d / "node.key").string(), pem = (d / "node.pem").string(),
               csr = (d / "node.csr").string();
    if (!fs::exists(key) || !fs::exists(pem)) {
      run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj " + quoted("/CN=" + name)
          + " -keyout " + quoted(key) + " -out " + quoted(csr));
      run("openssl x509 -req -days 3650 -in " + quoted(csr) + " -CA " + quoted(ca_pem) + " -CAkey "
          + quoted(ca_key) + " -CAcreateserial -out " + quoted(pem));
      fs::remove(csr);
      ::chmod(key.c_str(), 0600);
    }
    fs::copy_file(ca_pem, d / "ca.pem", fs::copy_options::overwrite_existing);
  }
}

}  // namespace skein::cli
