#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

#include "runtime/members.hpp"
#include "runtime/membership.hpp"
#include "runtime/placement.hpp"

using namespace skein;

TEST_CASE("HRW gives the same owner from the same members in any order", "[placement]") {
  std::vector<std::string> a{"n1", "n2", "n3"};
  std::vector<std::string> b{"n3", "n1", "n2"};
  for (int i = 0; i < 1000; ++i) {
    auto key = "chat/room-" + std::to_string(i);
    REQUIRE(hrw_owner(key, a) == hrw_owner(key, b));
    REQUIRE(hrw_ranking(key, a) == hrw_ranking(key, b));
    REQUIRE(hrw_ranking(key, a).front() == hrw_owner(key, a));
  }
}

TEST_CASE("HRW spreads keys evenly", "[placement]") {
  std::vector<std::string> nodes{"n1", "n2", "n3"};
  std::map<std::string, int> count;
  for (int i = 0; i < 10000; ++i) ++count[hrw_owner("counter/" + std::to_string(i), nodes)];
  REQUIRE(count.size() == 3);
  for (auto& [_, c] : count) {
    CHECK(c > 3000);
    CHECK(c < 3700);
  }
}

TEST_CASE("adding a 4th node moves about 1/4 of the keys, never between old nodes",
          "[placement]") {
  std::vector<std::string> three{"n1", "n2", "n3"};
  std::vector<std::string> four{"n1", "n2", "n3", "n4"};
  int moved = 0;
  for (int i = 0; i < 10000; ++i) {
    auto key = "chat/" + std::to_string(i);
    auto before = hrw_owner(key, three);
    auto after = hrw_owner(key, four);
    if (before != after) {
      ++moved;
      REQUIRE(after == "n4");
    }
  }
  CHECK(moved > 2200);
  CHECK(moved < 2800);
}

TEST_CASE("removing a node moves only its keys, to the next in its ranking", "[placement]") {
  std::vector<std::string> three{"n1", "n2", "n3"};
  std::vector<std::string> two{"n1", "n3"};
  for (int i = 0; i < 5000; ++i) {
    auto key = "k/" + std::to_string(i);
    auto ranking = hrw_ranking(key, three);
    auto after = hrw_owner(key, two);
    if (ranking[0] != "n2") REQUIRE(after == ranking[0]);
    else REQUIRE(after == ranking[1]);
  }
}

TEST_CASE("empty member list has no owner", "[placement]") {
  std::vector<std::string> none;
  REQUIRE(hrw_owner("chat/a", none).empty());
  REQUIRE(hrw_ranking("chat/a", none).empty());
}

TEST_CASE("seed addresses parse and reject bad entries", "[placement]") {
  auto a = parse_addresses("127.0.0.1:7001,localhost:7002");
  REQUIRE(a.size() == 2);
  CHECK(a[0] == address{"127.0.0.1", 7001});
  CHECK(a[1] == address{"localhost", 7002});
  CHECK(format_addresses(a) == "127.0.0.1:7001,localhost:7002");
  CHECK(parse_addresses("").empty());
  CHECK_THROWS_AS(parse_addresses("127.0.0.1"), std::invalid_argument);
  CHECK_THROWS_AS(parse_addresses(":1"), std::invalid_argument);
  CHECK_THROWS_AS(parse_addresses("h:99999"), std::invalid_argument);
  CHECK_THROWS_AS(parse_addresses("h:x"), std::invalid_argument);
}

namespace {
member_info m(std::string name, std::uint64_t inc, member_state s) {
  return member_info{name, "127.0.0.1", 7000, "http://x", inc, s, 0};
}
}  // namespace

TEST_CASE("membership merge: newer incarnation wins, state only moves forward", "[membership]") {
  membership v;
  CHECK(v.merge(m("n1", 10, member_state::joining)));
  CHECK(v.merge(m("n1", 10, member_state::up)));
  CHECK_FALSE(v.merge(m("n1", 10, member_state::joining)));  // no going back
  CHECK(v.find("n1")->state == member_state::up);
  CHECK(v.merge(m("n1", 10, member_state::down)));
  CHECK_FALSE(v.merge(m("n1", 10, member_state::up)));       // down is final for an incarnation
  CHECK(v.merge(m("n1", 11, member_state::joining)));        // a restart rejoins
  CHECK(v.find("n1")->state == member_state::joining);
  CHECK_FALSE(v.merge(m("n1", 10, member_state::up)));       // an old incarnation loses
}

TEST_CASE("membership merge converges in any order", "[membership]") {
  std::vector<member_info> updates{m("a", 1, member_state::up), m("b", 1, member_state::joining),
                                   m("b", 1, member_state::up), m("a", 1, member_state::down),
                                   m("a", 2, member_state::up), m("c", 5, member_state::draining)};
  membership forward, backward;
  for (auto& u : updates) forward.merge(u);
  for (auto it = updates.rbegin(); it != updates.rend(); ++it) backward.merge(*it);
  CHECK(forward.members() == backward.members());
  CHECK(forward.up() == std::vector<std::string>{"a", "b"});
  CHECK(forward.alive() == std::vector<std::string>{"a", "b", "c"});
  auto copy = membership::from_json(forward.to_json());
  CHECK(copy.members() == forward.members());
  CHECK_THROWS_AS(membership::from_json("{}"), std::invalid_argument);
  CHECK_THROWS_AS(membership::from_json("[{\"name\":1}]"), std::invalid_argument);
}

TEST_CASE("membership carries each member's load: not a view change, kept through JSON", "[membership]") {
  membership v;
  auto a = m("a", 1, member_state::up);
  CHECK(v.merge(a));
  a.sessions = 4;
  a.connections = 17;
  CHECK_FALSE(v.merge(a));  // a load alone changes no placement
  CHECK(v.find("a")->connections == 17);
  CHECK(v.find("a")->sessions == 4);
  a.connections = 3;
  a.state = member_state::draining;
  CHECK(v.merge(a));
  CHECK(v.find("a")->connections == 3);
  auto copy = membership::from_json(v.to_json());
  CHECK(copy.find("a")->connections == 3);
  CHECK(copy.find("a")->sessions == 4);
  // An entry from a node without the field reads as 0.
  auto old = membership::from_json(
    R"([{"name":"b","host":"h","port":1,"url":"http://b","incarnation":1,"state":"up"}])");
  CHECK(old.find("b")->connections == 0);
}

TEST_CASE("a view from a peer is checked field by field before it is merged", "[membership]") {
  // One entry with `field` set to `value` (raw JSON), the rest valid.
  auto entry = [](const std::string& field, const std::string& value) {
    std::map<std::string, std::string> f{{"name", R"("b")"},  {"host", R"("h")"},
                                         {"port", "7"},       {"url", R"("http://b")"},
                                         {"incarnation", "1"}, {"state", R"("up")"}};
    f[field] = value;
    std::string out = "[{";
    for (auto& [k, v] : f) out += (out.size() > 2 ? "," : "") + ("\"" + k + "\":" + v);
    return out + "}]";
  };
  CHECK(membership::from_json(entry("name", R"("n-1.a_B")")).find("n-1.a_B"));
  const std::vector<std::pair<std::string, std::string>> refused{
    {"name", R"("")"},           {"name", R"("a b")"},        {"name", R"("a\u0000")"},
    {"name", "\"" + std::string(129, 'x') + "\""},            {"name", "1"},
    {"host", R"("")"},           {"host", R"("h h")"},         {"port", "0"},
    {"port", "65536"},           {"port", "-1"},               {"port", "7.5"},
    {"port", R"("7")"},          {"incarnation", "-1"},        {"incarnation", "1e30"},
    {"state", R"("gone")"},      {"sessions", "-3"},           {"connections", "[]"},
    {"url", "\"" + std::string(2049, 'u') + "\""}};
  for (auto& [field, value] : refused) {
    INFO(field << " = " << value);
    CHECK_THROWS_AS(membership::from_json(entry(field, value)), std::invalid_argument);
  }
  // Structure: not an array of objects, too deep, too long, too many members.
  CHECK_THROWS_AS(membership::from_json("[1]"), std::invalid_argument);
  CHECK_THROWS_AS(membership::from_json("[[{}]]"), std::invalid_argument);
  CHECK_THROWS_AS(membership::from_json(std::string(50000, '[') + std::string(50000, ']')),
                  std::invalid_argument);
  CHECK_THROWS_AS(membership::from_json(std::string(membership::max_view_bytes + 1, ' ')),
                  std::invalid_argument);
  std::string many = "[";
  for (std::size_t i = 0; i <= membership::max_members; ++i)
    many += (i ? "," : "") + std::string(R"({"name":"n)") + std::to_string(i)
            + R"(","host":"h","port":7,"url":"","incarnation":1,"state":"up"})";
  CHECK_THROWS_AS(membership::from_json(many + "]"), std::invalid_argument);
  // A refused entry refuses the whole view: nothing of it is merged.
  membership v;
  try {
    v.merge(membership::from_json(
      R"([{"name":"a","host":"h","port":7,"url":"","incarnation":1,"state":"up"},)"
      R"({"name":"b","host":"h","port":0,"url":"","incarnation":1,"state":"up"}])"));
  } catch (const std::invalid_argument&) {
  }
  CHECK(v.members().empty());
  // The node refuses a name its peers would refuse.
  CHECK(membership::valid_name("n1"));
  CHECK_FALSE(membership::valid_name("n 1"));
  CHECK_FALSE(membership::valid_name(""));
}
