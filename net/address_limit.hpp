// Internal to net/: the per-source-address limit on client streams
// (--max-connections-per-address). address_counts counts the streams of
// each remote IP address; an address_slot is one stream's place in that
// count, held by the stream (client_stream) for its whole life and given
// back when it is destroyed, however the stream ended.
//
// Thread-safety: address_counts is safe from any thread (one mutex, taken
// once per stream open and close, never per message). An address_slot is a
// plain movable value.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace skein::net_detail {

class address_counts;

/// One stream's place under the per-address limit; empty when the limit is
/// off. Gives the place back on destruction.
class address_slot {
 public:
  address_slot() = default;
  address_slot(address_slot&& o) noexcept = default;
  address_slot& operator=(address_slot&& o) noexcept;
  ~address_slot();
  bool held() const { return counts_ != nullptr; }

 private:
  friend class address_counts;
  address_slot(std::shared_ptr<address_counts> counts, std::string address)
    : counts_(std::move(counts)), address_(std::move(address)) {}
  void release();
  std::shared_ptr<address_counts> counts_;
  std::string address_;
};

class address_counts : public std::enable_shared_from_this<address_counts> {
 public:
  /// A place for one more stream from `address` if it holds fewer than
  /// `max` (then `slot` holds it and true); false if it already holds `max`.
  bool try_acquire(const std::string& address, std::size_t max, address_slot& slot);
  /// Streams `address` holds now (tests, diagnostics).
  std::size_t count(const std::string& address);

 private:
  friend class address_slot;
  void release(const std::string& address);
  std::mutex mutex_;
  std::unordered_map<std::string, std::size_t> counts_;
};

}  // namespace skein::net_detail
