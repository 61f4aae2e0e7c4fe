// Per-kind persistence settings. A behaviour may declare defaults with
//   static skein::kind_options options() { skein::kind_options o; o.snapshot_every = 10; return o; }
// and the command line overrides them (`--kind-option chat.snapshot_every=10`).
#pragma once

#include <cstdint>
#include <string>

namespace skein {

/// When outputs are released to clients.
enum class durability {
  none,   // at once, before the input's journal entry is committed
  local,  // after the journal entry is committed to this node's RocksDB (output gate)
  replicated,  // after it is committed here and on every live replica
};

struct kind_options {
  /// Take a snapshot after this many inputs since the last one. >= 1.
  std::uint32_t snapshot_every = 100;
  /// ...or when an input arrives this many ms after the last snapshot.
  std::uint32_t snapshot_interval_ms = 5000;
  /// Snapshots kept per session; the journal is kept from the oldest one on.
  std::uint32_t keep_snapshots = 2;
  /// Outbound events kept beyond that, for clients that resume (at least).
  std::uint32_t outbox_keep = 256;
  durability durable = durability::local;
};

/// Sets one option by name ("snapshot_every", "snapshot_interval_ms",
/// "keep_snapshots", "outbox_keep", "durability" = none|local|replicated). Throws
/// std::invalid_argument naming the option or value on error.
void set_kind_option(kind_options& o, const std::string& name, const std::string& value);

}  // namespace skein
