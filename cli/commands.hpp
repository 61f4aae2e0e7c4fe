// The subcommands behind skein::main, one file each.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "actors/registry.hpp"

namespace skein::cli {

struct node_args {
  std::string name;
  std::string listen;        // HOST:PORT of the HTTP listener
  std::uint16_t cluster_port = 0;
  std::string peers;         // NAME@HOST:PORT,...
  std::string data;          // RocksDB directory
  std::size_t max_frame = 1 << 20;
  bool sync = false;
  int io_threads = 1;
};
int run_node(const node_args& args, const behaviour_registry& registry);

struct launch_args {
  int nodes = 3;
  std::uint16_t base_port = 0;  // 0: free ports picked at run time
  std::string data = "data";
  std::size_t max_frame = 1 << 20;
  bool sync = false;
  double ready_timeout_s = 60;
};
int run_launch(const launch_args& args, const std::string& self_exe);

/// GET http://HOST:PORT/TARGET (Beast, synchronous, bounded by timeout_ms).
/// Returns the status code (0 if the request failed) and fills body.
int http_get(const std::string& host, std::uint16_t port, const std::string& target,
             std::string& body, int timeout_ms);

}  // namespace skein::cli
