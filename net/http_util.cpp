// Small HTTP helpers shared by the routes (see http_util.hpp).
#include "net/http_util.hpp"

#include "actors/metrics.hpp"

#include <sys/random.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace skein::net_detail {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

}  // namespace

std::string header(const request& req, std::string_view name) {
  auto it = req.find(beast::string_view(name.data(), name.size()));
  return it == req.end() ? std::string{} : std::string(it->value().data(), it->value().size());
}

bool accepts(const request& req, std::string_view media_type) {
  auto it = req.find(http::field::accept);
  if (it == req.end()) return false;
  auto value = lower(std::string_view(it->value().data(), it->value().size()));
  auto wanted = lower(media_type);
  auto slash = wanted.find('/');
  std::size_t pos = 0;
  while (pos <= value.size()) {
    auto comma = value.find(',', pos);
    auto item = trim(std::string_view(value).substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
    auto type = trim(item.substr(0, item.find(';')));
    if (type == wanted || type == "*/*" || type == wanted.substr(0, slash) + "/*") return true;
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return false;
}

bool content_type_is(const request& req, std::string_view media_type) {
  auto it = req.find(http::field::content_type);
  if (it == req.end()) return false;
  auto value = lower(std::string_view(it->value().data(), it->value().size()));
  return trim(value.substr(0, value.find(';'))) == lower(media_type);
}

bool valid_client_id(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  return true;
}

bool valid_resume_token(std::string_view s) {
  if (s.size() != 32) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string secure_random_id() {
  unsigned char bytes[16];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    auto n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("getrandom failed: ") + std::strerror(errno));
    }
    got += static_cast<std::size_t>(n);
  }
  static const char* digits = "0123456789abcdef";
  std::string out(32, '0');
  for (int i = 0; i < 16; ++i) {
    out[2 * i] = digits[bytes[i] >> 4];
    out[2 * i + 1] = digits[bytes[i] & 0xf];
  }
  return out;
}

std::chrono::milliseconds sse_keepalive_interval() {
  static const std::chrono::milliseconds v = [] {
    if (const char* e = std::getenv("SKEIN_SSE_KEEPALIVE_MS"); e && *e) {
      long ms = std::strtol(e, nullptr, 10);
      if (ms > 0) return std::chrono::milliseconds(ms);
    }
    return std::chrono::milliseconds(15000);
  }();
  return v;
}

bool refuse_over_connection_limit(request_context& rc, address_slot& slot) {
  auto refuse = [&rc](std::string why) {
    auto res = error_response(rc, http::status::service_unavailable, why);
    res.set(http::field::retry_after, "1");
    rc.respond(std::move(res));
    return true;
  };
  const auto open = metrics().connections.load(std::memory_order_relaxed);
  if (open >= 0 && static_cast<std::size_t>(open) >= rc.server.opts.max_connections) {
    metrics().connections_refused.fetch_add(1, std::memory_order_relaxed);
    return refuse("this node holds its limit of " + std::to_string(rc.server.opts.max_connections)
                  + " client streams; try another node or later");
  }
  const auto per_address = rc.server.opts.max_connections_per_address;
  if (per_address == 0) return false;
  if (rc.server.per_address->try_acquire(rc.remote_address, per_address, slot)) return false;
  metrics().connections_refused_per_address.fetch_add(1, std::memory_order_relaxed);
  return refuse("your address holds this node's limit of " + std::to_string(per_address)
                + " client streams per address; close one or try later");
}

}  // namespace skein::net_detail
