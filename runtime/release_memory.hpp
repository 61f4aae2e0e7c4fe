// Handing freed heap pages back to the operating system at once.
//
// Thread-safety: may be called from any thread.
#pragma once

namespace skein {

/// Returns the allocator's free pages to the OS now instead of after its
/// decay time: with jemalloc (skein's default allocator, found at run time
/// through its `mallctl` symbol) it purges every arena
/// ("arena.<MALLCTL_ARENAS_ALL>.purge", jemalloc(3)); with glibc's malloc it
/// calls malloc_trim(0). Costs a few milliseconds for a few MiB; meant for
/// quiet moments (the committer's idle flush), not for a hot path.
void release_free_memory();

}  // namespace skein
