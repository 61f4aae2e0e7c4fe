// temp_dir: a directory of one test's own under the system's temporary
// directory, removed with everything in it when the object goes.
//
// Shape: TMP/<prefix>-<random>-<random> (two std::random_device draws), so
// tests that run at once (ctest -j, several test binaries) never share one.
// Errors: the constructor throws std::filesystem::filesystem_error if the
// directory cannot be created; the destructor ignores errors (a test that
// failed half-way still ends). Not copyable: one owner removes it. Not
// thread-safe beyond what std::filesystem is.
#pragma once

#include <filesystem>
#include <random>
#include <string>
#include <system_error>

namespace skein::test {

struct temp_dir {
  std::filesystem::path path;

  explicit temp_dir(const std::string& prefix = "skein-test") {
    std::random_device rd;
    path = std::filesystem::temp_directory_path()
           / (prefix + "-" + std::to_string(rd()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  /// path / "db": where the tests that open one store put it.
  std::filesystem::path db() const { return path / "db"; }
};

}  // namespace skein::test
