// The example behaviours and the type-erased instance, without CAF.
#include <catch2/catch.hpp>

#include "actors/registry.hpp"
#include "examples/chat/chat.hpp"
#include "examples/counter/counter.hpp"
#include "net/url.hpp"
#include "actors/session_key.hpp"
#include "runtime/session_host.hpp"

using namespace skein;

namespace {
behaviour_registry demo_registry() {
  behaviour_registry r;
  r.add<examples::chat>("chat");
  r.add<examples::counter>("counter");
  return r;
}

effects run(behaviour_instance& b, input_kind k, const client& c, const json& msg = {}) {
  effects fx;
  b.handle(k, c, msg, fx, "room");
  return fx;
}
}  // namespace

TEST_CASE("registry knows its kinds and rejects bad or duplicate ones", "[actors]") {
  auto r = demo_registry();
  CHECK(r.contains("chat"));
  CHECK_FALSE(r.contains("nope"));
  CHECK(r.create("nope") == nullptr);
  CHECK(r.kinds() == std::vector<std::string>{"chat", "counter"});
  CHECK_THROWS_AS(r.add<examples::chat>("chat"), std::invalid_argument);
  CHECK_THROWS_AS(r.add<examples::chat>("Bad Kind"), std::invalid_argument);
}

TEST_CASE("chat broadcasts and keeps the last 50 messages across a snapshot", "[actors]") {
  auto r = demo_registry();
  auto room = r.create("chat");
  client alice{"c1", {{"user", "alice"}}};
  auto fx = run(*room, input_kind::open, alice);
  REQUIRE(fx.outputs.size() == 1);
  CHECK(fx.outputs[0].target == "c1");
  CHECK(fx.outputs[0].data == json{{"type", "history"}, {"messages", json::array()}});
  for (int i = 0; i < 60; ++i) {
    auto said = run(*room, input_kind::message, alice, {{"type", "say"}, {"text", std::to_string(i)}});
    REQUIRE(said.outputs.size() == 1);
    CHECK(said.outputs[0].target.empty());
    CHECK(said.outputs[0].data
          == json{{"type", "said"}, {"user", "alice"}, {"text", std::to_string(i)}});
  }
  auto restored = r.create("chat");
  restored->restore(room->snapshot());
  auto hist = run(*restored, input_kind::open, client{"c2", {}});
  auto& messages = hist.outputs.at(0).data.at("messages");
  REQUIRE(messages.size() == 50);
  CHECK(messages.front() == json{{"user", "alice"}, {"text", "10"}});
  CHECK(messages.back() == json{{"user", "alice"}, {"text", "59"}});
}

TEST_CASE("chat rejects unknown messages with bad_input", "[actors]") {
  auto r = demo_registry();
  auto room = r.create("chat");
  client c{"c1", {}};
  CHECK_THROWS_AS(run(*room, input_kind::message, c, {{"type", "dance"}}), bad_input);
  CHECK_THROWS_AS(run(*room, input_kind::message, c, json::array()), bad_input);
  CHECK_THROWS_AS(run(*room, input_kind::message, c, {{"type", "say"}, {"text", 5}}), bad_input);
  CHECK_THROWS_AS(run(*room, input_kind::message, c, {{"type", "say"}}), json::exception);
}

TEST_CASE("counter adds, rejects bad arguments and restores", "[actors]") {
  auto r = demo_registry();
  auto ctr = r.create("counter");
  client c{"c1", {}};
  CHECK(run(*ctr, input_kind::open, c).outputs.at(0).data == json{{"value", 0}});
  CHECK(run(*ctr, input_kind::message, c, {{"op", "add"}, {"by", 5}}).outputs.at(0).data
        == json{{"value", 5}});
  CHECK(run(*ctr, input_kind::message, c, {{"op", "add"}, {"by", -7}}).outputs.at(0).data
        == json{{"value", -2}});
  CHECK_THROWS_AS(run(*ctr, input_kind::message, c, {{"op", "add"}, {"by", "x"}}), bad_input);
  CHECK_THROWS_AS(run(*ctr, input_kind::message, c, {{"op", "add"}, {"by", 1.5}}), bad_input);
  CHECK_THROWS_AS(run(*ctr, input_kind::message, c, {{"op", "mul"}, {"by", 2}}), bad_input);
  auto copy = r.create("counter");
  copy->restore(ctr->snapshot());
  CHECK(run(*copy, input_kind::open, c).outputs.at(0).data == json{{"value", -2}});
}

TEST_CASE("restoring bytes of the wrong shape throws instead of defaulting", "[actors]") {
  auto r = demo_registry();
  auto ctr = r.create("counter");
  auto chat = r.create("chat");
  chat->restore(chat->snapshot());
  CHECK_THROWS(ctr->restore(std::string("\xc1garbage", 8)));
  CHECK_THROWS(ctr->restore(chat->snapshot()));
}

namespace {
struct tiny_state {
  int x = 0;
  MSGPACK_DEFINE(x);
};
}  // namespace

TEST_CASE("context random() is recorded and reproducible from its seed", "[actors]") {
  tiny_state st;
  effects a, b;
  a.random_state = b.random_state = 42;
  std::string id = "x";
  context<tiny_state> ca{st, a, id}, cb{st, b, id};
  for (int i = 0; i < 4; ++i) REQUIRE(ca.random() == cb.random());
  CHECK(a.random.size() == 4);
  CHECK(a.random == b.random);
  CHECK(a.random[0] != a.random[1]);
}

TEST_CASE("session keys split into kind and id", "[actors]") {
  auto k = session_key::parse("chat/room/a");
  REQUIRE(k);
  CHECK(k->kind() == "chat");
  CHECK(k->id() == "room/a");
  CHECK(k->str() == "chat/room/a");
  CHECK_FALSE(session_key::parse("chat"));
  CHECK_FALSE(session_key::parse("/x"));
  CHECK_FALSE(session_key::parse("chat/"));
  CHECK_FALSE(session_key::parse(""));
  CHECK_FALSE(session_key::parse(std::string("chat/a\0b", 8)));
  CHECK_FALSE(session_key::parse("chat/a\x7f"));
  CHECK_FALSE(session_key::parse("chat/a\xc2\x85"));  // NEL, a C1 control
  CHECK(session_key::parse("chat/" + std::string(507, 'a')));
  CHECK_FALSE(session_key::parse("chat/" + std::string(508, 'a')));
  CHECK(session_key::why_invalid("chat/" + std::string(600, 'a')).find("512") != std::string::npos);
}

TEST_CASE("session keys must be valid UTF-8", "[actors]") {
  // Well-formed multi-byte sequences pass: 2, 3 and 4 bytes.
  CHECK(session_key::parse("chat/caf\xc3\xa9"));
  CHECK(session_key::parse("chat/\xe2\x82\xac"));
  CHECK(session_key::parse("chat/\xf0\x9f\x98\x80"));
  CHECK_FALSE(session_key::parse("counter/a\xff" "b"));       // %FF (issue 14)
  CHECK_FALSE(session_key::parse("counter/a\x80"));           // lone continuation byte
  CHECK_FALSE(session_key::parse("counter/a\xc3"));           // truncated sequence
  CHECK_FALSE(session_key::parse("counter/\xc0\xaf"));       // overlong '/'
  CHECK_FALSE(session_key::parse("counter/\xe0\x80\xaf"));  // overlong '/', 3 bytes
  CHECK_FALSE(session_key::parse("counter/\xf0\x80\x80\xaf"));  // overlong '/', 4 bytes
  CHECK_FALSE(session_key::parse("counter/\xed\xa0\x80"));  // UTF-16 surrogate
  CHECK_FALSE(session_key::parse("counter/\xf4\x90\x80\x80"));  // above U+10FFFF
  auto why = session_key::why_invalid("counter/a\xff");
  CHECK(why == "invalid UTF-8 at byte 9");
}

TEST_CASE("request targets split into segments and decoded query", "[net]") {
  auto t = parse_target("/ws/chat/my%20room?user=al+ice&x=%41&flag");
  REQUIRE(t);
  CHECK(t->segments == std::vector<std::string>{"ws", "chat", "my room"});
  CHECK(t->query.at("user") == "al ice");
  CHECK(t->query.at("x") == "A");
  CHECK(t->query.at("flag").empty());
  CHECK_FALSE(parse_target("ws/chat"));
  CHECK_FALSE(parse_target("/ws/%zz"));
  CHECK_FALSE(parse_target("/ws/a?x=%4"));
  CHECK(parse_target("/")->segments.empty());
}
