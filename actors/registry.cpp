// The registry of behaviour kinds and their options (actors/registry.hpp).
#include "actors/registry.hpp"

#include "actors/metrics.hpp"

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

void behaviour_registry::add_factory(std::string kind, factory f, kind_options o) {
  if (!valid_kind(kind))
    throw std::invalid_argument("invalid session kind '" + kind + "': use [a-z0-9_-]{1,64}");
  if (o.snapshot_every == 0 || o.keep_snapshots == 0)
    throw std::invalid_argument("kind '" + kind + "': snapshot_every and keep_snapshots must be >= 1");
  if (!factories_.emplace(kind, entry{f, o}).second)
    throw std::invalid_argument("session kind '" + kind + "' registered twice");
  metrics().kinds.add(kind);  // its slot for the kind-labelled counters
}

std::unique_ptr<behaviour_instance> behaviour_registry::create(std::string_view kind) const {
  auto i = factories_.find(kind);
  return i == factories_.end() ? nullptr : i->second.make();
}

bool behaviour_registry::contains(std::string_view kind) const {
  return factories_.find(kind) != factories_.end();
}

const kind_options& behaviour_registry::options(std::string_view kind) const {
  auto i = factories_.find(kind);
  if (i == factories_.end()) throw std::out_of_range("unknown session kind '" + std::string(kind) + "'");
  return i->second.options;
}

void behaviour_registry::set_option(const std::string& assignment) {
  auto dot = assignment.find('.');
  auto eq = assignment.find('=');
  if (dot == std::string::npos || eq == std::string::npos || eq < dot)
    throw std::invalid_argument("kind option '" + assignment + "': expected KIND.NAME=VALUE");
  auto kind = assignment.substr(0, dot);
  auto i = factories_.find(kind);
  if (i == factories_.end())
    throw std::invalid_argument("kind option '" + assignment + "': unknown kind '" + kind + "'");
  kind_options o = i->second.options;
  set_kind_option(o, assignment.substr(dot + 1, eq - dot - 1), assignment.substr(eq + 1));
  if (o.snapshot_every == 0 || o.keep_snapshots == 0)
    throw std::invalid_argument("kind option '" + assignment + "': must be >= 1");
  i->second.options = o;
}

void set_kind_option(kind_options& o, const std::string& name, const std::string& value) {
  auto number = [&]() -> std::uint32_t {
    std::size_t used = 0;
    unsigned long v = 0;
    try {
      v = std::stoul(value, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != value.size() || value.empty() || v > 0xffffffffUL)
      throw std::invalid_argument("option " + name + ": '" + value + "' is not a whole number");
    return static_cast<std::uint32_t>(v);
  };
  if (name == "snapshot_every") o.snapshot_every = number();
  else if (name == "snapshot_interval_ms") o.snapshot_interval_ms = number();
  else if (name == "keep_snapshots") o.keep_snapshots = number();
  else if (name == "outbox_keep") o.outbox_keep = number();
  else if (name == "idle_ms") o.idle_ms = number();
  else if (name == "hibernate_ms") o.hibernate_ms = number();
  else if (name == "resume_grace_ms") o.resume_grace_ms = number();
  else if (name == "handled_linger_ms") o.handled_linger_ms = number();
  else if (name == "durability") {
    if (value == "none") o.durable = durability::none;
    else if (value == "async") o.durable = durability::async;
    else if (value == "local") o.durable = durability::local;
    else if (value == "replicated") o.durable = durability::replicated;
    else throw std::invalid_argument("option durability: '" + value + "' is not none|async|local|replicated");
  } else if (name == "poison_guard") {
    if (value == "on" || value == "true") o.poison_guard = true;
    else if (value == "off" || value == "false") o.poison_guard = false;
    else throw std::invalid_argument("option poison_guard: '" + value + "' is not on|off");
  } else if (name == "check_state") {
    if (value == "on" || value == "true") o.check_state = true;
    else if (value == "off" || value == "false") o.check_state = false;
    else throw std::invalid_argument("option check_state: '" + value + "' is not on|off");
  } else if (name == "relay") {
    if (value == "on" || value == "true") o.relay = true;
    else if (value == "off" || value == "false") o.relay = false;
    else throw std::invalid_argument("option relay: '" + value + "' is not on|off");
  } else {
    throw std::invalid_argument("unknown kind option '" + name + "'");
  }
}

std::vector<std::string> behaviour_registry::kinds() const {
  std::vector<std::string> out;
  for (auto& [k, _] : factories_) out.push_back(k);
  return out;
}

}  // namespace skein
