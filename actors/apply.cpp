// Applying one input to a behaviour instance with recorded time and randomness (actors/apply.hpp).
#include "actors/apply.hpp"

#include <stdexcept>

#include <spdlog/spdlog.h>
#include <xxhash.h>

namespace skein {

const char* input_kind_name(input_kind k) {
  switch (k) {
    case input_kind::open: return "open";
    case input_kind::message: return "message";
    case input_kind::close: return "close";
    case input_kind::publish: return "publish";
    case input_kind::timer: return "timer";
    case input_kind::tell: return "tell";
    case input_kind::resume: return "resume";
  }
  return "?";
}

input_kind parse_input_kind(const std::string& name) {
  if (name == "open") return input_kind::open;
  if (name == "message") return input_kind::message;
  if (name == "close") return input_kind::close;
  if (name == "publish") return input_kind::publish;
  if (name == "timer") return input_kind::timer;
  if (name == "tell") return input_kind::tell;
  if (name == "resume") return input_kind::resume;
  throw std::invalid_argument("unknown input kind '" + name + "'");
}

namespace {
const std::string& c_id_of(const persistence::journal_record& rec) { return rec.client; }
}  // namespace

json error_event(const std::string& message) {
  return json{{"type", "error"}, {"message", message}};
}

json error_event(const std::string& code, const std::string& message) {
  return json{{"type", "error"}, {"code", code}, {"message", message}};
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
  if (kind == input_kind::message || kind == input_kind::publish) payload["text"] = text;
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

std::uint64_t state_hash(std::string_view state_bytes) noexcept {
  const std::uint64_t h = XXH3_64bits(state_bytes.data(), state_bytes.size());
  return h == 0 ? 1 : h;
}

std::vector<output> apply_input(behaviour_instance& logic, persistence::journal_record& rec,
                                const std::string& session_id, bool replay, std::uint64_t seed,
                                std::string* rejected) {
  if (rejected) rejected->clear();
  auto reject = [&](const std::string& code, const std::string& why) {
    if (rejected) *rejected = code + ": " + why;
    return output{c_id_of(rec), error_event(code, why)};
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
  const bool answers = kind == input_kind::message || kind == input_kind::publish;
  if (answers) {
    msg = json::parse(payload.value("text", std::string{}), nullptr, false);
    if (msg.is_discarded()) return {reject(error_code::bad_json, "malformed JSON")};
  }
  if (kind == input_kind::timer || kind == input_kind::tell) {
    // A timer fires once: its applied entry removes it, rejected or not.
    // (The session journals a firing only for a pending timer; replay runs
    // every journaled firing, whether or not it restored the runtime.)
    if (kind == input_kind::timer) logic.runtime.fire(payload.value("timer", std::uint64_t{0}));
    if (auto d = payload.find("data"); d != payload.end()) msg = *d;
  }
  // A throwing handler has rolled the state back (behaviour_instance::handle);
  // its outputs are dropped and only the sender of a message hears why, in
  // skein's words: library exception text never reaches a client.
  bool refused = false;
  auto refuse = [&](const char* code, const std::string& why) {
    refused = true;
    fx.outputs.clear();
    auto out = reject(code, why);
    if (answers) fx.outputs.push_back(std::move(out));
  };
  try {
    logic.handle(kind, c, msg, fx, session_id);
  } catch (const replay_divergence&) {
    throw;
  } catch (const bad_input& e) {
    refuse(error_code::bad_input, e.what());
  } catch (const no_publish_handler& e) {
    refuse(error_code::no_publish_handler, e.what());
  } catch (const json::exception&) {
    refuse(error_code::bad_input, "the message lacks a field or has one of the wrong type");
  } catch (const std::exception& e) {
    if (!replay)
      spdlog::warn("session {}: {} handler threw for client {}; input rejected, state rolled "
                   "back: {}", session_id, rec.kind_of_input, rec.client, e.what());
    refuse(error_code::handler_error, "the session could not handle this input");
  }
  // A publish that was not rejected answers its publisher (a pseudo-client
  // without a connection): the result is an output, so replay checks it.
  if (kind == input_kind::publish && !refused)
    fx.outputs.push_back({c.id, json{{"type", "published"}, {"result", fx.reply}}});
  // A rejected input sets no timer and sends no tell.
  if (!refused) logic.runtime.absorb(fx);
  // The open clients (timers.hpp), rejected or not: the client is attached
  // (or gone) either way.
  if (kind == input_kind::open || kind == input_kind::resume) {
    auto p = payload.find("params");
    logic.runtime.client_opened(c.id, p != payload.end() && p->is_object() ? p->dump() : "{}");
  } else if (kind == input_kind::close) {
    logic.runtime.client_closed(c.id);
  }
  if (!replay) rec.random = fx.random;
  if (prefix.empty()) return std::move(fx.outputs);
  prefix.insert(prefix.end(), fx.outputs.begin(), fx.outputs.end());
  return prefix;
}

}  // namespace skein
