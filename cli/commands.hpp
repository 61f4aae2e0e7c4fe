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
  std::string advertise;     // HOST:PORT others use for HTTP (empty: --listen)
  std::string cluster_advertise;  // HOST:PORT others dial (empty: listen host + --cluster-port)
  std::uint16_t cluster_port = 0;
  bool cluster_port_given = false;  // --cluster-port was set (0 = any free port)
  std::string cluster_listen;     // HOST:PORT the cluster port binds (empty: listen host + cluster_port)
  std::string seeds;         // HOST:PORT,... cluster addresses to join through
  int replicas = 2;
  int failure_timeout_ms = 3000;
  int heartbeat_ms = 500;
  bool heartbeat_udp = true;
  std::string data;          // RocksDB directory
  std::size_t max_frame = 1 << 20;
  std::size_t max_connections = 16384;  // client streams per node
  std::size_t max_sessions = 100000;    // activations per node (0: no cap)
  double max_message_rate = 1000;       // messages/s per client stream (0: no limit)
  double message_burst = 1000;
  bool sync = false;
  std::string rocksdb_options;  // RocksDB option string (persistence/store.hpp)
  std::int64_t idle_flush_ms = 5000;  // node_options::idle_flush (0: off)
  int io_threads = 1;
  std::int64_t ws_idle_timeout_ms = 300000;  // WebSocket keep-alive (server_options::ws_idle_timeout)
  int scheduler_threads = 0;  // CAF scheduler threads (0: one per core)
  std::string scheduler_policy = "stealing";  // stealing | sharing
  int basp_workers = -1;  // CAF middleman.workers (-1: CAF's default)
  bool cluster_lane = true;  // coalesce messages to other nodes (runtime/lane.hpp)
  std::vector<std::string> kind_options;  // KIND.NAME=VALUE
  bool unsafe_skip_fencing = false;  // test-only deliberate safety bug (tests/nemesis)
  std::string jwt_secret_file;       // HS256 key (file bytes less one trailing newline)
  std::string jwt_public_key_file;   // PEM RSA (RS256) or EC P-256 (ES256) public key
  std::string admin_token_file;      // empty: DATA/admin.token, created if missing
  std::string cluster_tls_dir;       // ca.pem, node.pem, node.key: mutual TLS on the cluster port
  std::string tls_cert_file;         // client TLS: PEM certificate chain (with tls_key_file)
  std::string tls_key_file;          // client TLS: PEM private key (with tls_cert_file)
  std::size_t max_connections_per_address = 0;  // client streams per remote address (0: no limit)
};
int run_node(const node_args& args, const behaviour_registry& registry);

struct launch_args {
  int nodes = 3;
  std::uint16_t base_port = 0;  // 0: free ports picked at run time
  std::string data = "data";
  std::size_t max_frame = 1 << 20;
  std::size_t max_connections = 16384;
  std::size_t max_sessions = 100000;
  double max_message_rate = 1000;
  double message_burst = 1000;
  bool sync = false;
  std::string rocksdb_options;  // passed to every node
  std::int64_t idle_flush_ms = 5000;  // passed to every node
  double ready_timeout_s = 60;
  std::vector<std::string> kind_options;  // passed to every node
  int replicas = 2;
  bool heartbeat_udp = true;  // passed to every node
  int scheduler_threads = 0;  // per node; 0: the machine's cores divided among the nodes (at least 1)
  std::string scheduler_policy = "sharing";  // passed to every node (nodes share the cores)
  int basp_workers = -1;  // passed to every node
  bool cluster_lane = true;  // passed to every node
  bool add_node = false;  // start one more node joining the cluster launched on `data`
  int max_restarts = 5;          // crashes in a row before giving up (exit 1)
  int restart_backoff_ms = 500;  // first restart delay; doubles, capped at 30 s
  std::string jwt_secret_file;      // passed to every node
  std::string jwt_public_key_file;  // passed to every node
  std::string admin_token_file;     // passed to every node; empty: DATA/admin.token (created, 0600)
  bool cluster_tls = false;         // make a CA and node certificates in DATA/tls; mutual TLS
  std::string tls_cert_file;        // client TLS, passed to every node (with tls_key_file)
  std::string tls_key_file;         // client TLS, passed to every node (with tls_cert_file)
  std::size_t max_connections_per_address = 0;  // passed to every node
};
int run_launch(const launch_args& args, const std::string& self_exe);

struct inspect_args {
  std::string data;
  std::string session;  // empty: list every session
  bool records = false; // without session: every session's records, not its summary
  bool json = false;
};
/// Exit codes: 0 fine, 1 error, 4 some record failed to decode (listed).
/// `registry`: for the states' field names (behaviour_instance::field_names);
/// a kind it does not know prints its states unnamed.
int run_inspect(const inspect_args& args, const behaviour_registry& registry);

struct replay_args {
  std::string data;
  std::string session;
  std::uint64_t from = 0;  // 0: from the oldest replayable point
  std::uint64_t at = 0;    // 0: to the end of the journal
  bool json = false;
  // Compare the re-executed state after every input with the state hash
  // journaled with it (kind option check_state); an error (exit 1) if no
  // replayed input carries one.
  bool check_state = false;
};
/// Exit codes: 0 replay matched the record, 1 error, 3 divergence.
int run_replay(const replay_args& args, const behaviour_registry& registry);

struct ctl_args {
  std::string node = "http://127.0.0.1:8080";  // any node's base URL
  std::string command;                         // status | drain | move
  std::string name;                            // drain: node name; move: kind/id
  std::string to;                              // move: target node name
  std::string data;                            // rolling-restart: launch data root
  double timeout_s = 120;                      // rolling-restart: per node
  std::string token_file;                      // admin token file (else SKEIN_ADMIN_TOKEN, else DATA/admin.token)
};
/// Exit codes: 0 done, 1 the node answered an error or could not be reached.
int run_ctl(const ctl_args& args);

/// `ctl rolling-restart --data DIR`: drains and restarts each node of the
/// `launch` on DIR in turn (cli/rolling_restart.cpp). 0 done, 1 failed.
int run_rolling_restart(const ctl_args& args);

/// The admin token in `path`, creating the file (0600, a new random token)
/// if it does not exist. Throws std::runtime_error if it cannot.
std::string ensure_admin_token_file(const std::string& path);
/// The admin token in `path` (bytes less one trailing newline; printable
/// ASCII, no spaces). Throws std::runtime_error otherwise.
std::string read_admin_token_file(const std::string& path);
/// Logs a warning if group or others may read `path`.
void warn_if_shared(const std::string& path);
/// ctl's admin token: --token-file, else $SKEIN_ADMIN_TOKEN, else
/// DATA/admin.token when --data is given and it exists, else "".
std::string ctl_admin_token(const ctl_args& args);

struct new_args {
  std::string name;  // project, C++ type and kind name
  std::string dir;   // empty: ./NAME
};
/// Writes the project; 0 done, 1 error (exists, bad name, cannot write).
int run_new(const new_args& args);

/// How http_request reaches a node. `on` false: plain http. `on` true:
/// https, the server's certificate verified (chain and HOST: an IP address
/// or a DNS name) against `ca_file`, or the system's trust store when empty
/// (SSL_CERT_FILE honoured); `verify` false skips that check, which only
/// the launcher's /healthz probe of its own children on loopback does (it
/// sends no secret and trusts no answer beyond "up").
struct http_tls {
  bool on = false;
  bool verify = true;
  std::string ca_file;
};

/// METHOD http(s)://HOST:PORT/TARGET (Beast, synchronous). Returns the
/// status code (0 if the request failed, TLS verification included) and
/// fills body. `bearer` non-empty: sent as Authorization: Bearer BEARER.
int http_request(const std::string& method, const std::string& host, std::uint16_t port,
                 const std::string& target, std::string& body, int timeout_ms,
                 const std::string& bearer = {}, const http_tls& tls = {});
inline int http_get(const std::string& host, std::uint16_t port, const std::string& target,
                    std::string& body, int timeout_ms, const http_tls& tls = {}) {
  return http_request("GET", host, port, target, body, timeout_ms, {}, tls);
}

}  // namespace skein::cli
