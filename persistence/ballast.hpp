// The ballast: a file of reserved space in the store's directory, so that a
// node whose disk filled up can still open its store (RocksDB writes a new
// MANIFEST, OPTIONS file and WAL when it opens; with no space at all Debian's
// build aborts on an assertion instead of returning an error). The idea is
// CockroachDB's emergency ballast.
//
// prepare_ballast(dir) runs before the store opens:
//  - free space below the ballast's size and a ballast present: the ballast
//    is deleted (logged by the caller from the result), so the open can
//    succeed; writes will then be refused by the committer, reads work;
//  - no ballast and free space at least 4 times its size: it is created;
//  - otherwise nothing changes.
// Size: 1/16 of the filesystem, at least 1 MiB and at most 64 MiB.
//
// Errors: none thrown; a failure to create the ballast is reported in the
// result (the node runs without one). Not thread-safe (call at start).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace skein::persistence {

struct ballast_result {
  enum { kept, created, released, absent } action = absent;
  std::uint64_t bytes = 0;       // the ballast's size (created, kept or released)
  std::uint64_t free_bytes = 0;  // free space found before acting
  std::string problem;           // why no ballast could be made, if so
};

/// The file's name in the store directory.
inline constexpr const char* ballast_file_name = "skein.ballast";

ballast_result prepare_ballast(const std::filesystem::path& dir);

}  // namespace skein::persistence
