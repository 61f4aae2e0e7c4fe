// A throwaway certificate authority and node certificates for a local
// cluster's mutual TLS (`launch --cluster-tls`), made with the `openssl`
// command-line tool (Debian package `openssl`).
//
// Layout under `dir`: ca.pem and ca.key (the CA, EC P-256, 10 years), and per
// node NAME/ca.pem, NAME/node.pem (CN=NAME, signed by the CA), NAME/node.key
// (mode 0600): what `node --cluster-tls-dir dir/NAME` expects. Existing files
// are kept, so a relaunch on the same data keeps its CA.
//
// Throws std::runtime_error naming the command that failed.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace skein::cli {

void ensure_cluster_certs(const std::filesystem::path& dir, const std::vector<std::string>& nodes);

}  // namespace skein::cli
