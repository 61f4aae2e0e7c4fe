// `new NAME [--dir D]`: writes a new application project that builds
// against an installed skein (find_package(skein)): one behaviour (a
// counter named NAME), its main(), a Catch2 test of the behaviour that needs
// no cluster, a CMakeLists.txt and a README. Refuses to overwrite files.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "cli/commands.hpp"

namespace skein::cli {

namespace {

// The templates; every "@NAME@" becomes the project (and kind) name.
constexpr const char* cmake_lists = R"tpl(# @NAME@: a skein application (written by `skein new`).
cmake_minimum_required(VERSION 3.20)
project(@NAME@ LANGUAGES CXX)

find_package(skein 0.1 REQUIRED)   # C++20 and skein's dependencies come with skein::skein

# The behaviour, as a library so that the test links it without main().
add_library(@NAME@_behaviours INTERFACE)
target_include_directories(@NAME@_behaviours INTERFACE ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(@NAME@_behaviours INTERFACE skein::skein)

add_executable(@NAME@ src/main.cpp)
target_link_libraries(@NAME@ PRIVATE @NAME@_behaviours)

option(@NAME@_BUILD_TESTS "build the behaviour tests (needs Catch2 v2)" ON)
if(@NAME@_BUILD_TESTS)
  find_package(Catch2 2 REQUIRED)
  enable_testing()
  add_executable(@NAME@_tests tests/test_@NAME@.cpp)
  target_link_libraries(@NAME@_tests PRIVATE @NAME@_behaviours Catch2::Catch2)
  add_test(NAME @NAME@_tests COMMAND @NAME@_tests)
endif()
)tpl";

constexpr const char* behaviour_hpp = R"tpl(// @NAME@: one integer per session. A client gets {"value":V} when it
// connects; {"op":"add","by":K} adds K and tells every client {"value":V}.
#pragma once

#include <cstdint>

#include <skein/skein.hpp>

struct @NAME@_state {
  std::int64_t value = 0;
  MSGPACK_DEFINE(value);  // the state is checkpointed as msgpack
};

struct @NAME@ {
  using state_type = @NAME@_state;

  void on_open(skein::context<@NAME@_state>& ctx, const skein::client& c) {
    ctx.send(c, {{"value", ctx.state().value}});
  }
  void on_message(skein::context<@NAME@_state>& ctx, const skein::client&,
                  const skein::json& msg) {
    if (!msg.is_object() || msg.value("op", "") != "add" || !msg.contains("by")
        || !msg["by"].is_number_integer())
      throw skein::bad_input("expected {\"op\":\"add\",\"by\":K}");  // before mutating
    ctx.state().value += msg["by"].get<std::int64_t>();
    ctx.broadcast({{"value", ctx.state().value}});
  }
  void on_close(skein::context<@NAME@_state>&, const skein::client&) {}
};
)tpl";

constexpr const char* main_cpp = R"tpl(// @NAME@'s binary: skein's command line with the @NAME@ kind registered.
#include <skein/skein.hpp>

#include "@NAME@.hpp"

int main(int argc, char** argv) {
  skein::behaviour_registry registry;
  registry.add<@NAME@>("@NAME@");
  return skein::main(argc, argv, registry);
}
)tpl";

constexpr const char* test_cpp = R"tpl(// The @NAME@ behaviour, called directly: no node, no cluster.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include "@NAME@.hpp"

TEST_CASE("@NAME@ adds and broadcasts; bad input changes nothing") {
  @NAME@ b;
  @NAME@_state st;
  skein::effects fx;
  std::string id = "s1";
  skein::context<@NAME@_state> ctx{st, fx, id};
  skein::client alice{"c1", {}};

  b.on_open(ctx, alice);
  REQUIRE(fx.outputs.size() == 1);
  CHECK(fx.outputs[0].target == "c1");
  CHECK(fx.outputs[0].data == skein::json{{"value", 0}});

  b.on_message(ctx, alice, {{"op", "add"}, {"by", 5}});
  CHECK(st.value == 5);
  REQUIRE(fx.outputs.size() == 2);
  CHECK(fx.outputs[1].target.empty());  // broadcast
  CHECK(fx.outputs[1].data == skein::json{{"value", 5}});

  CHECK_THROWS_AS(b.on_message(ctx, alice, {{"op", "add"}, {"by", "x"}}), skein::bad_input);
  CHECK(st.value == 5);
}
)tpl";

constexpr const char* readme = R"tpl(# @NAME@

A [skein](https://github.com/) application: one session kind, `@NAME@`
(a counter per session id), in `src/@NAME@.hpp`.

Build (skein installed under PREFIX, e.g. `cmake --install build --prefix PREFIX`
in skein's checkout):

```sh
cmake -S . -B build -DCMAKE_PREFIX_PATH=PREFIX
cmake --build build
ctest --test-dir build          # the behaviour's test, no cluster needed
```

Run a 3-node cluster on this machine and talk to it:

```sh
build/@NAME@ launch --nodes 3 --data data
# ws://127.0.0.1:PORT/ws/@NAME@/any-id  -> {"value":0}; send {"op":"add","by":2}
```

One node at a time (`build/@NAME@ node --help`), configuration files and
environment variables: skein's docs/operations.md.
)tpl";

std::string fill(std::string text, const std::string& name) {
  static const std::string key = "@NAME@";
  for (auto at = text.find(key); at != std::string::npos; at = text.find(key, at + name.size()))
    text.replace(at, key.size(), name);
  return text;
}

}  // namespace

int run_new(const new_args& args) {
  // A C++ identifier, a CMake target name and a skein kind at once.
  if (!std::regex_match(args.name, std::regex("[a-z][a-z0-9_]{0,62}")))
    throw std::invalid_argument("new: NAME must match [a-z][a-z0-9_]* (it names the project, "
                                "the C++ type and the session kind), got '" + args.name + "'");
  namespace fs = std::filesystem;
  const fs::path dir = args.dir.empty() ? fs::path(args.name) : fs::path(args.dir);
  const std::vector<std::pair<fs::path, const char*>> files{
    {"CMakeLists.txt", cmake_lists},
    {fs::path("src") / (args.name + ".hpp"), behaviour_hpp},
    {fs::path("src") / "main.cpp", main_cpp},
    {fs::path("tests") / ("test_" + args.name + ".cpp"), test_cpp},
    {"README.md", readme},
  };
  for (auto& [rel, text] : files)
    if (fs::exists(dir / rel))
      throw std::runtime_error("new: " + (dir / rel).string() + " exists; not overwriting");
  for (auto& [rel, text] : files) {
    fs::create_directories((dir / rel).parent_path());
    std::ofstream out(dir / rel);
    out << fill(text, args.name);
    if (!out) throw std::runtime_error("new: cannot write " + (dir / rel).string());
  }
  std::cout << "wrote " << dir.string() << "/ (CMakeLists.txt, src/, tests/, README.md)\n"
            << "build: cmake -S " << dir.string() << " -B " << (dir / "build").string()
            << " -DCMAKE_PREFIX_PATH=<skein prefix> && cmake --build "
            << (dir / "build").string() << '\n';
  return 0;
}

}  // namespace skein::cli
