// The per-client delivery table: exactly-once input classification (actors/delivery.hpp).
#include "actors/delivery.hpp"

#include <algorithm>

namespace skein {

bool delivery_table::is_retired(const entry& e, std::uint64_t token) {
  return std::find(e.retired.begin(), e.retired.end(), token) != e.retired.end();
}

void delivery_table::switch_token(entry& e, std::uint64_t token) {
  if (e.token == token) return;
  if (e.token != 0) {
    e.retired.push_back(e.token);
    if (e.retired.size() > max_retired) e.retired.erase(e.retired.begin());
  }
  e.token = token;
  e.next_cseq = 1;
}

bool delivery_table::attach(const std::string& client, std::uint64_t token,
                            std::uint64_t next_unacked, std::int64_t now_ms) {
  auto& e = entries_[client];
  e.used_ms = now_ms;
  if (token == 0) return true;  // a one-shot sender: no numbering to follow
  if (is_retired(e, token)) return false;
  switch_token(e, token);
  e.next_cseq = std::max(e.next_cseq, std::max<std::uint64_t>(next_unacked, 1));
  return true;
}

delivery_table::verdict delivery_table::classify(const std::string& client, std::uint64_t token,
                                                 std::uint64_t cseq, std::uint64_t id) const {
  auto i = entries_.find(client);
  if (token == 0 || cseq == 0) {
    if (i != entries_.end() && id != 0 && id <= i->second.last_id) return verdict::duplicate;
    return verdict::apply;
  }
  if (i == entries_.end()) return verdict::stale;
  const auto& e = i->second;
  if (token != e.token) return verdict::stale;
  if (cseq < e.next_cseq) return verdict::duplicate;
  if (cseq > e.next_cseq) return verdict::early;
  if (id != 0 && id <= e.last_id) return verdict::repeat;
  return verdict::apply;
}

void delivery_table::consume(const std::string& client, std::uint64_t token, std::uint64_t cseq,
                             std::uint64_t id, std::int64_t now_ms) {
  auto& e = entries_[client];
  e.used_ms = now_ms;
  if (token != 0 && cseq != 0 && token == e.token && cseq >= e.next_cseq) e.next_cseq = cseq + 1;
  e.last_id = std::max(e.last_id, id);
}

bool delivery_table::admit_credential(const std::string& client, const std::string& credential,
                                      std::int64_t now_ms) {
  auto& e = entries_[client];
  if (e.used_ms == 0) e.used_ms = now_ms;
  if (e.credential.empty()) {
    e.credential = credential;
    return true;
  }
  return e.credential == credential;
}

std::string delivery_table::credential(const std::string& client) const {
  auto i = entries_.find(client);
  return i == entries_.end() ? std::string{} : i->second.credential;
}

std::uint64_t delivery_table::next_cseq(const std::string& client, std::uint64_t token) const {
  auto i = entries_.find(client);
  return i != entries_.end() && i->second.token == token ? i->second.next_cseq : 0;
}

void delivery_table::observe(const persistence::journal_record& rec) {
  if (rec.token == 0 && rec.msg_id == 0 && rec.credential.empty()) return;
  auto& e = entries_[rec.client];
  e.used_ms = std::max(e.used_ms, rec.time_ms);
  // A retired token is older than the table's current one: a pending input
  // admitted before a snapshot that already counts it (poison guard).
  if (rec.token != 0 && rec.cseq != 0 && !is_retired(e, rec.token)) {
    switch_token(e, rec.token);
    e.next_cseq = std::max(e.next_cseq, rec.cseq + 1);
  }
  e.last_id = std::max(e.last_id, rec.msg_id);
  if (!rec.credential.empty()) e.credential = rec.credential;
}

std::vector<persistence::delivery_entry> delivery_table::to_records() const {
  std::vector<persistence::delivery_entry> out;
  out.reserve(entries_.size());
  for (const auto& [client, e] : entries_)
    out.push_back({client, e.token, e.next_cseq, e.last_id, e.retired, e.used_ms, e.credential});
  return out;
}

void delivery_table::restore(const std::vector<persistence::delivery_entry>& entries) {
  entries_.clear();
  for (const auto& d : entries) {
    entry e{d.token, std::max<std::uint64_t>(d.next_cseq, 1), d.last_id, d.retired, d.used_ms,
            d.credential};
    if (e.retired.size() > max_retired)
      e.retired.erase(e.retired.begin(), e.retired.end() - max_retired);
    entries_[d.client] = std::move(e);
  }
}

void delivery_table::evict(const std::function<bool(const std::string&)>& joined) {
  if (entries_.size() <= max_clients_) return;
  std::vector<std::pair<std::int64_t, std::string>> candidates;
  for (const auto& [client, e] : entries_)
    if (!joined(client)) candidates.emplace_back(e.used_ms, client);
  std::sort(candidates.begin(), candidates.end());
  for (const auto& [_, client] : candidates) {
    if (entries_.size() <= max_clients_) break;
    entries_.erase(client);
  }
}

}  // namespace skein
