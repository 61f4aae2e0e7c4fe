// skein-rollback-bench: what the handler rollback copy costs per input.
//
// Before every handler the runtime copies the session state, so that a
// std::exception from the handler leaves the state as it was
// (actors/instance.hpp, behaviour_model::rollback). This bench measures, for
// the demo kinds at the state sizes they reach, the time of one input through
// behaviour_instance::handle (copy included) and of the state copy alone, so
// the copy's share of the handler path is known. It prints one JSON object
// per line: {"kind","state","state_bytes","handle_ns","copy_ns","copy_share"}.
// The handler path is one part of an input: a WebSocket input also pays the
// frame, the journal batch, RocksDB and replication (tens of µs; see
// docs/benchmarks.md), which the note beside the figures compares against.
//
//   build/bin/skein-rollback-bench [--inputs N]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <CLI/CLI.hpp>
#include <msgpack.hpp>

#include "actors/instance.hpp"
#include "examples/chat/chat.hpp"
#include "examples/counter/counter.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

double ns_per(clock_type::duration d, std::size_t n) {
  return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count())
         / static_cast<double>(n);
}

template <class State>
std::size_t packed_size(const State& s) {
  msgpack::sbuffer buf;
  msgpack::pack(buf, s);
  return buf.size();
}

/// Runs `inputs` messages through `model` (copy included), then as many
/// copies of its state; prints the line.
template <class Behaviour>
void measure(const char* kind, const char* label, skein::behaviour_model<Behaviour>& model,
             const skein::client& c, const skein::json& msg, std::size_t inputs) {
  skein::effects fx;
  // Warm up: the state reaches its steady size (chat keeps the last 50).
  for (int i = 0; i < 200; ++i) {
    fx = {};
    model.handle(skein::input_kind::message, c, msg, fx, "bench");
  }
  auto t0 = clock_type::now();
  for (std::size_t i = 0; i < inputs; ++i) {
    fx = {};
    model.handle(skein::input_kind::message, c, msg, fx, "bench");
  }
  auto handle = clock_type::now() - t0;
  std::size_t sink = 0;
  t0 = clock_type::now();
  for (std::size_t i = 0; i < inputs; ++i) {
    auto copy = model.state();  // what rollback's `before = live` does
    sink += sizeof(copy);
    asm volatile("" : : "r"(&copy) : "memory");
  }
  auto copy = clock_type::now() - t0;
  const double h = ns_per(handle, inputs), k = ns_per(copy, inputs);
  std::printf(
    "{\"kind\":\"%s\",\"state\":\"%s\",\"state_bytes\":%zu,\"handle_ns\":%.0f,\"copy_ns\":%.0f,"
    "\"copy_share\":%.3f}\n",
    kind, label, packed_size(model.state()), h, k, k / h);
  if (sink == 0) std::abort();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"skein-rollback-bench: the cost of the handler rollback copy"};
  std::size_t inputs = 200000;
  app.add_option("--inputs", inputs, "inputs per measurement")->check(CLI::Range(1000, 100000000));
  CLI11_PARSE(app, argc, argv);

  skein::client c{"c1", {{"user", "ann"}}};
  {
    skein::behaviour_model<examples::counter> m;
    measure("counter", "int64", m, c, skein::json{{"op", "add"}, {"by", 1}}, inputs);
  }
  for (std::size_t text : {16, 256, 4096}) {
    skein::behaviour_model<examples::chat> m;
    const std::string label = "50 messages of " + std::to_string(text) + " B";
    measure("chat", label.c_str(), m, c,
            skein::json{{"type", "say"}, {"text", std::string(text, 'x')}}, inputs / (text / 16));
  }
  return 0;
}
