// The message vocabulary between skein's actors (CAF 0.17 atoms, <= 10 chars).
//
// connection -> host      (resolve_atom, string key)                 -> actor session
// connection -> session   (join_atom, string client, string params_json, actor conn)
//                         (message_atom, string client, string json_text)
//                         (leave_atom, string client)
// session -> connection   (frame_atom, string frame)   one server frame, JSON text
// net -> connection       (message_atom, string json_text), (leave_atom)
// committer -> session    (committed_atom, uint64 commit, string error)
// host <-> host           (hello_atom, string name, string url, actor host)
//                           -> (string name, string url)   the dialer introduces itself
//                         (info_atom) -> (string name, string url)
//                         (status_atom) -> string json
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

}  // namespace skein
