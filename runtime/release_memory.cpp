#include "runtime/release_memory.hpp"

#include <cstddef>

#include <dlfcn.h>
#include <malloc.h>

namespace skein {

void release_free_memory() {
  using mallctl_fn = int (*)(const char*, void*, std::size_t*, void*, std::size_t);
  // Looked up once; null when the process's allocator is not jemalloc.
  static const auto mallctl =
    reinterpret_cast<mallctl_fn>(::dlsym(RTLD_DEFAULT, "mallctl"));  // NOLINT: dlsym's type
  if (mallctl) {
    // 4096 is MALLCTL_ARENAS_ALL: every arena.
    mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0);
    return;
  }
  ::malloc_trim(0);
}

}  // namespace skein
