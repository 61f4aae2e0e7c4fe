// The three stored record types and their msgpack codecs.
//
// Wire shape: each record is one msgpack array whose first element is the
// format version (uint32, currently record_format_version = 2):
//   snapshot: [2, seq:uint, journal_seq:uint, epoch:uint, time_ms:int, state:bin,
//              delivery:[[client:str, token:uint, next_cseq:uint, last_id:uint,
//                         retired:[uint...], used_ms:int, credential:str]...]
//              (, state_version:uint (, runtime:str))]   state_version when above
//              1 or when runtime follows; runtime only when not empty
//   journal:  [2, client:str, kind_of_input:str, payload:str, time_ms:int,
//              random:[uint...], epoch:uint, last_seq:uint, outputs:uint32,
//              token:uint, cseq:uint, msg_id:uint, credential:str
//              (, status:uint (, state_hash:uint))]  status when not 0 (applied)
//              or when state_hash follows; state_hash only when not 0
//   outbox:   [2, target:str, data:str]
// Version 1 records (written before client message ids) have no delivery,
// token, cseq or msg_id elements; they decode with those empty/zero, which is
// what they meant. Decoding is strict otherwise: truncated bytes, trailing
// bytes, a wrong type or array length, or another version throw record_error
// naming the column ("snapshots", "journal", "outbox") and the printable key
// passed in. Decoding never crashes.
//
// Times are wall-clock milliseconds since the Unix epoch. All functions are
// pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "persistence/errors.hpp"

namespace skein::persistence {

inline constexpr std::uint32_t record_format_version = 2;
inline constexpr std::uint32_t oldest_record_format_version = 1;  // still decoded

// Per client of a session: how far its inputs were applied, so a re-sent
// input is acknowledged again instead of applied twice (actors/delivery.hpp).
struct delivery_entry {
  std::string client;
  std::uint64_t token = 0;       // the connection whose numbering next_cseq follows
  std::uint64_t next_cseq = 1;   // that connection's next input number
  std::uint64_t last_id = 0;     // highest client message id applied (0 = none)
  std::vector<std::uint64_t> retired;  // tokens of the client's replaced connections
  std::int64_t used_ms = 0;      // wall-clock ms of the client's last input or join
  std::string credential;        // the client's resume token ("" = none recorded)
  bool operator==(const delivery_entry&) const = default;
};

// State of one session after some journal entry (column "snapshots", key =
// seq_key(session, journal_seq); the column holds a history, see store.hpp).
// Recovery = this state + replay of journal entries with seq > journal_seq.
struct snapshot_record {
  std::uint64_t seq = 0;          // seq of the last event the session emitted (0 = none yet)
  std::uint64_t journal_seq = 0;  // last journal entry folded into state (0 = none)
  std::uint64_t epoch = 0;  // activation epoch that wrote it (fencing)
  std::int64_t time_ms = 0; // when the snapshot was taken
  std::string state;        // opaque bytes: the behaviour's msgpack-encoded state
  std::vector<delivery_entry> delivery;  // per-client dedup state (sorted by client)
  // The behaviour's state_version the state bytes were written with
  // (0 or 1: an unversioned state, encoded by omission; actors/instance.hpp).
  std::uint32_t state_version = 0;
  // The session's pending timers and unacknowledged tells as JSON text
  // (actors/timers.hpp; "" = none). Opaque here; the actors layer validates it.
  std::string runtime;
  bool operator==(const snapshot_record&) const = default;
};

// Where an input is in its life (poison-input guard, actors/poison.hpp).
enum class input_status : std::uint32_t {
  applied = 0,      // handled: its outputs are in the outbox (the only status
                    // written without the guard; encoded by omission)
  pending = 1,      // admitted and durable, its handler not known to have
                    // finished: time_ms, random, last_seq and outputs unset
  quarantined = 2,  // its handler crashed the process: never applied; one
                    // error event for its sender (outputs = 1)
};

// One inbound message (column "journal", key = seq_key(session, seq)).
struct journal_record {
  std::string client;                 // sender client id
  std::string kind_of_input;          // "open" | "message" | "close"
  std::string payload;                // JSON text (params for open, text for message)
  std::int64_t time_ms = 0;           // the time the behaviour was given (ctx.now())
  std::vector<std::uint64_t> random;  // random values the behaviour drew, in order
  std::uint64_t epoch = 0;            // activation epoch that accepted it
  std::uint64_t last_seq = 0;         // the session's event seq after this input
  std::uint32_t outputs = 0;          // events this input produced: seqs
                                      // last_seq - outputs + 1 .. last_seq
  std::uint64_t token = 0;            // sending connection (0: none, e.g. an HTTP POST)
  std::uint64_t cseq = 0;             // its number on that connection (0: unordered)
  std::uint64_t msg_id = 0;           // the client's message id (0: none)
  std::string credential;             // open inputs: the client's resume token
  input_status status = input_status::applied;
  // XXH3-64 (xxHash, seed 0) of the behaviour's msgpack state bytes after the
  // handler ran, for `replay --check-state`; 0 = not recorded (the kind's
  // check_state option is off, or the record predates it).
  std::uint64_t state_hash = 0;
  bool operator==(const journal_record&) const = default;
};

// One outbound event (column "outbox", key = seq_key(session, seq)).
struct outbox_record {
  std::string target;  // "" = broadcast to all clients, else a client id
  std::string data;    // JSON text of the event's data
  bool operator==(const outbox_record&) const = default;
};

std::string encode(const snapshot_record&);
std::string encode(const journal_record&);
std::string encode(const outbox_record&);

// Throw record_error (column "snapshots" / "journal" / "outbox", key
// printable_key) if bytes are not exactly one valid record of this version.
snapshot_record decode_snapshot(std::string_view bytes, std::string_view printable_key);
journal_record decode_journal(std::string_view bytes, std::string_view printable_key);
outbox_record decode_outbox(std::string_view bytes, std::string_view printable_key);

}  // namespace skein::persistence
