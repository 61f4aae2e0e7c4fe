// tally: a skein application built against the installed package. One kind,
// `tally`, keeps a count per session id and a per-user total; every
// {"add":K} adds K and tells every client the new values.
#include <cstdint>
#include <map>
#include <string>

#include <skein/skein.hpp>

struct tally_state {
  std::int64_t total = 0;
  std::map<std::string, std::int64_t> by_user;
  MSGPACK_DEFINE(total, by_user);
};

struct tally {
  using state_type = tally_state;

  static skein::kind_options options() {
    skein::kind_options o;
    o.snapshot_every = 50;
    return o;
  }

  void on_open(skein::context<tally_state>& ctx, const skein::client& c) {
    ctx.send(c, {{"total", ctx.state().total}});
  }
  void on_message(skein::context<tally_state>& ctx, const skein::client& c,
                  const skein::json& msg) {
    if (!msg.is_object() || !msg.contains("add") || !msg["add"].is_number_integer())
      throw skein::bad_input("expected {\"add\":K}");
    const auto k = msg["add"].get<std::int64_t>();
    auto& st = ctx.state();
    st.total += k;
    st.by_user[c.param("user", "anonymous")] += k;
    ctx.broadcast({{"total", st.total}, {"by_user", st.by_user}});
  }
  void on_close(skein::context<tally_state>&, const skein::client&) {}
};

int main(int argc, char** argv) {
  skein::behaviour_registry registry;
  registry.add<tally>("tally");
  return skein::main(argc, argv, registry);
}
