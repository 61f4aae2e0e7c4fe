// jemalloc's options for skein's node executables. Compiled into each
// executable that links skein_malloc (CMakeLists.txt), only when jemalloc is
// the allocator: jemalloc reads this symbol once at start; the MALLOC_CONF
// environment variable still overrides it.
//
// background_thread:true: a jemalloc thread returns freed pages to the OS
// (after dirty_decay_ms, jemalloc's default 10 s) while the process is
// quiet. Without it pages are purged only as a side effect of later
// allocations, so a node whose sessions have just hibernated kept their
// freed memory resident: 0.54 KiB of RSS per idle client at 10,000 clients
// on one node (docs/benchmarks.md, "Lever: skein's own WebSocket framing").
extern "C" {
// NOLINTNEXTLINE: the name and type are jemalloc's (its malloc_conf(3) option source).
const char* malloc_conf = "background_thread:true";
}
