// The per-source-address stream count (contract in net/address_limit.hpp).
#include "net/address_limit.hpp"

namespace skein::net_detail {

address_slot& address_slot::operator=(address_slot&& o) noexcept {
  if (this != &o) {
    release();
    counts_ = std::move(o.counts_);
    address_ = std::move(o.address_);
  }
  return *this;
}

address_slot::~address_slot() { release(); }

void address_slot::release() {
  if (!counts_) return;
  counts_->release(address_);
  counts_.reset();
}

bool address_counts::try_acquire(const std::string& address, std::size_t max, address_slot& slot) {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    auto& n = counts_[address];
    if (n >= max) {
      if (n == 0) counts_.erase(address);
      return false;
    }
    ++n;
  }
  slot = address_slot{shared_from_this(), address};
  return true;
}

std::size_t address_counts::count(const std::string& address) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto it = counts_.find(address);
  return it == counts_.end() ? 0 : it->second;
}

void address_counts::release(const std::string& address) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto it = counts_.find(address);
  if (it == counts_.end()) return;
  if (--it->second == 0) counts_.erase(it);
}

}  // namespace skein::net_detail
