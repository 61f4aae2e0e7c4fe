// A server-side publish (issue 16, item 3): one input of kind "publish" from
// a pseudo-client ("publish:..."), journaled once like any input and
// answered on its ack once durable. A publish with an Idempotency-Key uses a
// pseudo-client per (principal, key) with message id 1: the delivery table
// recognises a repeat, and the answer recorded with the first (the
// credential of that delivery entry, journaled and snapshotted) is sent
// again without applying anything. The recorded answer carries a hash of
// the body ("body_hash"); a repeat of the key with another body is refused
// (code idempotency_key_reused, HTTP 422), as Stripe does.
#include <cstdio>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>
#include <xxhash.h>

#include "actors/atoms.hpp"
#include "actors/json_field.hpp"
#include "actors/session_state.hpp"

namespace skein::session_internal {

namespace {

/// Answers `to` now, or behind everything in the gate (so it is not ahead
/// of the durability of what it repeats).
void answer_later(session_actor* self, const caf::actor& to, std::uint64_t id, std::string answer) {
  auto& st = self->state;
  if (st.gate.empty()) return self->send(to, ack_atom::value, std::uint64_t{0}, id, answer);
  gated_output g;
  g.local_done = true;
  g.acks.push_back({to, 0, id, std::move(answer)});
  st.gate.push_back(std::move(g));
}

json refusal_json(const char* code, const std::string& message) {
  return json{{"ok", false}, {"code", code}, {"message", message}};
}

std::string refusal(const char* code, const std::string& message) {
  return refusal_json(code, message).dump();
}

/// The answer to a publish whose handler ran: its result or its rejection.
/// Reads the handler's last "published" or "error" output to the publisher
/// by field type, so an output of another shape (a non-string "type" or
/// "code") is passed over or defaulted, never an exception in the session.
json answer_of(const persistence::journal_record& rec, const std::vector<output>& outs) {
  for (auto o = outs.rbegin(); o != outs.rend(); ++o) {
    if (o->target != rec.client || !o->data.is_object()) continue;
    const auto type = string_field(o->data, "type");
    if (type == "published") return json{{"ok", true}, {"result", o->data.value("result", json())}};
    if (type == "error")
      return refusal_json(string_field(o->data, "code", "bad_input").c_str(),
                          string_field(o->data, "message"));
  }
  return refusal_json("handler_error", "the publish produced no answer");
}

/// Hex XXH3-64 of the body as canonical JSON (parsed and dumped: object keys
/// sorted, no whitespace), so a repeat that only reorders keys is the same.
std::string body_hash(const std::string& body) {
  auto j = json::parse(body, nullptr, false);
  const std::string canon = j.is_discarded() ? body : j.dump();
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx",
                static_cast<unsigned long long>(XXH3_64bits(canon.data(), canon.size())));
  return buf;
}

/// True if the answer recorded for a key says it was for another body.
/// Answers recorded before body hashes (no "body_hash") match any body.
bool other_body(const std::string& recorded, const std::string& body) {
  auto r = json::parse(recorded, nullptr, false);
  if (!r.is_object() || !r.contains("body_hash") || !r["body_hash"].is_string()) return false;
  return r["body_hash"].get<std::string>() != body_hash(body);
}

}  // namespace

std::string publish_answer(const persistence::journal_record& rec, const std::vector<output>& outs) {
  auto a = answer_of(rec, outs);
  // A repeat of the key must carry the same body (the payload's "text", make_input).
  auto payload = json::parse(rec.payload, nullptr, false);
  const bool wrapped = payload.is_object() && payload.contains("text") && payload["text"].is_string();
  a["body_hash"] = body_hash(wrapped ? payload["text"].get<std::string>() : rec.payload);
  // A result string that is not UTF-8 reaches the publisher as U+FFFD
  // rather than throwing here.
  return a.dump(-1, ' ', false, json::error_handler_t::replace);
}

void on_publish(session_actor* self, const std::string& client, bool keyed, std::string body,
                const caf::actor& reply_to) {
  auto& st = self->state;
  const std::uint64_t id = keyed ? 1 : 0;
  if (st.m != mode::serving)
    return self->send(reply_to, ack_atom::value, std::uint64_t{0}, id,
                      refusal("unavailable", "the session is moving to another node; retry"));
  if (keyed) {
    using v = delivery_table::verdict;
    if (st.delivery.classify(client, 0, 0, id) != v::apply) {
      auto recorded = st.delivery.credential(client);
      if (recorded.empty())
        return self->send(reply_to, ack_atom::value, std::uint64_t{0}, id,
                          refusal("in_progress", "a publish with this Idempotency-Key is in "
                                                 "progress; retry"));
      if (other_body(recorded, body))
        return self->send(reply_to, ack_atom::value, std::uint64_t{0}, id,
                          refusal("idempotency_key_reused",
                                  "this Idempotency-Key was used with a different body"));
      return answer_later(self, reply_to, id, std::move(recorded));
    }
  }
  auto rec = make_input(input_kind::publish, client, "{}", body);
  rec.time_ms = wall_clock_ms();
  rec.epoch = st.epoch;
  rec.msg_id = id;
  if (keyed) st.delivery.consume(client, 0, 0, id, rec.time_ms);
  became_busy(self);
  if (guard_on(st)) admit_guarded(self, std::move(rec), reply_to);
  else run_input(self, std::move(rec), st.journal_seq + 1, reply_to);
  if (st.clients.empty()) became_idle(self);
}

}  // namespace skein::session_internal
