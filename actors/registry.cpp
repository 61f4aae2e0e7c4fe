#include "actors/registry.hpp"

#include <stdexcept>

namespace skein {

namespace {
bool valid_kind(std::string_view kind) {
  if (kind.empty() || kind.size() > 64) return false;
  for (char ch : kind) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
    if (!ok) return false;
  }
  return true;
}
}  // namespace

void behaviour_registry::add_factory(std::string kind, factory f) {
  if (!valid_kind(kind))
    throw std::invalid_argument("invalid session kind '" + kind + "': use [a-z0-9_-]{1,64}");
  if (!factories_.emplace(kind, f).second)
    throw std::invalid_argument("session kind '" + kind + "' registered twice");
}

std::unique_ptr<behaviour_instance> behaviour_registry::create(std::string_view kind) const {
  auto i = factories_.find(kind);
  return i == factories_.end() ? nullptr : i->second();
}

bool behaviour_registry::contains(std::string_view kind) const {
  return factories_.find(kind) != factories_.end();
}

std::vector<std::string> behaviour_registry::kinds() const {
  std::vector<std::string> out;
  for (auto& [k, _] : factories_) out.push_back(k);
  return out;
}

}  // namespace skein
