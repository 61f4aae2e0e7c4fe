// <skein/skein.hpp>: everything a behaviour file and an application's main()
// include — the behaviour API (skein::context, skein::client, skein::json,
// skein::bad_input), per-kind options (skein::kind_options), the registry
// (skein::behaviour_registry), skein::main (the shared command line) and
// skein::presence_set (skein/presence.hpp).
//
//   #include <skein/skein.hpp>
//   struct my_state { int n = 0; MSGPACK_DEFINE(n); };
//   struct mine { using state_type = my_state; /* on_open, on_message, on_close */ };
//   int main(int argc, char** argv) {
//     skein::behaviour_registry registry;
//     registry.add<mine>("mine");
//     return skein::main(argc, argv, registry);
//   }
//
// Installed under PREFIX/include/skein/; the layer headers it pulls in live
// beside it (PREFIX/include/skein/actors/...), found through the second
// include path that the skein::skein target (and skein.pc) add.
#pragma once

#include <msgpack.hpp>  // MSGPACK_DEFINE for state types

#include "skein/behaviour.hpp"
#include "skein/main.hpp"
#include "skein/presence.hpp"
#include "skein/registry.hpp"
