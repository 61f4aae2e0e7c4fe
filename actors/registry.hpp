// Behaviour registry: maps a session kind ("chat") to a factory of type-erased
// behaviour instances. Filled once at start-up, then read-only: safe to read
// from any thread after that.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "actors/instance.hpp"
#include "actors/options.hpp"

namespace skein {

class behaviour_registry {
 public:
  /// Registers Behaviour (see behaviour.hpp) under `kind`. Kinds are
  /// [a-z0-9_-]+; registering a kind twice throws std::invalid_argument.
  template <class Behaviour>
  void add(std::string kind) {
    kind_options opts;
    if constexpr (requires { Behaviour::options(); }) opts = Behaviour::options();
    add_factory(std::move(kind), [] { return make_instance<Behaviour>(); }, opts);
  }

  /// The persistence settings of a registered kind (std::out_of_range if unknown).
  const kind_options& options(std::string_view kind) const;

  /// Applies "KIND.NAME=VALUE" (command line). Throws std::invalid_argument.
  void set_option(const std::string& assignment);

  /// A new instance of `kind` in its default state, or nullptr if unknown.
  std::unique_ptr<behaviour_instance> create(std::string_view kind) const;

  bool contains(std::string_view kind) const;
  std::vector<std::string> kinds() const;

 private:
  using factory = std::unique_ptr<behaviour_instance> (*)();
  struct entry {
    factory make;
    kind_options options;
  };
  void add_factory(std::string kind, factory f, kind_options o);
  std::map<std::string, entry, std::less<>> factories_;
};

}  // namespace skein
