// `skein`: skein's command line with no session kinds registered — for
// `skein new NAME` (a project template) and the tools that need no
// behaviour (ctl, inspect). Applications build their own binary the same
// way, with their kinds in the registry (docs/user-guide.md).
#include "cli/main.hpp"

int main(int argc, char** argv) {
  return skein::main(argc, argv, skein::behaviour_registry{});
}
