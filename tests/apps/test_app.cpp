// skein-test-app: the demo behaviours plus test-only pieces.
// - kind `nondet`: reads the wall clock directly (breaks the determinism
//   contract on purpose) so that `replay` must report a divergence;
// - kind `crashy`: counts messages; {"op":"segv"} kills the process with
//   SIGSEGV and {"op":"throw"} throws from the handler (poison inputs);
// - `corrupt --data DIR --column C --session kind/id --seq N`: overwrites one
//   stored record with bytes that do not decode (node must be stopped).
#include <chrono>
#include <csignal>
#include <stdexcept>
#include <cstring>
#include <iostream>
#include <string>

#include "cli/main.hpp"
#include "examples/chat/chat.hpp"
#include "examples/counter/counter.hpp"
#include "persistence/keys.hpp"
#include "persistence/store.hpp"

namespace {

struct nondet_state {
  std::int64_t last = 0;
  MSGPACK_DEFINE(last);
};

struct nondet {
  using state_type = nondet_state;
  void on_open(skein::context<nondet_state>&, const skein::client&) {}
  void on_message(skein::context<nondet_state>& ctx, const skein::client&, const skein::json&) {
    auto t = std::chrono::steady_clock::now().time_since_epoch().count();  // not ctx.now()
    ctx.state().last = t;
    ctx.broadcast({{"t", t}});
  }
  void on_close(skein::context<nondet_state>&, const skein::client&) {}
};

struct crashy_state {
  std::uint64_t count = 0;
  MSGPACK_DEFINE(count);
};

struct crashy {
  using state_type = crashy_state;
  void on_open(skein::context<crashy_state>&, const skein::client&) {}
  void on_message(skein::context<crashy_state>& ctx, const skein::client&, const skein::json& m) {
    const auto op = m.value("op", std::string{});
    if (op == "segv") std::raise(SIGSEGV);
    if (op == "throw") throw std::logic_error("crashy: asked to throw");
    ctx.state().count += 1;
    ctx.broadcast({{"count", ctx.state().count}});
  }
  void on_close(skein::context<crashy_state>&, const skein::client&) {}
};

int corrupt(int argc, char** argv) {
  std::string data, column, session;
  std::uint64_t seq = 0;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--data") data = argv[i + 1];
    else if (flag == "--column") column = argv[i + 1];
    else if (flag == "--session") session = argv[i + 1];
    else if (flag == "--seq") seq = std::stoull(argv[i + 1]);
  }
  skein::persistence::column c;
  if (column == "journal") c = skein::persistence::column::journal;
  else if (column == "snapshots") c = skein::persistence::column::snapshots;
  else if (column == "outbox") c = skein::persistence::column::outbox;
  else {
    std::cerr << "corrupt: --column journal|snapshots|outbox\n";
    return 2;
  }
  skein::persistence::store store{skein::persistence::store_options{data, false, false}};
  skein::persistence::write_batch batch;
  batch.put_raw(c, skein::persistence::seq_key(session, seq), std::string("\x93\xc1\xff", 3));
  store.write(batch);
  std::cout << "corrupted " << column << " " << session << "#" << seq << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "corrupt") == 0) return corrupt(argc, argv);
  skein::behaviour_registry registry;
  registry.add<examples::chat>("chat");
  registry.add<examples::counter>("counter");
  registry.add<nondet>("nondet");
  registry.add<crashy>("crashy");
  return skein::main(argc, argv, registry);
}
