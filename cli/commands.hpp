// The subcommands behind skein::main, one file each.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

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
  std::vector<std::string> kind_options;  // KIND.NAME=VALUE
};
int run_node(const node_args& args, const behaviour_registry& registry);

struct launch_args {
  int nodes = 3;
  std::uint16_t base_port = 0;  // 0: free ports picked at run time
  std::string data = "data";
  std::size_t max_frame = 1 << 20;
  bool sync = false;
  double ready_timeout_s = 60;
  std::vector<std::string> kind_options;  // passed to every node
};
int run_launch(const launch_args& args, const std::string& self_exe);

struct inspect_args {
  std::string data;
  std::string session;  // empty: list every session
  bool json = false;
};
/// Exit codes: 0 fine, 1 error, 4 some record failed to decode (listed).
int run_inspect(const inspect_args& args);

struct replay_args {
  std::string data;
  std::string session;
  std::uint64_t from = 0;  // 0: from the oldest replayable point
  std::uint64_t at = 0;    // 0: to the end of the journal
  bool json = false;
};
/// Exit codes: 0 replay matched the record, 1 error, 3 divergence.
int run_replay(const replay_args& args, const behaviour_registry& registry);

/// GET http://HOST:PORT/TARGET (Beast, synchronous, bounded by timeout_ms).
/// Returns the status code (0 if the request failed) and fills body.
int http_get(const std::string& host, std::uint16_t port, const std::string& target,
             std::string& body, int timeout_ms);

}  // namespace skein::cli
