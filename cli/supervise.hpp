// What `launch` needs to supervise its nodes: exit statuses in words, the
// restart backoff, and the restart-request files through which
// `ctl rolling-restart` asks the launcher to start a drained node again.
//
// The channel: `launch --data DIR` restarts a node that crashed (non-zero
// exit or a signal) with exponential backoff; a node that exits 0 (it was
// drained, or stopped with SIGTERM) stays down, unless the file
// DIR/restart/NAME exists when it exits: then the launcher deletes the file
// and starts the node again at once. `ctl rolling-restart` writes that file,
// drains the node, and waits for the file to disappear and the node to be
// healthy. Not thread-safe; the launcher's one thread uses it.
#pragma once

#include <chrono>
#include <string>

namespace skein::cli {

/// A waitpid() status in words: "exited with status 3", "exited normally",
/// "killed by signal 11 (Segmentation fault, core dumped)".
std::string describe_wait_status(int status);

/// Delay before restart number `n` (1-based) of a crashed node: `first`
/// doubled per restart, at most 30 s.
std::chrono::milliseconds restart_delay(std::chrono::milliseconds first, int n);

/// DIR/restart/NAME: the request file for node NAME of the launch on DIR.
std::string restart_request_path(const std::string& data_dir, const std::string& node);

/// Writes the request file (creating DIR/restart). Throws std::runtime_error.
void request_restart(const std::string& data_dir, const std::string& node);

/// True when a request file for `node` existed; deletes it.
bool take_restart_request(const std::string& data_dir, const std::string& node);

/// True while the request file for `node` exists (not yet taken).
bool restart_requested(const std::string& data_dir, const std::string& node);

}  // namespace skein::cli
