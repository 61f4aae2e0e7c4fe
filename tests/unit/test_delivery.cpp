// delivery_table (actors/delivery.hpp), the client envelope and the v2 records
// that checkpoint them.
#include <catch2/catch.hpp>

#include "actors/delivery.hpp"
#include "actors/envelope.hpp"
#include "persistence/records.hpp"

using namespace skein;
using v = delivery_table::verdict;

TEST_CASE("delivery: a connection's inputs apply in cseq order, each once") {
  delivery_table t;
  REQUIRE(t.attach("c", 7, 1, 0));
  CHECK(t.classify("c", 7, 1, 0) == v::apply);
  CHECK(t.classify("c", 7, 2, 0) == v::early);
  t.consume("c", 7, 1, 0, 0);
  CHECK(t.classify("c", 7, 1, 0) == v::duplicate);
  CHECK(t.classify("c", 7, 2, 0) == v::apply);
  CHECK(t.next_cseq("c", 7) == 2);
}

TEST_CASE("delivery: a new connection retires the old one; its late join and inputs are stale") {
  delivery_table t;
  REQUIRE(t.attach("c", 7, 1, 0));
  t.consume("c", 7, 1, 0, 0);
  REQUIRE(t.attach("c", 9, 1, 0));
  CHECK(t.classify("c", 9, 1, 0) == v::apply);
  CHECK(t.classify("c", 7, 2, 0) == v::stale);
  CHECK_FALSE(t.attach("c", 7, 2, 0));           // late join of the replaced connection
  CHECK(t.classify("c", 9, 1, 0) == v::apply);  // ... changed nothing
  CHECK(t.classify("nobody", 1, 1, 0) == v::stale);
}

TEST_CASE("delivery: client ids are applied once across connections") {
  delivery_table t;
  REQUIRE(t.attach("c", 7, 1, 0));
  t.consume("c", 7, 1, 17, 0);
  REQUIRE(t.attach("c", 9, 1, 0));
  CHECK(t.classify("c", 9, 1, 17) == v::repeat);  // re-sent on the new connection
  CHECK(t.classify("c", 9, 1, 18) == v::apply);
  CHECK(t.classify("c", 0, 0, 17) == v::duplicate);  // one-shot (POST) re-send
  CHECK(t.classify("c", 0, 0, 18) == v::apply);
}

TEST_CASE("delivery: a re-attaching connection's next unacked cseq skips what was acknowledged") {
  delivery_table t;
  REQUIRE(t.attach("c", 7, 1, 0));
  REQUIRE(t.attach("c", 7, 5, 0));  // cseq 1-4 were acknowledged (repeats are not journaled)
  CHECK(t.classify("c", 7, 4, 0) == v::duplicate);
  CHECK(t.classify("c", 7, 5, 0) == v::apply);
  REQUIRE(t.attach("c", 7, 3, 0));  // a late, older join never moves it back
  CHECK(t.next_cseq("c", 7) == 5);
}

TEST_CASE("delivery: replaying the journal and restoring a snapshot give the same table") {
  delivery_table live;
  REQUIRE(live.attach("a", 7, 1, 10));
  live.consume("a", 7, 1, 3, 11);
  live.consume("a", 7, 2, 4, 12);
  REQUIRE(live.attach("a", 9, 1, 13));
  live.consume("a", 9, 1, 5, 14);

  delivery_table replayed;
  for (auto [token, cseq, id, ms] : std::vector<std::tuple<int, int, int, int>>{{7, 1, 3, 11}, {7, 2, 4, 12}, {9, 1, 5, 14}}) {
    persistence::journal_record r;
    r.client = "a";
    r.kind_of_input = "message";
    r.token = token;
    r.cseq = cseq;
    r.msg_id = id;
    r.time_ms = ms;
    replayed.observe(r);
  }
  CHECK(replayed.classify("a", 9, 2, 6) == v::apply);
  CHECK(replayed.classify("a", 9, 1, 0) == v::duplicate);
  CHECK(replayed.classify("a", 9, 2, 5) == v::repeat);
  CHECK(replayed.classify("a", 7, 3, 0) == v::stale);

  delivery_table restored;
  restored.restore(live.to_records());
  CHECK(restored.to_records() == live.to_records());
  CHECK(restored.classify("a", 7, 3, 0) == v::stale);
}

TEST_CASE("delivery: eviction keeps joined clients and drops the least recently used") {
  delivery_table t(2);
  REQUIRE(t.attach("old", 1, 1, 1));
  REQUIRE(t.attach("mid", 2, 1, 2));
  REQUIRE(t.attach("new", 3, 1, 3));
  t.evict([](const std::string& c) { return c == "old"; });
  CHECK(t.size() == 2);
  CHECK(t.classify("old", 1, 1, 0) == v::apply);
  CHECK(t.classify("mid", 2, 1, 0) == v::stale);
}

TEST_CASE("envelope: {id, data} is split; other frames pass; bad ids are refused") {
  auto a = parse_client_input(R"({"id":17,"data":{"op":"add"}})");
  CHECK(a.id == 17);
  CHECK(a.text == R"({"op":"add"})");
  CHECK(a.error.empty());
  auto b = parse_client_input(R"({"op":"add","id":3})");
  CHECK(b.id == 0);
  CHECK(b.text == R"({"op":"add","id":3})");
  auto c = parse_client_input(R"({"id":3,"data":1,"x":2})");
  CHECK(c.id == 0);
  for (const char* bad : {R"({"id":0,"data":1})", R"({"id":-4,"data":1})", R"({"id":1.5,"data":1})",
                          R"({"id":"7","data":1})", R"({"id":9007199254740992,"data":1})"}) {
    INFO(bad);
    CHECK_FALSE(parse_client_input(bad).error.empty());
  }
  CHECK(parse_client_input(R"({"id":9007199254740991,"data":null})").id == max_message_id);
  CHECK(ack_frame(5, "") == R"({"ack":5})");
  CHECK(ack_frame(5, "bad") == R"({"ack":5,"error":"bad"})");
}

TEST_CASE("records: v2 snapshot and journal round-trip; v1 records still decode") {
  using namespace persistence;
  snapshot_record s{3, 4, 5, 6, "state", {{"a", 7, 8, 9, {1, 2}, 10, "tok"}}};
  CHECK(decode_snapshot(encode(s), "k") == s);
  journal_record j;
  j.client = "a";
  j.kind_of_input = "message";
  j.payload = "{}";
  j.token = 7;
  j.cseq = 8;
  j.msg_id = 9;
  CHECK(decode_journal(encode(j), "k") == j);
  // A version 1 snapshot: [1, seq, journal_seq, epoch, time_ms, state]
  const std::string v1{"\x96\x01\x03\x04\x05\x06\xc4\x01x", 9};
  auto old = decode_snapshot(v1, "k");
  CHECK(old.seq == 3);
  CHECK(old.state == "x");
  CHECK(old.delivery.empty());
  // Version 3 is refused by name.
  const std::string v3{"\x96\x03\x03\x04\x05\x06\xc4\x01x", 9};
  CHECK_THROWS_WITH(decode_snapshot(v3, "k"), Catch::Contains("unsupported format version 3"));
}
