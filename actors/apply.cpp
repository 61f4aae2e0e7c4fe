// Applying one input to a behaviour instance with recorded time and randomness (actors/apply.hpp).
#include "actors/apply.hpp"

#include <stdexcept>

namespace skein {

const char* input_kind_name(input_kind k) {
  switch (k) {
    case input_kind::open: return "open";
    case input_kind::message: return "message";
    case input_kind::close: return "close";
    case input_kind::timer: return "timer";
    case input_kind::tell: return "tell";
  }
  return "?";
}

input_kind parse_input_kind(const std::string& name) {
  if (name == "open") return input_kind::open;
  if (name == "message") return input_kind::message;
  if (name == "close") return input_kind::close;
  if (name == "timer") return input_kind::timer;
  if (name == "tell") return input_kind::tell;
  throw std::invalid_argument("unknown input kind '" + name + "'");
}

namespace {
const std::string& c_id_of(const persistence::journal_record& rec) { return rec.client; }
}  // namespace

json error_event(const std::string& message) {
  return json{{"type", "error"}, {"message", message}};
}

persistence::journal_record make_input(input_kind kind, const std::string& client_id,
                                       const std::string& params_json, const std::string& text,
                                       bool reset) {
  persistence::journal_record rec;
  rec.client = client_id;
  rec.kind_of_input = input_kind_name(kind);
  json payload{{"params", json::parse(params_json, nullptr, false)}};
  if (payload["params"].is_discarded() || !payload["params"].is_object())
    payload["params"] = json::object();
  if (kind == input_kind::message) payload["text"] = text;
  if (reset) payload["reset"] = true;
  rec.payload = payload.dump();
  return rec;
}

persistence::journal_record make_timer_input(std::uint64_t timer_id, const json& payload) {
  persistence::journal_record rec;
  rec.client = timer_client;
  rec.kind_of_input = input_kind_name(input_kind::timer);
  rec.payload = json{{"timer", timer_id}, {"data", payload}}.dump();
  return rec;
}

persistence::journal_record make_tell_input(const std::string& from, std::uint64_t tell_id,
                                            const std::string& payload_text) {
  persistence::journal_record rec;
  rec.client = "@" + from;
  rec.kind_of_input = input_kind_name(input_kind::tell);
  auto data = json::parse(payload_text, nullptr, false);
  if (data.is_discarded()) data = nullptr;
  rec.payload = json{{"from", from}, {"data", std::move(data)}}.dump();
  rec.msg_id = tell_id;
  return rec;
}

std::vector<output> apply_input(behaviour_instance& logic, persistence::journal_record& rec,
                                const std::string& session_id, bool replay, std::uint64_t seed,
                                std::string* rejected) {
  if (rejected) rejected->clear();
  auto reject = [&](const std::string& why) {
    if (rejected) *rejected = why;
    return output{c_id_of(rec), error_event(why)};
  };
  const auto kind = parse_input_kind(rec.kind_of_input);
  auto payload = json::parse(rec.payload, nullptr, false);
  if (!payload.is_object()) throw std::invalid_argument("journal payload is not a JSON object");
  client c;
  c.id = rec.client;
  if (auto p = payload.find("params"); p != payload.end() && p->is_object())
    for (auto& [k, v] : p->items())
      if (v.is_string()) c.params[k] = v.get<std::string>();

  effects fx;
  fx.now_ms = rec.time_ms;
  fx.random_state = seed;
  if (replay) fx.recorded_random = &rec.random;
  fx.next_id = logic.runtime.next_id();

  std::vector<output> prefix;
  if (kind == input_kind::open && payload.value("reset", false))
    prefix.push_back({c.id, json{{"type", "reset"}}});
  json msg;
  if (kind == input_kind::message) {
    msg = json::parse(payload.value("text", std::string{}), nullptr, false);
    if (msg.is_discarded()) return {reject("malformed JSON")};
  }
  if (kind == input_kind::timer || kind == input_kind::tell) {
    // A timer fires once: its applied entry removes it, rejected or not.
    // (The session journals a firing only for a pending timer; replay runs
    // every journaled firing, whether or not it restored the runtime.)
    if (kind == input_kind::timer) logic.runtime.fire(payload.value("timer", std::uint64_t{0}));
    if (auto d = payload.find("data"); d != payload.end()) msg = *d;
  }
  bool applied = true;
  try {
    logic.handle(kind, c, msg, fx, session_id);
  } catch (const bad_input& e) {
    applied = false;
    fx.outputs.clear();
    if (kind == input_kind::message) fx.outputs.push_back(reject(e.what()));
  } catch (const json::exception& e) {
    applied = false;
    fx.outputs.clear();
    if (kind == input_kind::message) fx.outputs.push_back(reject(e.what()));
  }
  if (applied) logic.runtime.absorb(fx);  // a rejected input sets no timer, sends no tell
  if (!replay) rec.random = fx.random;
  if (prefix.empty()) return std::move(fx.outputs);
  prefix.insert(prefix.end(), fx.outputs.begin(), fx.outputs.end());
  return prefix;
}

}  // namespace skein
