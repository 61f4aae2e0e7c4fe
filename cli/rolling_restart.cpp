// `ctl rolling-restart --data DIR`: restarts every node of the `launch` on
// DIR, one at a time, without losing a session or a client's place.
//
// Per node, in launch.json order: check the whole cluster is healthy (every
// node up and connected to all the others), write the restart request
// (cli/supervise.hpp), POST /admin/drain?node=NAME (the node hands its
// sessions to the others, its clients reconnect elsewhere and resume, then
// it exits 0), wait until the launcher has taken the request (it restarted
// the node), then wait until the whole cluster is healthy again. Each node
// has --timeout seconds for all of that; on a timeout the request is
// withdrawn and the command exits 1, leaving the remaining nodes alone.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/supervise.hpp"

namespace skein::cli {

namespace {

struct launched_node {
  std::string name;
  std::uint16_t http_port = 0;
};

std::vector<launched_node> read_nodes(const std::string& dir) {
  std::ifstream in(std::filesystem::path(dir) / "launch.json");
  if (!in) throw std::runtime_error("rolling-restart: no launch.json in '" + dir + "' (is it a `launch --data` root?)");
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (!j.is_array() || j.empty()) throw std::runtime_error("rolling-restart: bad launch.json in " + dir);
  std::vector<launched_node> out;
  for (auto& n : j) out.push_back({n.at("name").get<std::string>(), n.at("http_port").get<std::uint16_t>()});
  return out;
}

/// Up, and connected to all `peers` other nodes.
bool node_healthy(std::uint16_t port, int peers) {
  std::string body;
  if (http_get("127.0.0.1", port, "/healthz", body, 1000) != 200) return false;
  auto j = nlohmann::json::parse(body, nullptr, false);
  return j.is_object() && j.value("state", "") == "up" && j.value("peers", -1) == peers
         && j.value("peers_connected", -2) == peers;
}

bool cluster_healthy(const std::vector<launched_node>& nodes) {
  for (auto& n : nodes)
    if (!node_healthy(n.http_port, static_cast<int>(nodes.size()) - 1)) return false;
  return true;
}

/// Polls `done` every 100 ms until it holds or `deadline` passes (waiting on
/// other processes, bounded).
template <class Pred>
bool wait_until(std::chrono::steady_clock::time_point deadline, Pred done) {
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace

int run_rolling_restart(const ctl_args& args) {
  if (args.data.empty()) throw std::invalid_argument("ctl rolling-restart --data DIR (the launch's data root)");
  const auto nodes = read_nodes(args.data);
  const auto token = ctl_admin_token(args);
  const auto budget = std::chrono::milliseconds(static_cast<long>(args.timeout_s * 1000));
  for (auto& n : nodes) {
    const auto deadline = std::chrono::steady_clock::now() + budget;
    auto fail = [&](const std::string& why) {
      take_restart_request(args.data, n.name);
      std::cerr << "rolling-restart: node " << n.name << ": " << why << '\n';
      return 1;
    };
    if (!wait_until(deadline, [&] { return cluster_healthy(nodes); }))
      return fail("cluster not healthy before draining it");
    request_restart(args.data, n.name);
    std::string body;
    int status = http_request("POST", "127.0.0.1", n.http_port, "/admin/drain?node=" + n.name, body, 30000, token);
    // No answer (status 0) is normal for a node with nothing to hand off: it
    // may exit before its reply is written. The launcher's restart decides.
    if (status != 0 && (status < 200 || status >= 300))
      return fail("drain answered " + std::to_string(status) + " " + body);
    std::cout << "node " << n.name << " draining" << std::endl;
    if (!wait_until(deadline, [&] { return !restart_requested(args.data, n.name); }))
      return fail("the launcher did not restart it (is `launch --data " + args.data + "` running?)");
    if (!wait_until(deadline, [&] { return cluster_healthy(nodes); }))
      return fail("cluster not healthy after restarting it");
    std::cout << "node " << n.name << " restarted" << std::endl;
  }
  std::cout << "rolling-restart done (" << nodes.size() << " nodes)" << std::endl;
  return 0;
}

}  // namespace skein::cli
