// Binary RocksDB keys.
//
// A session key is the text "kind/id" and must not contain NUL bytes.
// Snapshot, journal and outbox keys are  session_key + '\0' + seq as 8 bytes
// big-endian (for snapshots the seq is the snapshot's journal_seq),
// so the bytewise order of keys is (session, seq) order and a prefix scan over
// session_prefix(s) walks exactly one session in seq order: "chat/a\0..." never
// matches a scan of "chat/ab" and vice versa. The keys of seqs 0..n of a
// session are exactly [seq_key(s, 0), seq_key(s, n + 1)) for n < 2^64 - 1.
//
// All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace skein::persistence {

// session_key + '\0' + big-endian seq (session_key.size() + 9 bytes).
// Throws std::invalid_argument if session_key contains a NUL byte.
std::string seq_key(std::string_view session_key, std::uint64_t seq);

// Rewrites the seq of `key`, a seq_key (its last 8 bytes), in place: the
// keys of one session's seqs without building each from the session key.
// Precondition: `key` is a seq_key (parse_seq_key accepts it).
void set_seq(std::string& key, std::uint64_t seq);

// session_key + '\0': the common prefix of every seq_key of that session.
// Throws std::invalid_argument if session_key contains a NUL byte.
std::string session_prefix(std::string_view session_key);

// Splits a seq_key into (session key, seq); nullopt if it is not one.
std::optional<std::pair<std::string, std::uint64_t>> parse_seq_key(std::string_view binary_key);

// Human-readable form for messages: "chat/room1#42" for a seq key, the text
// itself otherwise. Non-printable bytes are shown as \xNN.
std::string printable(std::string_view binary_key);

// The meta-column key of a session's fencing epoch: "epoch/" + session key.
// Its value is the epoch as decimal text.
std::string epoch_meta_key(std::string_view session_key);

// The meta-column key of a session's entry in the timer index:
// timer_index_prefix + session key. Its value is the earliest due time of
// the session's pending timers, ms since the Unix epoch, as decimal text.
// Written (or erased when no timer is pending) in the same batch as the
// journal entry that changed the timers, so every copy of the session
// (owner and replicas) carries it; runtime/timer_wake.cpp reads it.
inline constexpr std::string_view timer_index_prefix = "timers/";
std::string timer_meta_key(std::string_view session_key);

// The meta-column key of the last cluster membership this node knew
// (runtime/membership_actor.cpp): membership::to_json of its view, without
// the session and connection counts. Read once at start.
inline constexpr std::string_view membership_meta_key = "cluster/membership";

}  // namespace skein::persistence
