// The behaviour contract (issue 16, item 6): optional handlers, rejections
// in skein's words, and a state rolled back when a handler throws.
#include <catch2/catch.hpp>

#include <stdexcept>

#include "actors/apply.hpp"
#include "actors/registry.hpp"

using namespace skein;

namespace {

struct tally_state {
  std::int64_t n = 0;
  std::vector<std::string> seen;
  MSGPACK_DEFINE(n, seen);
};

// Only on_message: on_open and on_close are optional.
struct minimal {
  using state_type = tally_state;
  void on_message(context<tally_state>& ctx, const client&, const json& m) {
    ctx.state().n += 1;
    ctx.state().seen.push_back(m.dump());
    if (m.contains("fail")) throw std::runtime_error("internal detail: " + m["fail"].get<std::string>());
    if (m.contains("need")) (void)m.at("missing_field");  // nlohmann's out_of_range
    if (m.contains("reject")) throw bad_input("no thanks");
    if (m.contains("weird")) throw 42;  // not a std::exception: a crash-like bug
    ctx.broadcast({{"n", ctx.state().n}});
  }
};

// The same handler in a kind that declares it needs no rollback copy
// (actors/behaviour.hpp): the runtime takes none, so what the handler
// changed before throwing stays. The kind broke its promise on purpose here,
// to show that the copy is skipped.
struct no_copy : minimal {
  static constexpr bool rollback = false;
};

std::vector<output> apply(behaviour_instance& b, input_kind k, const std::string& text = {},
                          std::string* rejected = nullptr) {
  auto rec = make_input(k, "c1", "{}", text);
  return apply_input(b, rec, "s", false, 1, rejected);
}

}  // namespace

TEST_CASE("a behaviour with only on_message ignores opens and closes", "[actors][contract]") {
  behaviour_registry r;
  r.add<minimal>("minimal");
  auto b = r.create("minimal");
  const auto before = b->snapshot();
  CHECK(apply(*b, input_kind::open).empty());
  CHECK(apply(*b, input_kind::close).empty());
  CHECK(b->snapshot() == before);
  auto outs = apply(*b, input_kind::message, R"({"x":1})");
  REQUIRE(outs.size() == 1);
  CHECK(outs[0].data == json{{"n", 1}});
}

TEST_CASE("a throwing handler rejects its input in skein's words and rolls the state back",
          "[actors][contract]") {
  behaviour_registry r;
  r.add<minimal>("minimal");
  auto b = r.create("minimal");
  REQUIRE(apply(*b, input_kind::message, R"({"x":1})").size() == 1);
  const auto before = b->snapshot();

  std::string why;
  auto outs = apply(*b, input_kind::message, R"({"fail":"secret"})", &why);
  REQUIRE(outs.size() == 1);
  CHECK(outs[0].target == "c1");
  CHECK(outs[0].data == json{{"type", "error"}, {"code", "handler_error"},
                             {"message", "the session could not handle this input"}});
  CHECK(why == "handler_error: the session could not handle this input");
  CHECK(b->snapshot() == before);  // n and seen as they were

  outs = apply(*b, input_kind::message, R"({"need":1})", &why);
  REQUIRE(outs.size() == 1);
  CHECK(outs[0].data.at("code") == "bad_input");
  const auto text = outs[0].data.at("message").get<std::string>();
  CHECK(text.find("json.exception") == std::string::npos);  // no nlohmann text
  CHECK(text.find("missing_field") == std::string::npos);
  CHECK(b->snapshot() == before);

  outs = apply(*b, input_kind::message, R"({"reject":1})", &why);
  REQUIRE(outs.size() == 1);
  CHECK(outs[0].data == json{{"type", "error"}, {"code", "bad_input"}, {"message", "no thanks"}});
  CHECK(why == "bad_input: no thanks");
  CHECK(b->snapshot() == before);

  outs = apply(*b, input_kind::message, "{not json", &why);
  REQUIRE(outs.size() == 1);
  CHECK(outs[0].data.at("code") == "bad_json");

  // Not a std::exception: propagates (the session stops), state still rolled back.
  CHECK_THROWS(apply(*b, input_kind::message, R"({"weird":1})"));
  CHECK(b->snapshot() == before);

  // The session goes on: the next input counts from the rolled-back state.
  outs = apply(*b, input_kind::message, R"({"x":2})", &why);
  REQUIRE(outs.size() == 1);
  CHECK(outs[0].data == json{{"n", 2}});
  CHECK(why.empty());
}

TEST_CASE("a kind with rollback = false gets no state copy: a throw after a change keeps it",
          "[actors][contract]") {
  behaviour_registry r;
  r.add<no_copy>("no_copy");
  auto b = r.create("no_copy");
  REQUIRE(apply(*b, input_kind::message, R"({"x":1})").size() == 1);
  const auto before = b->snapshot();
  std::string why;
  auto outs = apply(*b, input_kind::message, R"({"fail":"x"})", &why);
  REQUIRE(outs.size() == 1);  // still rejected in skein's words, outputs dropped
  CHECK(why == "handler_error: the session could not handle this input");
  CHECK(b->snapshot() != before);  // n went to 2: no copy was put back
  outs = apply(*b, input_kind::message, R"({"x":3})");
  REQUIRE(outs.size() == 1);
  CHECK(outs[0].data == json{{"n", 3}});
}
