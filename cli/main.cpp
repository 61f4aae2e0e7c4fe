// skein::main: parses the command line and runs a subcommand (cli/main.hpp).
#include "cli/main.hpp"

#include <exception>
#include <iostream>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cli/commands.hpp"
#include "cli/config_sources.hpp"
#include "runtime/membership.hpp"

namespace skein {

int main(int argc, char** argv, const behaviour_registry& base_registry) {
  behaviour_registry registry = base_registry;  // command-line kind options apply to a copy
  spdlog::set_default_logger(spdlog::stderr_color_mt("skein"));
  CLI::App app{"skein: stateful realtime sessions as actors across a cluster"};
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|off")
    ->envname("SKEIN_LOG_LEVEL")  // nodes started by `launch` inherit it
    ->capture_default_str();

  cli::node_args node;
  auto* node_cmd = app.add_subcommand("node", "run one node");
  node_cmd->add_option("--name", node.name,
                       "unique node name (its placement identity): 1-128 of [A-Za-z0-9._-]")
    ->required()
    ->check(CLI::Validator(
        [](std::string& s) {
          return membership::valid_name(s) ? std::string()
                                           : "a node name is 1-128 of [A-Za-z0-9._-]";
        },
        "NAME"));
  node_cmd->add_option("--listen", node.listen, "HTTP listen address HOST:PORT")->required();
  auto* cluster_port_opt = node_cmd->add_option("--cluster-port", node.cluster_port,
                       "cluster (CAF middleman) port, bound on --listen's host");
  node_cmd->add_option("--cluster-listen", node.cluster_listen,
                       "HOST:PORT the cluster port binds (instead of --listen's host and "
                       "--cluster-port; one of the two is required)");
  node_cmd->add_option("--advertise", node.advertise,
                       "HOST:PORT other nodes and clients use for HTTP (default: --listen)");
  node_cmd->add_option("--cluster-advertise", node.cluster_advertise,
                       "HOST:PORT other nodes dial for the cluster port "
                       "(default: --listen's host and --cluster-port)");
  node_cmd->add_flag("--unsafe-skip-fencing", node.unsafe_skip_fencing,
                     "TEST ONLY: break safety on purpose (no claims, no epoch fencing) so that "
                     "tests/nemesis can prove its checker sees the anomalies");
  node_cmd->add_option("--seeds", node.seeds,
                       "cluster addresses HOST:PORT,... to join through (none: start a cluster)");
  node_cmd->add_option("--replicas", node.replicas, "R: owner + R-1 replicas of every session")
    ->capture_default_str()->check(CLI::Range(1, 7));
  node_cmd->add_option("--failure-timeout", node.failure_timeout_ms,
                       "ms of silence before a member is declared down")->capture_default_str();
  node_cmd->add_option("--heartbeat", node.heartbeat_ms, "ms between heartbeats")
    ->capture_default_str();
  node_cmd->add_option("--heartbeat-udp", node.heartbeat_udp,
                       "also send heartbeats over UDP on the cluster port's number, beside BASP, "
                       "so that leases never wait behind bulk state (false: BASP only)")
    ->capture_default_str();
  node_cmd->add_option("--scheduler-threads", node.scheduler_threads,
                       "threads of the actor scheduler (CAF scheduler.max-threads); 0: one per "
                       "core. Several nodes on one machine run best with the cores divided among "
                       "them (what `launch` does)")
    ->capture_default_str()->check(CLI::Range(0, 256));
  node_cmd->add_option("--scheduler-policy", node.scheduler_policy,
                       "stealing (a queue per thread; idle threads poll, then sleep) or sharing "
                       "(one queue; idle threads block on it)")
    ->capture_default_str()->check(CLI::IsMember({"stealing", "sharing"}));
  node_cmd->add_option("--basp-workers", node.basp_workers,
                       "threads that deserialize inbound cluster messages (CAF middleman.workers); "
                       "-1: CAF's default, min(3, cores/4)+1; 0: the cluster I/O thread does it")
    ->capture_default_str()->check(CLI::Range(-1, 64));
  node_cmd->add_option("--cluster-lane", node.cluster_lane,
                       "send what this node's sessions and replica send to another node through "
                       "the outbound lane, one cluster message per node and turn (false: each "
                       "message on its own)")
    ->capture_default_str();
  node_cmd->add_option("--data", node.data, "RocksDB data directory")->required();
  node_cmd->add_option("--max-frame", node.max_frame, "largest inbound WebSocket message, bytes")
    ->capture_default_str();
  node_cmd->add_option("--cluster-tls-dir", node.cluster_tls_dir,
                       "mutual TLS on the cluster port: DIR/ca.pem, DIR/node.pem, DIR/node.key "
                       "(none: plaintext BASP, for development)");
  node_cmd->add_option("--max-connections", node.max_connections,
                       "client streams (/ws, /sse) this node holds; more: 503")->capture_default_str();
  node_cmd->add_option("--max-sessions", node.max_sessions,
                       "activations this node holds; over it the oldest idle ones are passivated, "
                       "and with none idle a new activation is refused (close 1013) (0: no cap)")
    ->capture_default_str();
  node_cmd->add_option("--max-connections-per-address", node.max_connections_per_address,
                       "client streams (/ws, /sse) one remote IP address may hold on this node; "
                       "more: 503 (0: no limit; proxies and load generators share addresses)")
    ->capture_default_str();
  node_cmd->add_option("--tls-cert", node.tls_cert_file,
                       "PEM certificate chain (leaf first): serve https and wss on --listen "
                       "(needs --tls-key; without both: plain http, for loopback and development)");
  node_cmd->add_option("--tls-key", node.tls_key_file, "PEM private key of --tls-cert");
  node_cmd->add_option("--max-message-rate", node.max_message_rate,
                       "messages/s one client stream may send beyond the burst; more: 1008 (0: off)")
    ->capture_default_str();
  node_cmd->add_option("--message-burst", node.message_burst,
                       "messages one client stream may send at once")->capture_default_str();
  node_cmd->add_flag("--sync", node.sync, "fsync every group commit");
  node_cmd->add_option("--rocksdb-options", node.rocksdb_options,
                       "RocksDB options as NAME=VALUE;... (RocksDB's option-string syntax), over "
                       "skein's own: DB options to the store, column-family options to every "
                       "column family; settings durability rests on are refused");
  node_cmd->add_option("--idle-flush-ms", node.idle_flush_ms,
                       "ms with no store write after which memtables of 1 MiB or more are "
                       "flushed and their memory returned to the OS (0: off)")
    ->check(CLI::Range(std::int64_t{0}, std::int64_t{86400000}))
    ->capture_default_str();
  node_cmd->add_option("--io-threads", node.io_threads, "HTTP io threads")->capture_default_str();
  node_cmd->add_option("--ws-idle-timeout", node.ws_idle_timeout_ms,
                       "ms: a WebSocket silent for half of this gets a ping, silent for all of it is closed")
    ->check(CLI::Range(std::int64_t{100}, std::int64_t{86400000}))
    ->capture_default_str();
  node_cmd->add_option("--jwt-secret-file", node.jwt_secret_file,
                       "HS256 key for client tokens (the file's bytes less one trailing newline); "
                       "with it /ws, /sse, /mcp need a JWT");
  node_cmd->add_option("--jwt-public-key-file", node.jwt_public_key_file,
                       "PEM public key for client tokens: RSA (RS256) or EC P-256 (ES256); "
                       "with it /ws, /sse, /mcp need a JWT");
  node_cmd->add_option("--admin-token-file", node.admin_token_file,
                       "file holding the Bearer token /admin/* requires "
                       "(default: DATA/admin.token, created with mode 0600 if missing)");
  bool print_config = false;
  node_cmd->add_flag("--print-config", print_config,
                     "print the effective node options (command line, SKEIN_* environment, "
                     "--config file, defaults) as a TOML config file and exit")
    ->configurable(false);
  node_cmd->add_option("--kind-option", node.kind_options,
                       "KIND.NAME=VALUE: snapshot_every, snapshot_interval_ms, keep_snapshots, "
                       "outbox_keep, durability=none|async|local|replicated (repeatable)");

  cli::launch_args launch;
  auto* launch_cmd = app.add_subcommand("launch", "start N local nodes and wait for Ctrl-C");
  launch_cmd->add_option("--nodes", launch.nodes, "how many nodes")->capture_default_str()
    ->check(CLI::Range(1, 64));
  launch_cmd->add_option("--base-port", launch.base_port,
                         "node i (from 0) gets HTTP port P+2i and cluster port P+2i+1; "
                         "default: free ports");
  launch_cmd->add_option("--data", launch.data, "data root; node nI uses DIR/nI")
    ->capture_default_str();
  launch_cmd->add_option("--max-frame", launch.max_frame, "passed to every node")
    ->capture_default_str();
  launch_cmd->add_flag("--cluster-tls", launch.cluster_tls,
                       "make a throwaway CA and node certificates in DATA/tls and run the cluster "
                       "port with mutual TLS");
  launch_cmd->add_option("--max-connections", launch.max_connections, "passed to every node")
    ->capture_default_str();
  launch_cmd->add_option("--max-sessions", launch.max_sessions, "passed to every node")
    ->capture_default_str();
  launch_cmd->add_option("--max-connections-per-address", launch.max_connections_per_address,
                         "passed to every node")->capture_default_str();
  launch_cmd->add_option("--tls-cert", launch.tls_cert_file,
                         "client TLS (https, wss), passed to every node; needs --tls-key");
  launch_cmd->add_option("--tls-key", launch.tls_key_file, "passed to every node with --tls-cert");
  launch_cmd->add_option("--max-message-rate", launch.max_message_rate, "passed to every node")
    ->capture_default_str();
  launch_cmd->add_option("--message-burst", launch.message_burst, "passed to every node")
    ->capture_default_str();
  launch_cmd->add_flag("--sync", launch.sync, "passed to every node");
  launch_cmd->add_option("--rocksdb-options", launch.rocksdb_options, "passed to every node");
  launch_cmd->add_option("--idle-flush-ms", launch.idle_flush_ms, "passed to every node")
    ->check(CLI::Range(std::int64_t{0}, std::int64_t{86400000}))
    ->capture_default_str();
  launch_cmd->add_option("--ready-timeout", launch.ready_timeout_s, "seconds to wait for health")
    ->capture_default_str();
  launch_cmd->add_option("--kind-option", launch.kind_options, "passed to every node (repeatable)");
  launch_cmd->add_option("--replicas", launch.replicas, "passed to every node")->capture_default_str();
  launch_cmd->add_option("--heartbeat-udp", launch.heartbeat_udp, "passed to every node")
    ->capture_default_str();
  launch_cmd->add_option("--scheduler-threads", launch.scheduler_threads,
                         "actor scheduler threads per node; 0: this machine's cores divided among "
                         "the nodes, at least 1")
    ->capture_default_str()->check(CLI::Range(0, 256));
  launch_cmd->add_option("--scheduler-policy", launch.scheduler_policy,
                         "passed to every node; sharing by default here: idle threads block "
                         "instead of polling, which the other nodes on these cores would pay for")
    ->capture_default_str()->check(CLI::IsMember({"stealing", "sharing"}));
  launch_cmd->add_option("--basp-workers", launch.basp_workers, "passed to every node")
    ->capture_default_str()->check(CLI::Range(-1, 64));
  launch_cmd->add_option("--cluster-lane", launch.cluster_lane, "passed to every node")
    ->capture_default_str();
  launch_cmd->add_flag("--add-node", launch.add_node,
                       "start one more node that joins the cluster launched on --data");
  launch_cmd->add_option("--max-restarts", launch.max_restarts,
                         "restarts of a crashed node in a row (a node up 30 s resets its count) "
                         "before the launcher stops everything and exits 1; 0: never restart a crashed "
                         "node (the others keep running)")->capture_default_str();
  launch_cmd->add_option("--restart-backoff", launch.restart_backoff_ms,
                         "ms before the first restart of a crashed node; doubles per restart, "
                         "at most 30 s")->capture_default_str();

  launch_cmd->add_option("--jwt-secret-file", launch.jwt_secret_file, "passed to every node");
  launch_cmd->add_option("--jwt-public-key-file", launch.jwt_public_key_file, "passed to every node");
  launch_cmd->add_option("--admin-token-file", launch.admin_token_file,
                         "passed to every node (default: DATA/admin.token, created with mode 0600 "
                         "if missing)");

  cli::ctl_args ctl;
  auto* ctl_cmd = app.add_subcommand("ctl", "talk to a running cluster");
  ctl_cmd->add_option("--node", ctl.node, "any node's base URL")->capture_default_str();
  ctl_cmd->add_option("command", ctl.command,
                      "status | drain NAME | move kind/id --to NAME | rolling-restart --data DIR")
    ->required()->check(CLI::IsMember({"status", "drain", "move", "rolling-restart"}));
  ctl_cmd->add_option("name", ctl.name, "drain: node name; move: kind/id");
  ctl_cmd->add_option("--to", ctl.to, "move: target node");
  ctl_cmd->add_option("--data", ctl.data,
                      "the data root of a running `launch` (rolling-restart: its launch.json; "
                      "every command: its admin.token)");
  ctl_cmd->add_option("--token-file", ctl.token_file,
                      "file with the admin token (default: $SKEIN_ADMIN_TOKEN, else "
                      "DATA/admin.token with --data)");
  ctl_cmd->add_option("--timeout", ctl.timeout_s,
                      "rolling-restart: seconds each node may take to drain, restart and be healthy")
    ->capture_default_str();

  cli::new_args new_project;
  auto* new_cmd = app.add_subcommand("new", "write a new application project (CMake, one "
                                            "behaviour, its test, README) that uses skein");
  new_cmd->add_option("name", new_project.name, "project and session kind name, [a-z][a-z0-9_]*")
    ->required();
  new_cmd->add_option("--dir", new_project.dir, "where to write it (default: ./NAME)");

  cli::inspect_args inspect;
  auto* inspect_cmd = app.add_subcommand("inspect", "list a data dir's sessions or one's records");
  inspect_cmd->add_option("--data", inspect.data, "a node's RocksDB directory")->required();
  inspect_cmd->add_option("--session", inspect.session, "kind/id: print its records");
  inspect_cmd->add_flag("--records", inspect.records,
                       "without --session: every session's records (as --session prints them)");
  inspect_cmd->add_flag("--json", inspect.json, "one JSON object per line");

  cli::replay_args replay;
  auto* replay_cmd = app.add_subcommand("replay", "re-execute a session's journal, step by step");
  replay_cmd->add_option("--data", replay.data, "a node's RocksDB directory")->required();
  replay_cmd->add_option("--session", replay.session, "kind/id")->required();
  replay_cmd->add_option("--from", replay.from, "first journal seq to replay (from the snapshot before it)");
  replay_cmd->add_option("--at", replay.at, "stop after this journal seq");
  replay_cmd->add_flag("--json", replay.json, "one JSON object per step");
  replay_cmd->add_flag("--check-state", replay.check_state,
                       "compare the state after each input with the hash journaled with it "
                       "(kind option check_state=on); the first difference is a divergence");

  cli::add_config_sources(app, *node_cmd);  // --config FILE, SKEIN_* environment

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  spdlog::set_level(spdlog::level::from_str(log_level));
  try {
    if (*node_cmd && print_config) {
      std::cout << node_cmd->config_to_str(true, false);
      return 0;
    }
    if (*node_cmd) {
      for (auto& o : node.kind_options)
        if (!o.empty()) registry.set_option(o);  // "" : an empty list in a config file
      node.cluster_port_given = cluster_port_opt->count() > 0;
      // Each line names its node: `launch` merges every node's stderr into
      // one stream, and a failed cluster test reads it back.
      std::string name;
      for (char c : node.name) name += c == '%' ? std::string("%%") : std::string(1, c);
      spdlog::set_pattern("[%Y-%m-%d %H:%M:%S.%e] [" + name + "] [%^%l%$] %v");
      return cli::run_node(node, registry);
    }
    if (*inspect_cmd) return cli::run_inspect(inspect, registry);
    if (*ctl_cmd) return cli::run_ctl(ctl);
    if (*replay_cmd) return cli::run_replay(replay, registry);
    if (*launch_cmd) return cli::run_launch(launch, "/proc/self/exe");
    if (*new_cmd) return cli::run_new(new_project);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  return 2;
}

}  // namespace skein
