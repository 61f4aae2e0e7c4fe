// SKEIN_* environment variables and the --config file for `node` options
// (contract in config_sources.hpp). CLI11 reads the file before the
// environment and lets the first value an option receives win, which would
// put the file above the environment; so the file reader here returns the
// environment's values first and the file's after them, and CLI11 keeps the
// command line above both (it fills only options still empty).
#include "cli/config_sources.hpp"

#include <cctype>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace skein::cli {

namespace {

std::string env_name(const std::string& long_name) {
  std::string out = "SKEIN_";
  for (char c : long_name)
    out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

/// Long name of an option ("cluster-port"), or empty for positionals.
std::string long_name(const CLI::Option& opt) {
  auto names = opt.get_lnames();
  return names.empty() ? std::string{} : names.front();
}

class env_then_file : public CLI::ConfigTOML {
 public:
  env_then_file(const CLI::App& app, const CLI::App& node) : app_(app), node_(node) {}

  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
    std::vector<CLI::ConfigItem> items;
    add_env(items, app_, {});
    add_env(items, node_, {node_.get_name()});
    for (auto item : CLI::ConfigTOML::from_config(input)) {
      for (auto& c : item.name)
        if (c == '_') c = '-';
      // Top-level keys belong to `node` unless the top level has them.
      if (item.parents.empty() && item.name != "++" && item.name != "--"
          && app_.get_option_no_throw("--" + item.name) == nullptr)
        item.parents = {node_.get_name()};
      items.push_back(std::move(item));
    }
    return items;
  }

 private:
  static void add_env(std::vector<CLI::ConfigItem>& items, const CLI::App& app,
                      const std::vector<std::string>& parents) {
    for (const CLI::Option* opt : app.get_options()) {
      auto name = long_name(*opt);
      if (name.empty() || name == "help" || name == "config") continue;
      const char* value = std::getenv(env_name(name).c_str());
      if (value == nullptr || *value == '\0') continue;
      CLI::ConfigItem item;
      item.parents = parents;
      item.name = name;
      std::string v = value;
      if (opt->get_expected_max() > 1) {  // repeatable: comma-separated
        for (std::size_t at = 0; at <= v.size();) {
          auto comma = v.find(',', at);
          if (comma == std::string::npos) comma = v.size();
          if (comma > at) item.inputs.push_back(v.substr(at, comma - at));
          at = comma + 1;
        }
      } else {
        item.inputs.push_back(v);
      }
      items.push_back(std::move(item));
    }
  }

  const CLI::App& app_;
  const CLI::App& node_;
};

void set_env_names(CLI::App& app) {
  for (CLI::Option* opt : app.get_options()) {
    auto name = long_name(*opt);
    if (name.empty() || name == "help" || name == "config") continue;
    opt->envname(env_name(name));
    if (opt->get_expected_max() > 1) opt->delimiter(',');
  }
}

}  // namespace

void add_config_sources(CLI::App& app, CLI::App& node) {
  // Without --config, CLI11's own envname handling applies (command line >
  // environment > default); with it, env_then_file above.
  set_env_names(app);
  set_env_names(node);
  app.set_config("--config", "",
                 "TOML/INI file with node options (keys: the long option names; "
                 "precedence: command line > SKEIN_* environment > file > default)")
    ->envname("SKEIN_CONFIG");
  app.config_formatter(std::make_shared<env_then_file>(app, node));
  app.allow_config_extras(CLI::config_extras_mode::error);  // a misspelt key is an error
  node.fallthrough();  // `node --config PATH` reaches the top-level option
}

}  // namespace skein::cli
