#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

#include "runtime/members.hpp"
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

TEST_CASE("member lists parse and reject bad entries", "[placement]") {
  auto m = parse_members("n1@127.0.0.1:7001,n2@localhost:7002");
  REQUIRE(m.size() == 2);
  CHECK(m[0] == member_address{"n1", "127.0.0.1", 7001});
  CHECK(m[1] == member_address{"n2", "localhost", 7002});
  CHECK(format_members(m) == "n1@127.0.0.1:7001,n2@localhost:7002");
  CHECK(parse_members("").empty());
  CHECK_THROWS_AS(parse_members("n1@127.0.0.1"), std::invalid_argument);
  CHECK_THROWS_AS(parse_members("@127.0.0.1:1"), std::invalid_argument);
  CHECK_THROWS_AS(parse_members("n1@127.0.0.1:99999"), std::invalid_argument);
  CHECK_THROWS_AS(parse_members("n1@a:1,n1@b:2"), std::invalid_argument);
}
