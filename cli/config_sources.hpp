// Where `node` options come from besides the command line: a TOML/INI file
// (`--config PATH`, parsed by CLI11's ConfigTOML) and SKEIN_* environment
// variables. Precedence, highest first: command line > environment > file >
// the option's default.
//
// Names: every long option --foo-bar of `node` is
//   - the environment variable SKEIN_FOO_BAR (e.g. SKEIN_CLUSTER_PORT=7001,
//     SKEIN_SYNC=true; a repeatable option takes a comma-separated list:
//     SKEIN_KIND_OPTION=chat.snapshot_every=10,chat.keep_snapshots=3);
//   - the key foo-bar or foo_bar in the file, at the top level or in a
//     [node] table (TOML: `cluster_port = 7001`, `sync = true`,
//     `kind_option = ["chat.snapshot_every=10"]`).
// The top-level --log-level is SKEIN_LOG_LEVEL / log_level likewise.
// Options added to `node` later get both names automatically.
#pragma once

#include <CLI/CLI.hpp>

namespace skein::cli {

/// Adds `--config PATH` to `app` (accepted after `node` too) and the
/// environment names to `app`'s and `node`'s long options. Call after every
/// option is defined and before app.parse(). Errors: an unreadable --config
/// file or a key that names no option fails parse() with CLI::ConfigError /
/// CLI::FileError (exit code 2).
void add_config_sources(CLI::App& app, CLI::App& node);

}  // namespace skein::cli
