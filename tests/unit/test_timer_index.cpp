// The timer index (persistence/keys.hpp timer_meta_key; issue 16 item 1):
// store::timer_index lists the sessions whose copy has pending timers, a
// session copy carries (or clears) the entry, a replica accepts it in a
// session's batch, and nothing else's.
#include <catch2/catch.hpp>

#include <filesystem>
#include <random>

#include "persistence/keys.hpp"
#include "persistence/store.hpp"
#include "persistence/write_batch.hpp"

using namespace skein::persistence;
namespace fs = std::filesystem;

namespace {

struct temp_store {
  fs::path path;
  temp_store() {
    std::random_device rd;
    path = fs::temp_directory_path() / ("skein-timer-index-" + std::to_string(rd()) + std::to_string(rd()));
  }
  ~temp_store() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

}  // namespace

TEST_CASE("timer_index lists the sessions with pending timers", "[persistence][timers]") {
  temp_store d;
  store s(store_options{d.path});
  CHECK(s.timer_index().empty());
  write_batch b;
  b.put_meta(timer_meta_key("auction/b"), "2000");
  b.put_meta(timer_meta_key("auction/a"), "1000");
  b.put_meta("epoch/auction/a", "3");       // other meta keys are not listed
  b.put_meta(timer_meta_key("auction/x"), "soon");  // malformed: skipped
  s.write(b);
  using entry = std::pair<std::string, std::int64_t>;
  CHECK(s.timer_index() == std::vector<entry>{{"auction/a", 1000}, {"auction/b", 2000}});
  write_batch done;
  done.erase(column::meta, timer_meta_key("auction/a"));
  s.write(done);
  CHECK(s.timer_index() == std::vector<entry>{{"auction/b", 2000}});
}

TEST_CASE("a session copy carries its timer index entry, or clears a stale one", "[persistence][timers]") {
  temp_store a_dir, b_dir;
  store a(store_options{a_dir.path});
  store b(store_options{b_dir.path});
  write_batch w;
  w.put_journal("auction/t", 1, journal_record{});
  w.put_meta(timer_meta_key("auction/t"), "5000");
  a.write(w);
  auto copy = write_batch::decode(a.session_copy("auction/t").encode(), "auction/t");
  CHECK(copy.confined_to("auction/t"));
  b.write(copy);
  CHECK(b.get_meta(timer_meta_key("auction/t")) == "5000");

  write_batch fired;  // a's copy no longer has timers: the copy clears b's entry
  fired.erase(column::meta, timer_meta_key("auction/t"));
  a.write(fired);
  auto clearing = a.session_copy("auction/t");
  CHECK(clearing.confined_to("auction/t"));
  b.write(clearing);
  CHECK_FALSE(b.get_meta(timer_meta_key("auction/t")));
  CHECK(b.timer_index().empty());
}

TEST_CASE("a batch may write only its own session's timer index entry", "[persistence][timers][batch]") {
  write_batch own;
  own.put_meta(timer_meta_key("auction/a"), "1");
  own.erase(column::meta, timer_meta_key("auction/a"));
  CHECK(own.confined_to("auction/a"));
  CHECK_FALSE(own.confined_to("auction/b"));
  write_batch other;
  other.put_meta(timer_meta_key("auction/ab"), "1");
  CHECK_FALSE(other.confined_to("auction/a"));
  write_batch range;
  range.erase_range(column::meta, timer_meta_key("auction/a"), timer_meta_key("auction/z"));
  CHECK_FALSE(range.confined_to("auction/a"));
}
