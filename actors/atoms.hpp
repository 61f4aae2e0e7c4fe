// The message vocabulary between skein's actors (CAF 0.17 atoms, <= 10 chars).
//
// connection -> host      (resolve_atom, string key[, uint64 hops])    -> actor session
// connection -> session   (join_atom, string client, string params_json, actor conn,
//                          uint64 last_seq, bool resume, uint64 token, uint64 next_unacked,
//                          string resume_token)
//                         (message_atom, string client, uint64 token, uint64 cseq,
//                          uint64 id, string json_text, actor reply_to)
//                         (leave_atom, string client, uint64 token, uint64 next_cseq, actor conn)
//                         token/cseq/id: see actors/delivery.hpp
// session -> connection   (frame_atom, string frame)   one server frame, JSON text
//                         (moved_atom, actor new_session)  re-attach there
//                         (deny_atom, string reason)  the join's resume token is wrong
// session -> reply_to     (ack_atom, uint64 cseq, uint64 id, string error)  the input is
//                          durable (error: it was rejected, not applied)
// host -> host            (gossip_atom, string name, string view_json, int64 ts, int64 echo,
//                          vector<string> suspects, actor directory, actor replica,
//                          string beat_key)   heartbeat + view (runtime/quorum.hpp)
//                         (beat_atom, string datagram)  a UDP heartbeat, handed over by the
//                          local heartbeat channel (runtime/heartbeat_wire.hpp)
//                         (claim_atom, key) -> (bool active, uint64 epoch, uint64 data_epoch,
//                          uint64 journal_seq)
//                         (fetch_atom, key) -> string batch      a full copy of a session
//                         (handoff_atom, key, string target)     hand your activation off
//                         (adopt_atom, key, uint64 epoch, string batch, string clients,
//                          bool pinned) -> actor                  take this activation
//                         (replicate_atom, key, uint64 epoch, string batch, actor session,
//                          uint64 id)  -> later (repl_ack_atom, string node, uint64 id,
//                          string error) to the session
//                         (fence_atom, key, uint64 epoch) -> uint64 stored epoch
//                         (relay_atom, vector<actor> conns, message m)  m is one
//                          (frame_atom, ...) or (ack_atom, ...) for connections on the
//                          replica's node: sent on to each as if by the session
//                          (actors/session_relay.cpp, runtime/replica.cpp)
//                         (drain_atom, string node), (move_atom, key, string to)
// net -> connection       (message_atom, string json_text), (leave_atom)
// session -> itself       (timer_atom, uint64 timer_id)  a timer is due (session_timers.cpp)
//                         (tellretry_atom)  re-send unacknowledged tells
//                         (resend_atom)  re-send batches whose replica acks are overdue
//                         (grace_atom)  recovered clients' resume_grace_ms is over
// session -> session      (tell_atom, string from_key, uint64 tell_id, string json_text,
//                          actor reply_to) -> later (ack_atom, 0, tell_id, error) to reply_to
// committer -> session    (committed_atom, uint64 commit, string error)
// host <-> host           (hello_atom, string name, string url, actor host)
//                           -> (string name, string url)   the dialer introduces itself
//                         (info_atom) -> (string name, string url)
//                         (status_atom) -> string json
//                         (members_atom) -> string json   membership::to_json of the view
#pragma once

#include <caf/atom.hpp>

namespace skein {

using resolve_atom = caf::atom_constant<caf::atom("resolve")>;
using join_atom = caf::atom_constant<caf::atom("join")>;
using message_atom = caf::atom_constant<caf::atom("message")>;
using leave_atom = caf::atom_constant<caf::atom("leave")>;
using frame_atom = caf::atom_constant<caf::atom("frame")>;
using committed_atom = caf::atom_constant<caf::atom("committed")>;
using info_atom = caf::atom_constant<caf::atom("info")>;
using status_atom = caf::atom_constant<caf::atom("status")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;
using hello_atom = caf::atom_constant<caf::atom("hello")>;
using gossip_atom = caf::atom_constant<caf::atom("gossip")>;
using beat_atom = caf::atom_constant<caf::atom("beat")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using claim_atom = caf::atom_constant<caf::atom("claim")>;
using fetch_atom = caf::atom_constant<caf::atom("fetch")>;
using handoff_atom = caf::atom_constant<caf::atom("handoff")>;
using adopt_atom = caf::atom_constant<caf::atom("adopt")>;
using replicate_atom = caf::atom_constant<caf::atom("replicate")>;
using repl_ack_atom = caf::atom_constant<caf::atom("repl_ack")>;
using fence_atom = caf::atom_constant<caf::atom("fence")>;
using relay_atom = caf::atom_constant<caf::atom("relay")>;
using drain_atom = caf::atom_constant<caf::atom("drain")>;
using move_atom = caf::atom_constant<caf::atom("move")>;
using moved_atom = caf::atom_constant<caf::atom("moved")>;
using members_atom = caf::atom_constant<caf::atom("members")>;
using handed_atom = caf::atom_constant<caf::atom("handed")>;
using linger_atom = caf::atom_constant<caf::atom("linger")>;
using placement_atom = caf::atom_constant<caf::atom("placement")>;
using shutdown_atom = caf::atom_constant<caf::atom("shutdown")>;
using ack_atom = caf::atom_constant<caf::atom("ack")>;
using check_atom = caf::atom_constant<caf::atom("check")>;
using deny_atom = caf::atom_constant<caf::atom("deny")>;
/// net -> session (publish_atom, string client, bool keyed, string json_body, actor reply_to):
/// one server-side publish (actors/session_publish.cpp); the answer comes back
/// as (ack_atom, 0, id, string answer_json) once durable.
using publish_atom = caf::atom_constant<caf::atom("publish")>;
using timer_atom = caf::atom_constant<caf::atom("timer")>;
using tell_atom = caf::atom_constant<caf::atom("tell")>;
using tellretry_atom = caf::atom_constant<caf::atom("tellretry")>;
using resend_atom = caf::atom_constant<caf::atom("resend")>;
/// session -> itself (linger_handled_atom): write the handled record still
/// waiting for the next batch (kind_options::handled_linger_ms).
using linger_handled_atom = caf::atom_constant<caf::atom("lingerhand")>;
using grace_atom = caf::atom_constant<caf::atom("grace")>;
/// session -> itself (leasewait_atom): a durability-none session whose effects
/// wait for this node's quorum lease looks again (actors/session_gate.cpp).
using leasewait_atom = caf::atom_constant<caf::atom("leasewait")>;
/// session: stop if idle (passivation); the directory sends generation 0 = now,
/// and `drain_passivation` when its node drains (the final snapshot then waits
/// for every replica whatever the kind's durability, and a session that
/// cannot passivate answers `handed_atom(key, false)` so it is handed off)
using passivate_atom = caf::atom_constant<caf::atom("passivate")>;
/// session -> its directory, directory -> the owner's directory: wake
/// (key, due_ms wall clock, forwarded) at due_ms, a session that passivated
/// with pending timers (runtime/timer_wake.cpp); alone: the directory's tick
using alarm_atom = caf::atom_constant<caf::atom("alarm")>;
/// session -> itself: check whether it may hibernate (kind option
/// hibernate_ms); session -> its clients' connections (the directory that
/// keeps them): the activation hibernated, stay attached to nothing until
/// the client sends or the directory wakes you
using hibernate_atom = caf::atom_constant<caf::atom("hibernate")>;
/// session -> its directory: (key, clients json, connections) it hibernated
/// with; the directory keeps them until the session activates again
using dormant_atom = caf::atom_constant<caf::atom("dormant")>;
/// directory -> a hibernated connection: the session activated again (or
/// moved): resolve and resume
using wake_atom = caf::atom_constant<caf::atom("wake")>;
/// any actor -> its node's lane (runtime/lane.hpp): (bundle_atom, actor or
/// vector<actor> targets, message m): deliver m to targets on another node,
/// coalesced with other messages to that node; lane -> a peer's replica
/// actor: (bundle_atom, slotted_bundle) (runtime/slotted_bundle.hpp),
/// (bundle_atom, packed_bundle), (bundle_atom, vector<bundle_entry>)
/// (runtime/bundle.hpp), or
/// (bundle_atom, message) of (sender, targets, m) triples to a node that has
/// not answered the probe (bundle_atom) -> uint32 format
using bundle_atom = caf::atom_constant<caf::atom("bundle")>;
/// lane -> itself: send what has been coalesced
using flush_atom = caf::atom_constant<caf::atom("flush")>;
inline constexpr std::uint64_t drain_passivation = ~std::uint64_t{0};

}  // namespace skein
