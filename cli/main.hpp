// skein::main: the command line every application binary shares.
//
//   app node   --name N --listen HOST:PORT --cluster-port P --peers LIST --data DIR
//   app launch --nodes 3 [--base-port P] [--data DIR]
//
// An application registers its behaviours and hands over:
//
//   int main(int argc, char** argv) {
//     skein::behaviour_registry reg;
//     reg.add<my_behaviour>("mine");
//     return skein::main(argc, argv, reg);
//   }
#pragma once

#include "actors/registry.hpp"

namespace skein {

/// Parses the command line, runs the subcommand, returns the exit code:
/// 0 success, 1 runtime failure, 2 usage error.
int main(int argc, char** argv, const behaviour_registry& registry);

}  // namespace skein
