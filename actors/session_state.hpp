// Internal to the session actor (actors/session*.cpp), not a public header:
// its state, the records it keeps per client and per gated batch, and the
// functions its files share. The session's parts, one job per file:
//   session_gate.cpp      inputs applied and committed, the output gate,
//                         release of acks and frames, snapshots and retention
//   session_clients.cpp   join, message, leave: delivery-table admission,
//                         early inputs, acks for repeats
//   session_resume.cpp    a resuming client's missed frames (the outbox read)
//   session_handoff.cpp   stash, ship, adopt, forward, abort
//   session_replicas.cpp  view changes: the replica set and copies for new ones
//   session_timers.cpp    timers: arming, firing as inputs, the passivation hold
//   session_tells.cpp     session-to-session messages: send, re-send, receive, ack
//   session_presence.cpp  recovered clients' resume grace, on_resume
//   session_hibernate.cpp hibernation: no input for hibernate_ms, clients kept
//   session.cpp           the behaviour: message handlers wiring the above, exit
// Everything here runs on the session actor's thread (not thread-safe).
#pragma once

#include <chrono>
#include <cstdint>
#include <boost/container/deque.hpp>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/event_based_actor.hpp>

#include "actors/apply.hpp"
#include "actors/delivery.hpp"
#include "actors/local_commits.hpp"
#include "actors/metrics.hpp"
#include "actors/replication_lag.hpp"
#include "actors/session.hpp"
#include "persistence/store_actor.hpp"
#include "persistence/write_batch.hpp"

namespace skein::session_internal {

using clock = std::chrono::steady_clock;

inline std::int64_t wall_clock_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

/// The server frame of event `seq`: {"seq":N,"data":DATA}.
inline std::string frame_text(std::uint64_t seq, const std::string& data) {
  return "{\"seq\":" + std::to_string(seq) + ",\"data\":" + data + "}";
}

/// How often a durability-none session whose effects wait for the quorum
/// lease looks again (actors/session_gate.cpp, wait_for_lease).
inline constexpr auto lease_wait_tick = std::chrono::milliseconds(50);
/// How long such a session waits before it stops as a durable one would: a
/// late heartbeat's lapse lasts ms; a partition's minority (whose clients
/// then resume on the majority side) lasts longer. The default lease.
inline constexpr auto lease_wait_limit = std::chrono::milliseconds(1500);

struct gated_frame {
  std::uint64_t seq = 0;
  std::string target;           // "" = all
  std::vector<caf::actor> to;   // recipients attached when produced (or resumed since)
  std::string frame;
};

/// An acknowledgement owed to the sender of an input (actors/delivery.hpp).
struct pending_ack {
  caf::actor to;
  std::uint64_t cseq = 0, id = 0;
  std::string error;
};

/// One input's batch: its acks and frames wait here until it is durable enough.
struct gated_output {
  std::uint64_t commit = 0;
  clock::time_point handled;
  bool local_done = false;
  std::map<std::string, caf::actor> replicas;  // replica acks still missing: name -> host sent to
  std::string bytes;               // the encoded batch, re-sent to a replica new to the set
  std::vector<pending_ack> acks;   // released before the frames
  std::vector<gated_frame> frames;
  std::uint64_t runs = 0;          // poison guard: the journal seq of the input
                                   // whose handler runs once this batch is released
  std::vector<std::uint64_t> tells;  // ids of the tells this input sent: sent once released
  bool await_replicas = false;     // wait for every replica's ack whatever the
                                   // durability (a drain's final snapshot)
  bool short_of_replicas = false;  // committed while the replica set was short
                                   // (session_state::set_short): held until it is whole
};

/// Poison guard (actors/poison.hpp): an admitted input whose pending record
/// is being committed; its handler runs once that is durable.
struct guarded_input {
  std::uint64_t jseq = 0;
  persistence::journal_record rec;  // as admitted (status pending)
  caf::actor reply_to;              // where its ack goes (null: nobody waits)
};

/// An input that overtook an earlier one of its connection.
struct early_input {
  std::uint64_t id = 0;
  std::string text;
  caf::actor reply_to;
};

/// Where an input came from: its connection, number and client message id.
struct input_origin {
  std::uint64_t token = 0, cseq = 0, id = 0;
  caf::actor reply_to;
};

struct member {
  std::string params_json;
  caf::actor conn;                         // null while detached (after a handoff)
  std::uint64_t token = 0;                 // the connection joined (delivery.hpp)
  std::map<std::uint64_t, early_input> early;  // messages that overtook others, by cseq
  std::uint64_t leave_at = 0;              // leave once its next cseq reaches it
  // False from a (fresh or reset) open's admission until it runs: with the
  // poison guard an open waits for its pending record, and broadcasts of
  // inputs handled before it must not reach the client ahead of its
  // on_open (or reset) output. Resumes and adopted clients are open.
  bool opened = true;
};

/// An input received while handing off, forwarded in order afterwards.
struct stashed {
  enum { join, message, leave } kind;
  std::string client, params, text;
  caf::actor conn;          // join/leave: the connection; message: reply_to
  std::uint64_t last_seq = 0, cseq = 0;
  bool resume = false;
  std::uint64_t token = 0;
  std::uint64_t id = 0;     // message: client message id
  std::uint64_t next_unacked = 0;  // join: first cseq the connection saw no ack for
};

/// A frame or an ack for a connection that is catching up, held in order.
struct held_message {
  bool is_ack = false;
  std::uint64_t seq = 0;  // frame: its event seq
  std::string frame;      // frame: its text
  std::uint64_t cseq = 0, id = 0;  // ack
  std::string error;               // ack
};

/// A resuming connection whose missed frames are being read from the
/// outbox (see attach_member): what is sent to it meanwhile is held.
struct catch_up {
  std::string client;
  std::uint64_t request = 0;      // matches the store actor's answer
  std::uint64_t last_seq = 0;     // the client has every frame up to this seq
  std::uint64_t first_gated = 0;  // the first seq not released when the read was sent
  bool reset = false;             // needs a reset, deferred while handing off
  // Durability async: the outbox read waits until every batch up to this
  // commit is written, since its frames went out before (0: read sent).
  std::uint64_t after_commit = 0;
  std::vector<held_message> held;
  // Outbox events of a handled record that lingered at the join (sent, not
  // yet written: kind_options::handled_linger_ms), served with the read.
  std::vector<std::pair<std::uint64_t, persistence::outbox_record>> unwritten;
};

/// A replica new to the set whose full copy is being read: it joins
/// st.replicas when the copy is sent.
struct pending_copy {
  caf::actor host;
  std::uint64_t request = 0;  // matches the store actor's answer
  std::vector<std::pair<std::uint64_t, std::string>> batches;  // (commit, bytes) to send after it
};

enum class mode { serving, handing_off, forwarding };

/// Seeds for the handlers' random values, one per input (what a handler
/// draws is journaled, so replays do not need this stream). SplitMix64
/// (Steele, Lea and Flood, "Fast splittable pseudorandom number generators",
/// OOPSLA 2014) from a random start: 8 bytes per session, where the
/// std::mt19937_64 it replaces kept 2.5 KiB of state in every activation.
struct seed_stream {
  std::uint64_t state = initial();
  /// One std::random_device per thread: constructing one per session cost
  /// 1 % of all CPU while 12,000 sessions activated on 6 nodes.
  static std::uint64_t initial() {
    static thread_local std::random_device rd;  // the OS's source (getrandom)
    return (std::uint64_t{rd()} << 32) ^ rd();
  }
  std::uint64_t operator()() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
};

class relay_batch;  // below

/// An event kept in memory for resumes (durability none): the outbox record.
struct recent_event {
  std::uint64_t seq = 0;
  std::string target;  // empty: every client
  std::string data;    // the event's JSON
};

struct session_state {
  static inline const char* name = "skein.session";
  std::string key, id;
  std::shared_ptr<behaviour_instance> logic;
  std::uint64_t seq = 0;          // last event seq
  std::uint64_t journal_seq = 0;  // last journal seq handled (folded into the state)
  std::uint64_t admitted_seq = 0; // last journal seq given to an input (>= journal_seq)
  boost::container::deque<guarded_input> guarded;   // admitted inputs waiting for their handler, in order
  std::vector<std::string> quarantined;  // poison_fingerprint()s refused without running
  std::map<std::pair<std::string, std::uint64_t>, std::string> quarantine_acks;  // (client, cseq) -> error
  std::uint64_t epoch = 0;
  kind_options options;
  persistence::committer* committer = nullptr;
  persistence::store_actor store;
  caf::actor host;
  caf::actor lane;  // this node's outbound lane (runtime/lane.hpp); null: send directly
  caf::actor relay;  // this node's replica actor: remote lanes' bundles come through it
  std::shared_ptr<const cluster_view> view;
  std::vector<std::string> replicas;
  std::map<std::string, caf::actor> replica_hosts;  // the host each replica was last sent to
  std::map<std::string, pending_copy> pending_copies;  // replicas waiting for their copy
  std::map<std::string, clock::time_point> resent_at;  // last re-send of gated batches, by replica
  bool resend_armed = false;                           // a resend_atom is on its way
  bool linger_armed = false;                           // a linger_handled_atom is on its way
  // The handled batch of the last input released early, waiting to be
  // written with the session's next batch (kind_options::handled_linger_ms);
  // null when none waits.
  std::unique_ptr<persistence::write_batch> lingering;
  // The view's replica set (replicas_of) names fewer than min(R - 1, members
  // up besides this node): an up member is not connected (its connection
  // dropped; not yet declared down) and replicas_of skipped it. A batch
  // committed then would be on fewer than R nodes: with durability
  // replicated it is held (gated_output::short_of_replicas) until the set is
  // whole again, by a reconnect (the member gets a copy and the held
  // batches) or by the member being declared down. A replica left out
  // because its copy could not be read (request_copy) does not count: that
  // session serves on with fewer copies until the next view change, as
  // before (cluster.corrupt_sst). Set by set_view.
  bool set_short = false;
  std::map<caf::actor, catch_up> catching_up;        // resuming connections, by connection
  std::map<caf::actor, caf::actor> relay_of;  // connection -> its node's relay (null: direct); session_relay.cpp
  relay_batch* open_batch = nullptr;  // the outermost open relay_batch; session_relay.cpp
  std::uint64_t next_request = 1;                    // ids of store reads
  // Durability none: the last outbox_keep events, oldest first, in place of
  // the outbox in the store (resumes read them; session_resume.cpp).
  boost::container::deque<recent_event> recent;
  std::vector<snapshot_mark> snapshots;  // at most keep_snapshots + 1; a vector: an empty std::deque allocates 576 bytes
  std::uint32_t inputs_since_snapshot = 0;
  // The first snapshot of an activation comes this many inputs (and this
  // share of snapshot_interval_ms) early; 0 after it. Spread by key over
  // [0, snapshot_every), so sessions activated together do not all trim
  // their journals in the same ms (session_gate.cpp, maybe_snapshot).
  std::uint32_t snapshot_phase = 0;
  // Where the next retention trim starts (session_gate.cpp, maybe_snapshot):
  // the end of this activation's previous trim, 0 before the first. A trim
  // of more than 1,024 seqs reads the keys it deletes (store::write), and
  // starting at 0 every time walked every tombstone of the earlier trims
  // again; a shorter one is written as its deletes without a read.
  std::uint64_t journal_trimmed = 0, outbox_trimmed = 0;
  clock::time_point last_snapshot = clock::now();
  std::map<std::string, member> clients;
  delivery_table delivery;                           // per-client dedup, checkpointed
  // boost's deque allocates nothing until used (an empty std::deque: 576
  // bytes, in each of tens of thousands of idle sessions).
  boost::container::deque<gated_output> gate;
  std::uint64_t next_commit = 1;
  // Local commits of batches that also wait for replica acks, seen without
  // a `committed` message (actors/local_commits.hpp); null until the first
  // such batch. local_seen: the last done id already folded into the gate.
  std::shared_ptr<local_commits> local;
  std::uint64_t local_seen = 0;
  replication_lag_tracker lag;
  std::size_t kind_slot = kind_table::other;         // in metrics().kinds
  std::shared_ptr<session_counters> counters;        // read by the host
  std::uint64_t pause_gen = 0;
  seed_stream seeder;  // seeds of the handlers' random values (apply_input journals them)
  // handoff
  mode m = mode::serving;
  caf::actor target_host;
  std::string target_name;
  bool pinned = false;
  bool shipping = false;
  std::chrono::milliseconds adopt_timeout{10000};  // session_init::adopt_timeout
  int adopt_attempts = 3;                          // session_init::adopt_attempts
  std::vector<stashed> stash;
  caf::actor successor;
  std::uint64_t forwarded = 0;
  // timers and tells (the pending ones live in logic->runtime)
  std::set<std::uint64_t> armed;        // timers with a timer_atom on its way (or firing)
  std::set<std::uint64_t> tells_ready;  // tells whose input was released: may be sent
  struct tell_flight { std::uint64_t id = 0; clock::time_point sent; };
  std::map<std::string, tell_flight> tells_in_flight;  // by target: the one tell sent to it
  bool tell_retry_armed = false;
  // Durability none: effects wait in the gate while this node's quorum lease
  // has lapsed; a leasewait tick is armed (actors/session_gate.cpp).
  bool lease_wait_armed = false;
  std::chrono::steady_clock::time_point lease_wait_since{};  // when the wait began
  // presence: recovered clients not attached yet (session_presence.cpp)
  std::set<std::string> awaiting_resume;
  // The timer index entry (persistence/keys.hpp) this activation last wrote:
  // the earliest due time, nullopt for none; unknown until the first write.
  bool timer_index_known = false;
  std::optional<std::int64_t> timer_index_due;
  // passivation
  // The idle countdown (session.cpp): at most one check is on its way at a
  // time, since a delayed message costs a clock entry until it fires (CAF
  // 0.17 cannot cancel one); a check finding the session idle for less than
  // idle_ms sends the next one for the rest.
  std::optional<clock::time_point> idle_since;  // since the last became_idle; none when busy
  std::uint64_t idle_check_gen = 0;  // the check on its way; others are stale
  bool idle_check_armed = false;
  bool idle_checked = false;         // the activation's first check has come
  bool passivating = false;     // the final snapshot is committing; stop when released
  bool drain_passivating = false;  // ... because the node drains (log, metrics)
  // hibernation (session_hibernate.cpp)
  clock::time_point last_input = clock::now();  // the last input or join
  bool hibernate_armed = false;  // a hibernate_atom is on its way
  bool hibernating = false;      // the passivation under way is a hibernation
  clock::time_point hibernate_at{};  // when it began (a later input aborts it)
};

using session_actor = caf::stateful_actor<session_state>;

// -- session_gate.cpp --------------------------------------------------------

/// Stops the activation: a newer one may exist (logged with `why`).
void fenced(session_actor* self, const std::string& why);

/// Durability none: keeps event `seq` in st.recent (at most outbox_keep).
void remember(session_state& st, std::uint64_t seq, const std::string& target, std::string data);

/// Adds a snapshot and the retention deletes to `batch` when one is due (or `force`).
void maybe_snapshot(session_actor* self, persistence::write_batch& batch, bool force);

/// Sends every gated frame and ack whose batch is durable enough, in order;
/// ships a handoff once the gate is empty.
void release(session_actor* self);

/// Writes `batch` locally and to the replica set; `g` waits for both. A
/// lingering handled batch (st.lingering) is written first, in the same batch.
void commit(session_actor* self, persistence::write_batch batch, gated_output g);

/// Commits the lingering handled batch, if any, on its own.
void flush_lingering(session_actor* self);

/// Sends a frame to a connection, or holds it while the connection catches up.
void send_frame(session_actor* self, const caf::actor& to, std::uint64_t seq,
                const std::string& frame);

/// send_frame to each of `to`: one message per node (session_relay.cpp).
void send_frames(session_actor* self, const std::vector<caf::actor>& to, std::uint64_t seq,
                 const std::string& frame);

// -- session_relay.cpp -------------------------------------------------------

/// Sends m (a frame_atom or ack_atom message) to conn: directly if conn is on
/// this node, else through the relay of its node, the path kept per
/// connection until forget_conn.
void to_conn(session_actor* self, const caf::actor& conn, caf::message m);

/// to_conn for each of conns, one relay message per node.
void to_conns(session_actor* self, const std::vector<caf::actor>& conns, const caf::message& m);

/// Sends m (a replicate_atom message) to a replica host: through the lane if
/// the session has one. Every batch to a replica takes this one path, so
/// the replica sees them in the order sent.
void to_replica(session_actor* self, const caf::actor& host, caf::message m);

/// Forgets conn's path: it left, went down or was replaced.
void forget_conn(session_actor* self, const caf::actor& conn);

/// While one is alive, to_conn and to_conns collect what they would send to
/// each relay, and the last one to end sends it as one message per relay
/// (relay_atom, caf::message), in the order collected. release() opens one:
/// an input's ack and frames for a sender on another node then cross the
/// cluster as one message. Nests; not copyable.
class relay_batch {
 public:
  explicit relay_batch(session_actor* self);
  ~relay_batch();
  relay_batch(const relay_batch&) = delete;
  relay_batch& operator=(const relay_batch&) = delete;

  /// (conns, m) for relay, after what it already holds for relay.
  void add(const caf::actor& relay, std::vector<caf::actor> conns, caf::message m);

 private:
  session_actor* self_;
  bool outer_;  // false: nested in another, which sends
  // (relay, its (connections, message) pairs in order), first use first
  std::vector<std::pair<caf::actor, std::vector<std::pair<std::vector<caf::actor>, caf::message>>>>
    out_;
};

/// True if an ack or a frame waits in the gate.
bool gate_holds_effects(const session_state& st);

/// Sends an ack, or holds it (behind the held frames) while `to` catches up.
void send_ack(session_actor* self, const caf::actor& to, std::uint64_t cseq, std::uint64_t id,
              const std::string& error);

/// Runs one input's handler; commits its record (journal seq `jseq`) and
/// outputs; its ack (if `reply_to`) waits in the gate. Returns false if the
/// activation stopped.
/// A pending record (`rec.status` pending, the poison guard's) runs with the
/// time and the seed it was journaled with (`rec.time_ms`, `rec.random[0]`),
/// so that running it again after a crash yields the same outputs.
/// `admitted_durable`: rec's pending record was released from the gate
/// (durable here and on every awaited replica). Its ack and frames then go
/// out as soon as the handler has run, unless an earlier ack or frame still
/// waits in the gate; the handled record is committed behind them
/// (architecture.md, "Poison guard").
bool run_input(session_actor* self, persistence::journal_record rec, std::uint64_t jseq,
               const caf::actor& reply_to, bool admitted_durable = false);

/// Journals one input, runs it, records and routes its outputs (with the
/// poison guard: journals it as pending and runs it once that is durable).
void handle_input(session_actor* self, input_kind kind, const std::string& client_id,
                  const std::string& params_json, const std::string& text, bool reset = false,
                  const input_origin* origin = nullptr);

/// Owes `to` an ack for an input that needs no new batch (a duplicate).
/// A re-send of a quarantined input gets its error instead.
void ack_later(session_actor* self, const caf::actor& to, std::uint64_t cseq, std::uint64_t id,
               const std::string& client = {});

/// A new activation: the inputs recovery found pending are run in order,
/// the one find_poison() named (`poison`, `why`) quarantined instead.
void run_recovered(session_actor* self,
                   std::vector<std::pair<std::uint64_t, persistence::journal_record>> pending,
                   std::optional<std::size_t> poison, const std::string& why);

// -- session_guard.cpp (actors/poison.hpp) ---------------------------------

/// Whether inputs of this session are journaled as pending before they run.
bool guard_on(const session_state& st);

/// Journals `rec` as pending under the next journal seq, with the time
/// (`rec.time_ms`, set by the caller) and the seed of its random values
/// (`rec.random`, one value) that its handler will be given; the handler
/// runs when that batch is released (run_guarded).
void admit_guarded(session_actor* self, persistence::journal_record rec, const caf::actor& reply_to);

/// The pending record of `jseq` is durable: run (or refuse) that input.
/// Returns false if the activation stopped.
bool run_guarded(session_actor* self, std::uint64_t jseq);

// -- session.cpp -------------------------------------------------------------

/// The last client left (or none came): passivate after idle_ms.
void became_idle(session_actor* self);

/// A check of the idle countdown arrived (passivate_atom of its generation).
void on_idle_check(session_actor* self);

/// A client (re)joins: no passivation.
void became_busy(session_actor* self);

// -- session_hibernate.cpp ---------------------------------------------------

/// Arms the hibernation check if the kind hibernates and clients are here.
void arm_hibernate(session_actor* self);
/// The check: hibernate when no input came for hibernate_ms, else re-arm.
void on_hibernate_check(session_actor* self);
/// The final snapshot of a hibernation is committed (release()): true if the
/// session hibernates now (its clients and the directory were told; the
/// caller stops it), false if an input or a join came meanwhile (it serves on).
bool finish_hibernation(session_actor* self);

// -- session_handoff.cpp -----------------------------------------------------

/// The clients as the directory adopts them: [{"id","params","token"}, ...].
std::string clients_json(session_actor* self);

// -- session_clients.cpp -----------------------------------------------------

/// The client's connection is gone: it leaves (a close input).
void drop_client(session_actor* self, const std::string& client_id);

void on_join(session_actor* self, const std::string& client_id, const std::string& params,
             const caf::actor& conn, std::uint64_t last_seq, bool resume, std::uint64_t token,
             std::uint64_t next_unacked, const std::string& credential);
void on_message(session_actor* self, const std::string& client_id, const input_origin& o,
                std::string text);
void on_leave(session_actor* self, const std::string& client_id, std::uint64_t token,
              std::uint64_t next_cseq, const caf::actor& conn);

// -- session_resume.cpp ------------------------------------------------------

/// The member part of a join: its connection, then on_open or the events it missed.
void attach_member(session_actor* self, const std::string& client_id, const std::string& params,
                   const caf::actor& conn, std::uint64_t last_seq, bool resume);

/// After an aborted handoff: the resets that waited for its end.
void run_deferred_resets(session_actor* self);

/// Durability async, after a local commit: the outbox reads of catch-ups
/// that waited for it (catch_up::after_commit).
void read_after_commits(session_actor* self);

// -- session_gate.cpp: local commits without a message ----------------------

/// Marks every gated batch that st.local says is durable here as local_done
/// (and tells the lag tracker).
void sync_local(session_state& st);

/// Asks the committer for a `committed` message at the next local commit
/// (local_commits::notify), then syncs again; true if something became
/// local_done meanwhile (the caller looks again instead of waiting).
bool want_local(session_state& st);

// -- session_publish.cpp -----------------------------------------------------

/// A server-side publish (POST /api/sessions/.../messages) as one input.
void on_publish(session_actor* self, const std::string& client, bool keyed, std::string body,
                const caf::actor& reply_to);

/// The publisher's answer for a handled publish input (its outputs `outs`):
/// {"ok":true,"result":R} or {"ok":false,"code":C,"message":M}.
std::string publish_answer(const persistence::journal_record& rec, const std::vector<output>& outs);

// -- session_handoff.cpp -----------------------------------------------------

/// Routes one input by mode: serve it, stash it, or forward it.
void handle_stashed(session_actor* self, stashed s);

/// The gate is empty while handing off: read the copy and ship it.
void ship(session_actor* self);

/// `stored` (a session copy the store actor read) plus a snapshot of the
/// state in memory, encoded; nullopt (logged) if `stored` does not decode.
std::optional<std::string> with_memory_snapshot(session_actor* self, const std::string& stored);

// -- session_timers.cpp ------------------------------------------------------

/// A new activation: arms its pending timers, sends its pending tells.
void start_runtime(session_actor* self);

/// After an input was applied (run_input): arms the timers it set; its
/// tells wait in `g` for the release (or go at once when `immediate`).
/// `first_id`: the runtime's next_id before the input ran.
void note_effects(session_actor* self, input_kind kind, gated_output& g, std::uint64_t first_id,
                  bool immediate);

/// A timer_atom arrived: journals the firing as a "timer" input if it is
/// still pending.
void on_timer(session_actor* self, std::uint64_t id);

/// Unacknowledged tells keep the session from passivating (timers do not:
/// the directory wakes a passivated session when its timer is due).
bool runtime_holds(const session_state& st);
/// When the session must next run without a client (wall clock ms): its
/// earliest due timer, 0 while a tell is unacknowledged, nullopt for never.
std::optional<std::int64_t> wake_due(const session_state& st);
/// Adds to `batch` the put (or erase) of the session's timer index entry if
/// the earliest due timer changed since this activation last wrote it.
void index_timers(session_state& st, persistence::write_batch& batch);

// -- session_presence.cpp ----------------------------------------------------

/// A new activation: the open clients of the recovered state that are not
/// attached become detached members; those not back in resume_grace_ms are closed.
void await_recovered_clients(session_actor* self);

/// The grace_atom: closes the awaited clients that did not resume.
void on_grace(session_actor* self);

/// Whether a resume of `client_id` comes back into this activation (the
/// client has no member or its member has no connection): on_resume is due.
bool returns_here(const session_state& st, const std::string& client_id);

/// Journals a "resume" input for the (attached) client, if the kind has on_resume.
void run_resume(session_actor* self, const std::string& client_id);

// -- session_tells.cpp -------------------------------------------------------

/// The batch that sent tells `ids` is released: they may go out.
void released_tells(session_actor* self, const std::vector<std::uint64_t>& ids);

/// Sends (or re-sends, after tell_retry) the oldest ready tell of every target.
void pump_tells(session_actor* self);

/// Tell `id` from session `from` arrived: journal it once (a "tell" input),
/// ack `reply_to` when durable.
void receive_tell(session_actor* self, const std::string& from, std::uint64_t id,
                  const std::string& payload, const caf::actor& reply_to);

/// The receiver of tell `id` made it durable (error: its handler rejected it).
void tell_acked(session_actor* self, std::uint64_t id, const std::string& error);

// -- session_replicas.cpp ----------------------------------------------------

/// A new cluster view: the replica set follows it.
void set_view(session_actor* self, std::shared_ptr<const cluster_view> view);
/// Replica acks overdue (`resend_after`): every gated batch from the first
/// one a replica still owes is sent to it again, in order (session_replicas.cpp).
void resend_overdue(session_actor* self);
/// Arms the resend check if a gated batch awaits a replica.
void arm_resend(session_actor* self);

}  // namespace skein::session_internal
