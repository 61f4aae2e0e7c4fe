// A node whose host actor stops while it runs exits (70) instead of living
// on as a zombie that still answers /healthz (runtime/node.cpp). The node
// runs in a forked child, since the exit is the behaviour under test.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include <caf/all.hpp>

#include "actors/registry.hpp"
#include "examples/counter/counter.hpp"
#include "runtime/node.hpp"

using namespace skein;
namespace fs = std::filesystem;

namespace {

/// Forks; the child starts a node, kills its directory actor (or not) and
/// waits to be ended by it (exit 0 if nothing ends it). Returns the child's
/// wait status.
int run_child(const fs::path& data, bool kill_directory) {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    try {
      behaviour_registry registry;
      registry.add<examples::counter>("counter");
      node_options o;
      o.name = "solo";
      o.data_dir = data;
      o.scheduler_threads = 2;
      node n(o, registry);
      if (kill_directory) caf::anon_send_exit(n.host(), caf::exit_reason::kill);
      // Bounded: the exit ends a killed node at once; a calm one is given 2 s.
      std::this_thread::sleep_for(std::chrono::seconds(kill_directory ? 10 : 2));
      n.stop();
    } catch (...) {
      ::_exit(3);
    }
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

}  // namespace

TEST_CASE("a node whose directory actor dies exits 70 and a node left alone does not", "[node]") {
  auto base = fs::temp_directory_path() / ("skein-death-" + std::to_string(std::random_device{}()));
  auto killed = run_child(base / "a", true);
  CHECK(WIFEXITED(killed));
  CHECK(WEXITSTATUS(killed) == 70);
  auto calm = run_child(base / "b", false);
  CHECK(WIFEXITED(calm));
  CHECK(WEXITSTATUS(calm) == 0);
  fs::remove_all(base);
}
