// Exactly-once application of client inputs across reconnects, handoffs and
// failover: the per-client delivery state of one session.
//
// Every input a connection actor sends carries three numbers:
//   token  random 64-bit id of the connection (one per client stream; 0 for a
//          one-shot sender such as an HTTP POST);
//   cseq   the connection's number for the input: 1, 2, ... in the order the
//          client sent them (0 for a one-shot sender: no order to keep);
//   id     the client's own message id (`{"id":N,"data":...}`), increasing per
//          client across all its connections; 0 when the client gave none.
// The session applies a connection's inputs in cseq order, each once: one
// that overtook another (through a handoff) waits, one that comes again (the
// connection re-sends what was not acknowledged after a failover) is
// acknowledged again and not applied, and one whose id the client already
// had applied through an earlier connection is acknowledged and skipped.
//
// Each client's entry follows one connection at a time (its token); a new
// connection's join replaces it and retires the old token, so a late join or
// input of the replaced connection is recognised and ignored. The table is
// checkpointed: the journal records (token, cseq, id) of every applied input
// and snapshots carry the whole table, so a new activation (failover,
// handoff) continues it. Inputs that were acknowledged without being applied
// (repeats) are not journaled; the re-attaching connection's join carries the
// first cseq it has not seen acknowledged, which covers them.
//
// Bounds: at most `max_clients` entries (least recently used entries of
// clients not currently joined are evicted first; an evicted client that
// re-sends an old id gets it applied again) and `max_retired` retired tokens
// per client. Not thread-safe: owned by one session actor.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "persistence/records.hpp"

namespace skein {

class delivery_table {
public:
  static constexpr std::size_t default_max_clients = 4096;
  static constexpr std::size_t max_retired = 8;

  enum class verdict {
    apply,      // the next input of the current connection: apply it
    repeat,     // the next input, but its id was applied before: consume, ack, skip
    duplicate,  // already consumed: ack again, skip
    early,      // a gap before it: hold it until the gap fills
    stale,      // from a replaced or unknown connection: drop, no ack
  };

  explicit delivery_table(std::size_t max_clients = default_max_clients)
    : max_clients_(max_clients) {}

  /// Connection `token` of `client` (re)attaches; `next_unacked` is the first
  /// cseq it has not seen acknowledged (everything before is durable). A new
  /// token replaces the current one. Returns false (nothing changed) if the
  /// token was retired: a late join of a replaced connection.
  bool attach(const std::string& client, std::uint64_t token, std::uint64_t next_unacked,
              std::int64_t now_ms);

  verdict classify(const std::string& client, std::uint64_t token, std::uint64_t cseq,
                   std::uint64_t id) const;

  /// Marks the input consumed (after apply or repeat): advances the
  /// connection's next cseq and the client's last id.
  void consume(const std::string& client, std::uint64_t token, std::uint64_t cseq,
               std::uint64_t id, std::int64_t now_ms);

  /// Resume tokens: true if `credential` may act as `client`: the one the
  /// client opened with, or any when none is recorded (a client this table
  /// never saw or evicted), which is then recorded.
  bool admit_credential(const std::string& client, const std::string& credential,
                        std::int64_t now_ms);

  /// The client's recorded resume token ("" if none).
  std::string credential(const std::string& client) const;

  /// The next cseq expected from `token` (0 if it is not the client's current one).
  std::uint64_t next_cseq(const std::string& client, std::uint64_t token) const;

  /// Replay: what a journaled input says about its client's delivery.
  void observe(const persistence::journal_record& rec);

  std::vector<persistence::delivery_entry> to_records() const;
  void restore(const std::vector<persistence::delivery_entry>& entries);

  /// Evicts least recently used entries of clients for which `joined` is
  /// false until at most max_clients remain.
  void evict(const std::function<bool(const std::string&)>& joined);

  std::size_t size() const { return entries_.size(); }

private:
  struct entry {
    std::uint64_t token = 0;
    std::uint64_t next_cseq = 1;
    std::uint64_t last_id = 0;
    std::vector<std::uint64_t> retired;  // oldest first
    std::int64_t used_ms = 0;
    std::string credential;
  };
  static bool is_retired(const entry& e, std::uint64_t token);
  static void switch_token(entry& e, std::uint64_t token);

  std::size_t max_clients_;
  std::map<std::string, entry> entries_;
};

}  // namespace skein
