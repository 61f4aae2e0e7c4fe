// skein-store-bench: the store's CPU per input on one thread, without the
// cluster around it.
//
// The rtt benchmark's rounds move by tens of percent on this shared machine,
// which hides a RocksDB setting worth a few µs a message. This writes the
// batches a durable session writes per input (poison guard on, as the demo
// kinds), interleaved over many sessions and grouped as the committer groups
// them at the peak, straight into a store (persistence/store.hpp), and
// reports CPU time per input: the writing thread's (what the committer
// thread pays) and the process's (RocksDB's flushes and compactions too).
//
// Per input of session s with journal seq n and event seq e:
//   - pending: put journal (s, n), `--pending-bytes` value;
//   - handled: put journal (s, n), `--handled-bytes`; put outbox (s, e),
//     `--event-bytes`;
//   - every `--snapshot-every` inputs of a session: a snapshot
//     (`--state-bytes`) and the retention of actors/session_gate.cpp: the
//     snapshot that falls out of the 2 kept, the journal up to the older
//     kept snapshot and the outbox below e - 256, each range from where the
//     session's previous trim ended (stop 56; before, every range started
//     at seq 0 and a session's trims slowed as it aged, unlike skein's).
// A group takes `--group` batches in turn from sessions picked round-robin
// with a stride (so neighbours in a group are not neighbours in key order),
// as the committer's queue holds batches of many sessions at once.
//
//   skein-store-bench [--sessions 1000] [--inputs 200000] [--group 40]
//                     [--rocksdb-options "..."] [--no-hints] [--dir DIR]
//                     [--pending same|after|off]
//
// --pending: where the pending record goes relative to the handled one.
// `same` (default, what skein writes): the handled record rewrites the
// pending record's journal key, so it sorts before it in the memtable
// (RocksDB orders a key's versions newest first). `after`: the handled
// record goes under a key of its own just after the pending one (journal
// seq n is written as key seq 2n pending, 2n + 1 handled), so every insert
// of a session ascends; a measure of what that would cost, not a format
// skein reads (stop 56: it costs no less than `same`, so the newest-first
// rewrite does not defeat the insert hint). `off`: no pending record
// (poison guard off).
//
// Output: "inputs N sessions S group G: writer X µs/input, process Y
// µs/input, Z inputs/s (wall)", then the time to open the store again with
// its WAL to replay (what a node's restart pays for its store). The directory (a fresh one under
// /tmp unless --dir) is removed at the end.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <ctime>
#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

#include "persistence/keys.hpp"
#include "persistence/store.hpp"
#include "persistence/write_batch.hpp"

namespace {

using skein::persistence::column;
using skein::persistence::seq_key;

double cpu_seconds(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct session {
  std::string key;
  std::uint64_t journal = 0, events = 0, since_snapshot = 0;
  std::uint64_t snap_old = 0, snap_new = 0;  // journal seqs of the 2 kept snapshots
  std::uint64_t journal_trimmed = 0, outbox_trimmed = 0;  // where the next trims start
  bool pending_next = true;                  // next batch: the pending record
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"skein-store-bench: the store's CPU per input (see the file's header)"};
  std::size_t sessions = 1000, inputs = 200000, group = 40, pending_bytes = 160,
              handled_bytes = 220, event_bytes = 130, state_bytes = 600, snapshot_every = 50;
  std::string rocksdb_options, dir;
  bool no_hints = false;
  std::string pending_mode = "same";
  app.add_option("--sessions", sessions)->check(CLI::Range(1, 10'000'000));
  app.add_option("--inputs", inputs)->check(CLI::Range(1, 100'000'000));
  app.add_option("--group", group, "batches per store write")->check(CLI::Range(1, 100'000));
  app.add_option("--pending-bytes", pending_bytes)->check(CLI::Range(1, 1 << 20));
  app.add_option("--handled-bytes", handled_bytes)->check(CLI::Range(1, 1 << 20));
  app.add_option("--event-bytes", event_bytes)->check(CLI::Range(1, 1 << 20));
  app.add_option("--state-bytes", state_bytes)->check(CLI::Range(1, 1 << 24));
  app.add_option("--snapshot-every", snapshot_every)->check(CLI::Range(2, 1'000'000));
  app.add_option("--rocksdb-options", rocksdb_options);
  app.add_flag("--no-hints", no_hints, "store_options::memtable_insert_hints off");
  app.add_option("--pending", pending_mode, "same | after | off (see the file's header)")
      ->check(CLI::IsMember({"same", "after", "off"}));
  app.add_option("--dir", dir, "store directory (default: a fresh one in /tmp, removed)");
  CLI11_PARSE(app, argc, argv);

  const bool own_dir = dir.empty();
  if (own_dir) {
    char tmpl[] = "/tmp/skein-store-bench-XXXXXX";
    if (!mkdtemp(tmpl)) {
      std::perror("mkdtemp");
      return 1;
    }
    dir = tmpl;
  }
  int rc = 0;
  try {
    skein::persistence::store_options so;
    so.dir = dir;
    so.rocksdb_options = rocksdb_options;
    so.memtable_insert_hints = !no_hints;
    auto db_owner = std::make_unique<skein::persistence::store>(so);
    auto& db = *db_owner;

    std::vector<session> all(sessions);
    for (std::size_t i = 0; i < sessions; ++i) all[i].key = "chat/bench-r" + std::to_string(i);
    const std::string pending(pending_bytes, 'p'), handled(handled_bytes, 'h'),
        event(event_bytes, 'e'), state(state_bytes, 's');
    // A stride coprime with the session count walks every session in an
    // order unrelated to key order.
    std::size_t stride = 7919 % sessions;
    while (sessions > 1 && std::gcd(stride == 0 ? 1 : stride, sessions) != 1) ++stride;
    if (stride == 0) stride = 1;

    // The journal key of session `key`'s seq n, pending or handled (see
    // --pending).
    const bool after = pending_mode == "after", no_pending = pending_mode == "off";
    auto jkey = [after](const std::string& key, std::uint64_t n, bool is_handled) {
      return seq_key(key, after ? 2 * n + (is_handled ? 1 : 0) : n);
    };

    std::size_t done = 0, cursor = 0;
    const auto wall0 = std::chrono::steady_clock::now();
    const double thread0 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
    const double proc0 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
    while (done < inputs) {
      skein::persistence::write_batch merged;
      for (std::size_t b = 0; b < group; ++b) {
        session& s = all[cursor];
        cursor = (cursor + stride) % sessions;
        if (s.pending_next && !no_pending) {
          ++s.journal;
          merged.put_raw(column::journal, jkey(s.key, s.journal, false), pending);
          s.pending_next = false;
          continue;
        }
        if (no_pending) ++s.journal;
        s.pending_next = true;
        ++done;
        merged.put_raw(column::journal, jkey(s.key, s.journal, true), handled);
        ++s.events;
        merged.put_raw(column::outbox, seq_key(s.key, s.events), event);
        if (++s.since_snapshot >= snapshot_every) {
          s.since_snapshot = 0;
          merged.put_raw(column::snapshots, seq_key(s.key, s.journal), state);
          // As actors/session_gate.cpp trims: the dropped snapshot's key, and
          // each range from where the session's previous trim ended.
          if (s.snap_old > 0) {
            merged.erase(column::snapshots, seq_key(s.key, s.snap_old));
            merged.erase_range(column::journal, jkey(s.key, s.journal_trimmed, false),
                               jkey(s.key, s.snap_new + 1, false));
            s.journal_trimmed = s.snap_new + 1;
          }
          if (s.events > 256) {
            merged.erase_range(column::outbox, seq_key(s.key, s.outbox_trimmed), seq_key(s.key, s.events - 256));
            s.outbox_trimmed = s.events - 256;
          }
          s.snap_old = s.snap_new;
          s.snap_new = s.journal;
        }
      }
      db.write(merged);
    }
    const double thread_s = cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - thread0;
    const double proc_s = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - proc0;
    const double wall_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
    std::printf("inputs %zu sessions %zu group %zu: writer %.2f µs/input, process %.2f µs/input, "
                "%.0f inputs/s (wall)\n",
                done, sessions, group, thread_s * 1e6 / static_cast<double>(done),
                proc_s * 1e6 / static_cast<double>(done), static_cast<double>(done) / wall_s);
    // Reopen: the WAL holds the writes since the last flush (the store does
    // not flush when it closes), so this is what a node's restart pays.
    db_owner.reset();
    const auto open0 = std::chrono::steady_clock::now();
    skein::persistence::store reopened(so);
    std::printf("reopen with a WAL to replay: %.1f ms\n",
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - open0)
                    .count());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "skein-store-bench: %s\n", e.what());
    rc = 1;
  }
  if (own_dir) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  return rc;
}
