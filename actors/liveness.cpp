// The pause watchdog thread and the process-wide quorum lease timestamp (actors/liveness.hpp).
#include "actors/liveness.hpp"

#include <atomic>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <thread>

#include <pthread.h>

namespace skein::liveness {

namespace {
using clock = std::chrono::steady_clock;
std::atomic<std::int64_t> last_tick_ms{0};
std::atomic<std::int64_t> limit_ms{3000};
std::atomic<std::uint64_t> pauses{0};
std::atomic<std::int64_t> lease_until_ns{std::numeric_limits<std::int64_t>::max()};
std::mutex mutex;
std::condition_variable cv;
bool running = false;
std::thread watchdog;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock::now().time_since_epoch())
    .count();
}
}  // namespace

void start(std::chrono::milliseconds limit) {
  std::lock_guard<std::mutex> guard{mutex};
  if (running) return;
  running = true;
  limit_ms = limit.count();
  last_tick_ms = now_ms();
  watchdog = std::thread([] {
    ::pthread_setname_np(::pthread_self(), "skein.watchdog");
    std::unique_lock<std::mutex> lock{mutex};
    while (running) {
      cv.wait_for(lock, std::chrono::milliseconds(100));
      auto now = now_ms();
      if (now - last_tick_ms.load() > limit_ms.load()) pauses.fetch_add(1);
      last_tick_ms = now;
    }
  });
}

void stop() {
  {
    std::lock_guard<std::mutex> guard{mutex};
    if (!running) return;
    running = false;
  }
  cv.notify_all();
  watchdog.join();
}

std::uint64_t generation() { return pauses.load(); }

bool unpaused_since(std::uint64_t gen) {
  if (pauses.load() != gen) return false;
  return now_ms() - last_tick_ms.load() <= limit_ms.load();
}

}  // namespace skein::liveness

namespace skein::liveness {

void set_lease_until(std::chrono::steady_clock::time_point until) {
  using namespace std::chrono;
  std::int64_t ns;
  if (until == steady_clock::time_point::max()) ns = std::numeric_limits<std::int64_t>::max();
  else if (until == steady_clock::time_point::min()) ns = std::numeric_limits<std::int64_t>::min();
  else ns = duration_cast<nanoseconds>(until.time_since_epoch()).count();
  lease_until_ns.store(ns);
}

bool lease_held() {
  using namespace std::chrono;
  auto now = duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
  return now < lease_until_ns.load();
}

}  // namespace skein::liveness
