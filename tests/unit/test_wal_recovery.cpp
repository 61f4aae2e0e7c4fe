// A torn WAL tail is recovered up to the last intact record and said out
// loud: store::dropped_wal_tails() names the file and the bytes, and a
// warning is logged (persistence/rocks_log.hpp, store.hpp).
#include <catch2/catch.hpp>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "persistence/rocks_log.hpp"
#include "persistence/store.hpp"
#include "persistence/write_batch.hpp"

namespace fs = std::filesystem;
using namespace skein::persistence;

namespace {

struct wal_temp_dir {
  fs::path path;
  wal_temp_dir() {
    std::random_device rd;
    path = fs::temp_directory_path() /
           ("skein-wal-" + std::to_string(rd()) + "-" + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~wal_temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// Routes spdlog's default logger into a string while alive.
struct captured_log {
  std::ostringstream out;
  std::shared_ptr<spdlog::logger> previous = spdlog::default_logger();
  captured_log() {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("captured", sink));
  }
  ~captured_log() { spdlog::set_default_logger(previous); }
};

std::vector<fs::path> wal_files(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".log") out.push_back(e.path());
  std::sort(out.begin(), out.end());  // RocksDB numbers them: the last is the newest
  return out;
}

std::string value_of(int i) { return "value-" + std::to_string(i) + std::string(200, 'v'); }

}  // namespace

TEST_CASE("a WAL truncated mid record is replayed up to its last intact record and reported",
          "[persistence][wal]") {
  wal_temp_dir dir;
  const auto db = dir.path / "db";
  constexpr int records = 20;
  {
    store s(store_options{db});
    for (int i = 0; i < records; ++i) {
      write_batch b;  // one RocksDB write, so one WAL record, per value
      b.put_meta("k" + std::to_string(i), value_of(i));
      s.write(b);
    }
    CHECK(s.dropped_wal_tails().empty());
  }  // closed without a flush: every value is only in the WAL

  auto wals = wal_files(db);
  REQUIRE_FALSE(wals.empty());
  const auto wal = wals.back();
  const auto size = fs::file_size(wal);
  REQUIRE(size > 100);
  fs::resize_file(wal, size - 100);  // inside the last record (> 200 bytes)

  captured_log log;
  store s(store_options{db});
  REQUIRE(s.dropped_wal_tails().size() == 1);
  const auto& d = s.dropped_wal_tails().front();
  CHECK(fs::path(d.file).filename() == wal.filename());
  CHECK(d.bytes > 0);
  CHECK(d.bytes < size);
  CHECK_FALSE(d.reason.empty());
  for (int i = 0; i + 1 < records; ++i) {
    INFO("record " << i);
    CHECK(s.get_meta("k" + std::to_string(i)) == value_of(i));
  }
  CHECK_FALSE(s.get_meta("k" + std::to_string(records - 1)).has_value());
  const auto text = log.out.str();
  CHECK_THAT(text, Catch::Contains("[warning]") && Catch::Contains(wal.filename().string()) &&
                     Catch::Contains(std::to_string(d.bytes) + " bytes"));
}

TEST_CASE("a cleanly closed store reports no dropped WAL tail", "[persistence][wal]") {
  wal_temp_dir dir;
  const auto db = dir.path / "db";
  {
    store s(store_options{db});
    write_batch b;
    b.put_meta("a", "1");
    s.write(b);
  }
  store s(store_options{db});
  CHECK(s.dropped_wal_tails().empty());
  CHECK(s.get_meta("a") == "1");
}

TEST_CASE("RocksDB dropped-bytes log lines parse", "[persistence][wal]") {
  auto d = parse_dropped_tail(
    "[db/db_impl/db_impl_open.cc:1180] /data/n1/000012.log: dropping 37 bytes; Corruption: "
    "truncated header");
  REQUIRE(d);
  CHECK(d->file == "/data/n1/000012.log");
  CHECK(d->bytes == 37);
  CHECK(d->reason == "Corruption: truncated header");
  auto ignoring = parse_dropped_tail("(ignoring error) /d/000003.log: dropping 5 bytes; x");
  REQUIRE(ignoring);
  CHECK(ignoring->file == "/d/000003.log");
  CHECK(ignoring->bytes == 5);
  CHECK_FALSE(parse_dropped_tail("Recovering log #12 mode 2"));
  CHECK_FALSE(parse_dropped_tail("x: dropping many bytes; y"));
}
