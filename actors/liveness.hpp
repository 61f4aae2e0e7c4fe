// Process pause detection (SIGSTOP, a frozen VM, extreme starvation) and the
// node's quorum lease: together, whether this node may release anything.
//
// A paused node may wake up after the cluster declared it down and moved its
// sessions; it must then not release anything. A watchdog thread ticks every
// 100 ms; a tick that comes more than `limit` after the previous one bumps
// the pause generation. A session remembers the generation it started in
// and refuses to release frames once it changed, or while the watchdog
// itself looks stale (the session may run before the watchdog after a wake).
//
// Thread-safety: all functions may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>

namespace skein::liveness {

/// Starts the watchdog (idempotent). `limit`: a gap longer than this is a pause.
void start(std::chrono::milliseconds limit);
/// Stops and joins the watchdog thread (idempotent).
void stop();
/// The number of pauses seen so far.
std::uint64_t generation();
/// True if no pause happened since `gen` and the watchdog ticked recently.
bool unpaused_since(std::uint64_t gen);

/// The end of this node's quorum lease (runtime/quorum.hpp), published by the
/// membership actor at every heartbeat. A node may activate sessions and
/// release outputs only while it holds the lease. Until the first call the
/// lease is held (tools, tests, a node before membership starts).
void set_lease_until(std::chrono::steady_clock::time_point until);
/// True while now < the published lease end.
bool lease_held();

}  // namespace skein::liveness
