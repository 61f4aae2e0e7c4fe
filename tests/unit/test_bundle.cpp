// Typed lane bundles (runtime/bundle.hpp): every kind crosses CAF's
// serialization as the message it stands for, and an unknown kind is dropped.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/atoms.hpp"
#include "runtime/bundle.hpp"
#include "runtime/packed_bundle.hpp"
#include "runtime/slotted_bundle.hpp"

using namespace skein;

namespace {

/// What a peer's replica actor reads: a bundle (typed entries or a packed
/// bundle) serialized inside a message, as BASP carries it, and read back
/// by type name.
template <class Bundle>
Bundle over_the_wire(caf::actor_system& sys, Bundle bundle) {
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  auto out = caf::make_message(bundle_atom::value, std::move(bundle));
  REQUIRE(!sink(out));
  caf::message in;
  caf::binary_deserializer source{sys, buf};
  REQUIRE(!source(in));
  REQUIRE(in.match_elements<bundle_atom, Bundle>());
  return in.get_as<Bundle>(1);
}

}  // namespace

TEST_CASE("bundle entries carry each kind across serialization unchanged", "[bundle]") {
  caf::actor_system_config cfg;
  add_bundle_types(cfg);
  caf::actor_system sys{cfg};
  auto a = sys.spawn([]() -> caf::behavior { return {[](int) {}}; });
  auto b = sys.spawn([]() -> caf::behavior { return {[](int) {}}; });

  const std::vector<caf::message> sent{
    caf::make_message(frame_atom::value, std::string{R"({"seq":7,"data":"hi"})"}),
    caf::make_message(ack_atom::value, std::uint64_t{3}, std::uint64_t{41}, std::string{"busy"}),
    caf::make_message(repl_ack_atom::value, std::string{"n2"}, std::uint64_t{9}, std::string{}),
    caf::make_message(replicate_atom::value, std::string{"chat/r"}, std::uint64_t{5},
                      std::string{"\x00\x01" "batch", 7}, a, std::uint64_t{12}),
    caf::make_message(message_atom::value, std::string{"c1"}, std::uint64_t{77}, std::uint64_t{4},
                      std::uint64_t{8}, std::string{"{\"text\":\"x\"}"}, b),
    // a kind without its own fields: travels as a type-erased message
    caf::make_message(leave_atom::value, std::string{"c1"}, std::uint64_t{77}, std::uint64_t{5}, b),
  };
  std::vector<bundle_entry> entries;
  for (const auto& m : sent) {
    auto& e = entries.emplace_back();
    e.sender = a;
    e.targets = {b, a};
    to_entry(m, e);
  }
  CHECK(entries[0].what == static_cast<std::uint8_t>(bundle_entry::kind::frame));
  CHECK(entries[4].what == static_cast<std::uint8_t>(bundle_entry::kind::input));
  CHECK(entries[5].what == static_cast<std::uint8_t>(bundle_entry::kind::other));

  auto got = over_the_wire(sys, std::move(entries));
  REQUIRE(got.size() == sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i].sender == a);
    CHECK(got[i].targets == std::vector<caf::actor>{b, a});
    const auto m = to_message(got[i]);
    CHECK(to_string(m) == to_string(sent[i]));
    CHECK(m.type_token() == sent[i].type_token());
  }
  caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(b, caf::exit_reason::user_shutdown);
}

TEST_CASE("a bundle entry of a kind this node does not know becomes an empty message", "[bundle]") {
  caf::actor_system_config cfg;
  add_bundle_types(cfg);
  caf::actor_system sys{cfg};
  std::vector<bundle_entry> entries(1);
  entries[0].what = 200;  // a newer peer's kind
  entries[0].s1 = "whatever";
  auto got = over_the_wire(sys, std::move(entries));
  REQUIRE(got.size() == 1);
  CHECK(to_message(got[0]).empty());
}

TEST_CASE("a bundle whose inner message CAF cannot read fails with an error, not a throw",
          "[bundle]") {
  // CAF 0.17 throws std::runtime_error reading a caf::config_value with a
  // bad variant index; out of a BASP worker that ends the node. An entry's
  // `other` message may hold one (tests/fuzz/corpus/bundle has the input the
  // fuzzer found).
  caf::actor_system_config cfg;
  add_bundle_types(cfg);
  caf::actor_system sys{cfg};
  const std::string marker = "skein-marker";
  std::vector<bundle_entry> entries(1);
  to_entry(caf::make_message(caf::config_value{marker}), entries[0]);
  REQUIRE(entries[0].what == static_cast<std::uint8_t>(bundle_entry::kind::other));
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  REQUIRE(!sink(entries));
  // The variant's index is the byte before the string's one-byte length.
  auto at = std::search(buf.begin(), buf.end(), marker.begin(), marker.end());
  REQUIRE(at != buf.end());
  REQUIRE(at - buf.begin() >= 2);
  REQUIRE(*(at - 1) == static_cast<char>(marker.size()));
  *(at - 2) = static_cast<char>(0x7f);

  std::vector<bundle_entry> got;
  caf::binary_deserializer source{sys, buf};
  caf::error err;
  CHECK_NOTHROW(err = source(got));
  CHECK(err == caf::sec::invalid_argument);
}

TEST_CASE("packed bundles carry each kind unchanged and each actor once", "[bundle]") {
  caf::actor_system_config cfg;
  add_bundle_types(cfg);
  caf::actor_system sys{cfg};
  auto a = sys.spawn([]() -> caf::behavior { return {[](int) {}}; });
  auto b = sys.spawn([]() -> caf::behavior { return {[](int) {}}; });
  auto c = sys.spawn([]() -> caf::behavior { return {[](int) {}}; });

  const std::vector<caf::message> sent{
    caf::make_message(frame_atom::value, std::string{R"({"seq":7,"data":"hi"})"}),
    caf::make_message(ack_atom::value, std::uint64_t{3}, ~std::uint64_t{0}, std::string{"busy"}),
    caf::make_message(repl_ack_atom::value, std::string{"n2"}, std::uint64_t{9}, std::string{}),
    caf::make_message(replicate_atom::value, std::string{"chat/r"}, std::uint64_t{5},
                      std::string{"\x00\x01" "batch", 7}, a, std::uint64_t{1} << 40),
    caf::make_message(message_atom::value, std::string{"c1"}, std::uint64_t{77}, std::uint64_t{4},
                      std::uint64_t{8}, std::string(300, 'x'), c),
  };
  std::vector<bundle_entry> entries;
  for (std::size_t i = 0; i < sent.size(); ++i) {
    auto& e = entries.emplace_back();
    if (i != 2) e.sender = a;  // one anonymous send
    e.targets = {b, i % 2 == 0 ? a : c};
    to_entry(sent[i], e);
  }
  REQUIRE(packable(entries));
  auto packed = pack(std::move(entries));
  CHECK(packed.actors.size() == 3);  // a, b and c, once each
  auto got_packed = over_the_wire(sys, std::move(packed));
  auto got = unpack(got_packed);
  REQUIRE(got);
  REQUIRE(got->size() == sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) {
    CAPTURE(i);
    CHECK((*got)[i].sender == (i != 2 ? a : caf::actor{}));
    CHECK((*got)[i].targets == std::vector<caf::actor>{b, i % 2 == 0 ? a : c});
    const auto m = to_message((*got)[i]);
    CHECK(to_string(m) == to_string(sent[i]));
    CHECK(m.type_token() == sent[i].type_token());
  }
  for (auto* x : {&a, &b, &c}) caf::anon_send_exit(*x, caf::exit_reason::user_shutdown);
}

TEST_CASE("a packed bundle whose body does not decode is refused whole", "[bundle]") {
  caf::actor_system_config cfg;
  add_bundle_types(cfg);
  caf::actor_system sys{cfg};
  auto a = sys.spawn([]() -> caf::behavior { return {[](int) {}}; });
  std::vector<bundle_entry> entries(2);
  for (auto& e : entries) {
    e.sender = a;
    e.targets = {a};
    to_entry(caf::make_message(frame_atom::value, std::string{"{\"seq\":1}"}), e);
  }
  const auto good = pack(std::move(entries));
  {
    auto copy = good;
    REQUIRE(unpack(copy));
  }
  auto refused = [&](std::string body, std::size_t actors = 1) {
    packed_bundle b;
    b.actors.assign(actors, a);
    b.body = std::move(body);
    return !unpack(b).has_value();
  };
  // Every truncation, and one trailing byte.
  for (std::size_t n = 0; n < good.body.size(); ++n) CHECK(refused(good.body.substr(0, n)));
  CHECK(refused(good.body + '\0'));
  // An actor index past the table.
  CHECK(refused(good.body, 0));
  // A count far larger than the body: refused before anything is sized by it.
  CHECK(refused(std::string("\xff\xff\xff\xff\x0f", 5)));
  // A varint longer than 10 bytes, and one past 2^64.
  CHECK(refused(std::string(11, '\x80') + '\x01'));
  CHECK(refused(std::string(9, '\xff') + '\x02'));
  // An entry of a kind without fields of its own (a leave) is not packable.
  std::vector<bundle_entry> other(1);
  to_entry(caf::make_message(leave_atom::value, std::string{"c1"}), other[0]);
  CHECK_FALSE(packable(other));
  caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}

// --- format 3: slotted bundles (runtime/slotted_bundle.hpp) -----------------

namespace {

/// n actors that do nothing (stopped by the test with user_shutdown).
std::vector<caf::actor> idle_actors(caf::actor_system& sys, int n) {
  std::vector<caf::actor> actors;
  for (int i = 0; i < n; ++i) actors.push_back(sys.spawn([]() -> caf::behavior { return {[](int) {}}; }));
  return actors;
}

std::vector<bundle_entry> frames_to(const std::vector<caf::actor>& targets, const caf::actor& from,
                                    const std::string& text) {
  std::vector<bundle_entry> entries;
  for (const auto& t : targets) {
    auto& e = entries.emplace_back();
    e.sender = from;
    e.targets = {t};
    to_entry(caf::make_message(frame_atom::value, text), e);
  }
  return entries;
}

}  // namespace

TEST_CASE("slotted bundles name an actor in full once per table, then by slot", "[bundle]") {
  caf::actor_system_config cfg;
  add_bundle_types(cfg);
  caf::actor_system sys{cfg};
  auto actors = idle_actors(sys, 4);
  slot_writer w;
  slot_reader r;
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    auto b = over_the_wire(sys, w.pack(frames_to({actors[1], actors[2], actors[3]}, actors[0],
                                                 "r" + std::to_string(round))));
    CHECK(b.seq == static_cast<std::uint64_t>(round));
    // All four actors cross in the first bundle, none after.
    CHECK(b.actors.size() == (round == 0 ? 4u : 0u));
    auto got = r.unpack(b);
    REQUIRE(got);
    REQUIRE(got->size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
      CHECK((*got)[i].sender == actors[0]);
      CHECK((*got)[i].targets == std::vector<caf::actor>{actors[i + 1]});
      CHECK(to_string(to_message((*got)[i]))
            == to_string(caf::make_message(frame_atom::value, "r" + std::to_string(round))));
    }
  }
  CHECK(w.size() == 4);
  CHECK(r.size() == 4);
  // A reset forgets every slot at both ends; the next bundle names the actors again.
  auto fresh = over_the_wire(sys, w.reset());
  CHECK(fresh.seq == 0);
  CHECK(fresh.generation == 1);
  REQUIRE(r.unpack(fresh));
  CHECK(r.size() == 0);
  CHECK(w.size() == 0);
  auto again = over_the_wire(sys, w.pack(frames_to({actors[1]}, actors[0], "x")));
  CHECK(again.actors.size() == 2);
  auto got = r.unpack(again);
  REQUIRE(got);
  CHECK((*got)[0].targets == std::vector<caf::actor>{actors[1]});
  for (auto& x : actors) caf::anon_send_exit(x, caf::exit_reason::user_shutdown);
}

TEST_CASE("a slotted bundle may reuse a slot it named earlier in the same bundle", "[bundle]") {
  caf::actor_system_config cfg;
  add_bundle_types(cfg);
  caf::actor_system sys{cfg};
  auto actors = idle_actors(sys, 5);
  slot_writer w{2};  // fewer slots than actors in one bundle
  slot_reader r;
  std::vector<caf::actor> targets(actors.begin() + 1, actors.end());
  for (int round = 0; round < 2; ++round) {
    auto b = over_the_wire(sys, w.pack(frames_to(targets, actors[0], "y")));
    auto got = r.unpack(b);
    REQUIRE(got);
    REQUIRE(got->size() == targets.size());
    for (std::size_t i = 0; i < targets.size(); ++i) {
      CAPTURE(round, i);
      CHECK((*got)[i].sender == actors[0]);
      CHECK((*got)[i].targets == std::vector<caf::actor>{targets[i]});
    }
  }
  CHECK(w.size() == 2);
  CHECK(r.size() == 2);
  for (auto& x : actors) caf::anon_send_exit(x, caf::exit_reason::user_shutdown);
}

TEST_CASE("a slotted bundle out of order or that does not decode is refused, until a new table",
          "[bundle]") {
  caf::actor_system_config cfg;
  add_bundle_types(cfg);
  caf::actor_system sys{cfg};
  auto a = sys.spawn([]() -> caf::behavior { return {[](int) {}}; });
  auto c = sys.spawn([]() -> caf::behavior { return {[](int) {}}; });

  SECTION("a lost bundle") {
    slot_writer w;
    slot_reader r;
    auto first = w.pack(frames_to({a}, c, "0"));
    REQUIRE(r.unpack(first));
    auto lost = w.pack(frames_to({a}, c, "1"));
    (void)lost;
    auto next = w.pack(frames_to({a}, c, "2"));
    CHECK_FALSE(r.unpack(next));
    CHECK(r.refused_generation() == 0);
    CHECK(r.size() == 0);
    // The old generation stays refused, even in order again.
    auto later = w.pack(frames_to({a}, c, "3"));
    CHECK_FALSE(r.unpack(later));
    // The lane's answer: a new generation.
    auto fresh = w.reset();
    REQUIRE(r.unpack(fresh));
    auto ok = w.pack(frames_to({a}, c, "4"));
    auto got = r.unpack(ok);
    REQUIRE(got);
    CHECK((*got)[0].targets == std::vector<caf::actor>{a});
    CHECK((*got)[0].sender == c);
  }
  SECTION("a first bundle that is not seq 0") {
    slot_writer w;
    slot_reader r;
    (void)w.pack(frames_to({a}, c, "0"));
    auto second = w.pack(frames_to({a}, c, "1"));
    CHECK_FALSE(r.unpack(second));
  }
  SECTION("forged refs") {
    auto refused = [&](std::string body, std::size_t actors) {
      slot_reader r;
      slotted_bundle b;
      b.actors.assign(actors, a);
      b.body = std::move(body);
      return !r.unpack(b).has_value();
    };
    // One frame entry: count 1, kind frame, sender ref, 1 target, target ref,
    // n1..n3, s1 "", s2 "", a 0.
    auto body = [](std::uint8_t sender, std::uint8_t target) {
      return std::string{'\x01', '\x01', static_cast<char>(sender), '\x01', static_cast<char>(target),
                         '\0', '\0', '\0', '\0', '\0', '\0'};
    };
    CHECK_FALSE(refused(body(2, 1), 1));  // slot 0 introduced, then named
    CHECK(refused(body(1, 1), 0));        // slot 0 named, never introduced
    CHECK(refused(body(2, 4), 1));        // a second introduction with one actor sent
    CHECK(refused(body(2, 1), 2));        // an actor sent but never introduced
    // A slot at max_slots: ref 2 * 65536 + 2 as a varint.
    const auto ref = 2 * std::uint64_t{max_slots} + 2;
    std::string far{'\x01', '\x01'};
    for (auto v = ref; ; v >>= 7) {
      if (v < 0x80) { far.push_back(static_cast<char>(v)); break; }
      far.push_back(static_cast<char>((v & 0x7f) | 0x80));
    }
    far += std::string{'\0', '\0', '\0', '\0', '\0', '\0', '\0'};
    CHECK(refused(far, 1));
  }
  SECTION("an actor that is gone when its introduction arrives") {
    // CAF reads a handle to a local actor that has terminated as no actor:
    // the slot is set all the same, and later refs to it are no actor, not
    // a refusal (the writer goes on naming the slot).
    slot_writer w;
    auto b = w.pack(frames_to({a, a}, c, "z"));
    REQUIRE(b.actors.size() == 2);  // a and c
    for (auto& x : b.actors)
      if (x == a) x = caf::actor{};
    slot_reader r;
    auto got = r.unpack(b);
    REQUIRE(got);
    CHECK((*got)[0].targets == std::vector<caf::actor>{caf::actor{}});
    CHECK((*got)[1].targets == std::vector<caf::actor>{caf::actor{}});
    CHECK((*got)[1].sender == c);
    auto next = w.pack(frames_to({a}, c, "z2"));
    auto more = r.unpack(next);
    REQUIRE(more);
    CHECK((*more)[0].targets == std::vector<caf::actor>{caf::actor{}});
  }
  caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(c, caf::exit_reason::user_shutdown);
}

TEST_CASE("slotted bundles tell apart two nodes' actors of the same id", "[bundle]") {
  // Two systems with the middleman loaded have node ids of their own.
  caf::actor_system_config cfg1;
  cfg1.load<caf::io::middleman>();
  add_bundle_types(cfg1);
  caf::actor_system one{cfg1};
  caf::actor_system_config cfg2;
  cfg2.load<caf::io::middleman>();
  add_bundle_types(cfg2);
  caf::actor_system two{cfg2};
  REQUIRE(one.node() != two.node());
  auto idle = []() -> caf::behavior { return {[](int) {}}; };
  std::vector<caf::actor> keep;
  auto x = one.spawn(idle);
  auto y = two.spawn(idle);
  // Spawn in the system behind until the ids meet (both count up from 1).
  for (int i = 0; i < 1000 && x.id() != y.id(); ++i) {
    if (x.id() < y.id()) {
      keep.push_back(x);
      x = one.spawn(idle);
    } else {
      keep.push_back(y);
      y = two.spawn(idle);
    }
  }
  REQUIRE(x.id() == y.id());
  slot_writer w;
  slot_reader r;
  for (int round = 0; round < 2; ++round) {
    // They share the writer's entry for their id, so each may be named in
    // full again; what matters is that neither is read as the other.
    auto b = w.pack(frames_to({x, y, x, y}, caf::actor{}, "s"));
    auto got = r.unpack(b);
    REQUIRE(got);
    REQUIRE(got->size() == 4);
    CHECK((*got)[0].targets == std::vector<caf::actor>{x});
    CHECK((*got)[1].targets == std::vector<caf::actor>{y});
    CHECK((*got)[2].targets == std::vector<caf::actor>{x});
    CHECK((*got)[3].targets == std::vector<caf::actor>{y});
  }
  keep.push_back(x);
  keep.push_back(y);
  for (auto& k : keep) caf::anon_send_exit(k, caf::exit_reason::user_shutdown);
}
