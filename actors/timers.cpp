// Pending timers and unacknowledged tells of a session (actors/timers.hpp).
#include "actors/timers.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace skein {

void session_runtime::absorb(const effects& fx) {
  next_id_ = std::max(next_id_, fx.next_id);
  for (auto id : fx.cancels) timers_.erase(id);
  for (const auto& t : fx.timers) timers_[t.id] = timer{t.due_ms, t.payload};
  for (const auto& t : fx.tells) tells_[t.id] = tell{t.target, t.payload};
}

bool session_runtime::fire(std::uint64_t id) { return timers_.erase(id) > 0; }

bool session_runtime::ack(std::uint64_t id) { return tells_.erase(id) > 0; }

std::optional<std::int64_t> session_runtime::earliest_due() const {
  std::optional<std::int64_t> out;
  for (const auto& [_, t] : timers_)
    if (!out || t.due_ms < *out) out = t.due_ms;
  return out;
}

std::string session_runtime::encode() const {
  if (empty()) return {};
  json timers = json::array(), tells = json::array();
  for (const auto& [id, t] : timers_) timers.push_back(json::array({id, t.due_ms, t.payload}));
  for (const auto& [id, t] : tells_) tells.push_back(json::array({id, t.target, t.payload}));
  json out{{"next_id", next_id_}, {"timers", std::move(timers)}, {"tells", std::move(tells)}};
  if (!clients_.empty()) out["clients"] = clients_;
  return out.dump();
}

session_runtime session_runtime::decode(const std::string& text) {
  session_runtime out;
  if (text.empty()) return out;
  auto bad = [](const std::string& why) {
    return std::invalid_argument("session runtime (timers, tells, clients): " + why);
  };
  auto j = json::parse(text, nullptr, false);
  if (!j.is_object()) throw bad("not a JSON object");
  auto n = j.find("next_id");
  if (n == j.end() || !n->is_number_unsigned() || n->get<std::uint64_t>() == 0)
    throw bad("next_id is not a positive integer");
  out.next_id_ = n->get<std::uint64_t>();
  auto list = [&](const char* name) -> const json& {
    auto i = j.find(name);
    if (i == j.end() || !i->is_array()) throw bad(std::string(name) + " is not an array");
    return *i;
  };
  auto id_of = [&](const json& e, const char* what) {
    if (!e.is_array() || e.size() != 3) throw bad(std::string(what) + " is not [id, _, payload]");
    if (!e[0].is_number_unsigned()) throw bad(std::string(what) + " id is not an unsigned integer");
    const auto id = e[0].get<std::uint64_t>();
    if (id == 0 || id >= out.next_id_) throw bad(std::string(what) + " id is not below next_id");
    return id;
  };
  for (const auto& e : list("timers")) {
    const auto id = id_of(e, "timer");
    if (!e[1].is_number_integer()) throw bad("timer due time is not an integer");
    if (!out.timers_.emplace(id, timer{e[1].get<std::int64_t>(), e[2]}).second)
      throw bad("timer id " + std::to_string(id) + " appears twice");
  }
  for (const auto& e : list("tells")) {
    const auto id = id_of(e, "tell");
    if (!e[1].is_string()) throw bad("tell target is not a string");
    auto target = e[1].get<std::string>();
    if (target.find('/') == std::string::npos) throw bad("tell target is not kind/id");
    if (out.timers_.count(id) || !out.tells_.emplace(id, tell{std::move(target), e[2]}).second)
      throw bad("id " + std::to_string(id) + " appears twice");
  }
  if (auto c = j.find("clients"); c != j.end()) {
    if (!c->is_object()) throw bad("clients is not an object");
    for (const auto& [id, params] : c->items()) {
      if (!params.is_string()) throw bad("params of client '" + id + "' are not a string");
      out.clients_.emplace(id, params.get<std::string>());
    }
  }
  return out;
}

}  // namespace skein
