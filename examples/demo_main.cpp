// skein-demo: the example behaviours behind skein's shared command line.
#include "cli/main.hpp"
#include "examples/auction/auction.hpp"
#include "examples/chat/chat.hpp"
#include "examples/counter/counter.hpp"
#include "examples/lobby/lobby.hpp"
#include "examples/mcp/everything.hpp"
#include "examples/presence/presence.hpp"

int main(int argc, char** argv) {
  skein::behaviour_registry registry;
  registry.add<examples::auction>("auction");
  registry.add<examples::chat>("chat");
  registry.add<examples::counter>("counter");
  registry.add<examples::game>("game");
  registry.add<examples::lobby>("lobby");
  registry.add<skein::mcp::behaviour<examples::mcp_everything>>("mcp");
  registry.add<examples::presence_room>("presence");
  return skein::main(argc, argv, registry);
}
