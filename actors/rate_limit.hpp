// A token bucket: the per-client message rate limit of a connection actor.
//
// The bucket holds at most `burst` tokens and gains `rate` tokens per second
// (continuously, computed from the time between calls); each message takes
// one. A message that finds less than one token is over the limit. With
// rate = 1000 and burst = 1000 a client may send 1,000 messages at once and
// then 1,000 per second for ever. rate <= 0 disables the limit.
//
// Value type; not synchronised (owned by one actor). Times are steady_clock.
#pragma once

#include <algorithm>
#include <chrono>

namespace skein {

class token_bucket {
 public:
  using clock = std::chrono::steady_clock;

  /// rate: tokens per second; burst: capacity (the bucket starts full).
  token_bucket(double rate, double burst, clock::time_point now = clock::now())
      : rate_(rate), burst_(std::max(burst, 1.0)), tokens_(burst_), last_(now) {}

  /// Takes one token; false if the message is over the limit (nothing taken).
  bool take(clock::time_point now = clock::now()) {
    if (rate_ <= 0) return true;
    const std::chrono::duration<double> dt = now - last_;
    last_ = now;
    tokens_ = std::min(burst_, tokens_ + std::max(0.0, dt.count()) * rate_);
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
  }

  double rate() const { return rate_; }

 private:
  double rate_, burst_, tokens_;
  clock::time_point last_;
};

}  // namespace skein
