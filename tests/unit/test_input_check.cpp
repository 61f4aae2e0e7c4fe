// net/input_check (UTF-8, JSON depth) and net/url (UTF-8 in targets, route
// patterns): the checks that keep client bytes from crashing a node.
#include <catch2/catch.hpp>

#include <string>

#include "net/input_check.hpp"
#include "net/publish_answer.hpp"
#include "net/url.hpp"
#include "actors/session_state.hpp"
#include "persistence/records.hpp"

using namespace skein;

TEST_CASE("valid_utf8 accepts UTF-8 and refuses everything else", "[input]") {
  CHECK(valid_utf8(""));
  CHECK(valid_utf8("plain ascii"));
  CHECK(valid_utf8("\xC3\xA9l\xC3\xA9phant \xE2\x82\xAC \xF0\x9F\x98\x80"));  // é € 😀
  CHECK(valid_utf8("\xF4\x8F\xBF\xBF"));                                      // U+10FFFF
  CHECK_FALSE(valid_utf8("\xFF"));
  CHECK_FALSE(valid_utf8("a\x80" "b"));            // lone continuation byte
  CHECK_FALSE(valid_utf8("\xC0\xAF"));             // overlong '/'
  CHECK_FALSE(valid_utf8("\xE0\x80\xAF"));         // overlong 3-byte
  CHECK_FALSE(valid_utf8("\xF0\x80\x80\xAF"));     // overlong 4-byte
  CHECK_FALSE(valid_utf8("\xED\xA0\x80"));         // surrogate U+D800
  CHECK_FALSE(valid_utf8("\xF4\x90\x80\x80"));     // above U+10FFFF
  CHECK_FALSE(valid_utf8("\xE2\x82"));             // truncated
  CHECK_FALSE(valid_utf8("\xC3"));
}

TEST_CASE("json_depth counts nesting outside strings and stops early", "[input]") {
  CHECK(json_depth("{}", 64) == 1);
  CHECK(json_depth(R"({"a":[1,{"b":[]}]})", 64) == 4);
  CHECK(json_depth(R"({"t":"[[[[{{{{"})", 64) == 1);       // brackets in a string
  CHECK(json_depth(R"({"t":"\"[[[["})", 64) == 1);         // an escaped quote
  CHECK(json_depth(R"(["\\",[[]]])", 64) == 3);            // an escaped backslash ends the string
  CHECK(json_depth(std::string(1'000'000, '['), 64) == 65);
  CHECK_FALSE(json_input_problem(std::string(64, '[') + std::string(64, ']')));
  CHECK(*json_input_problem(std::string(65, '[') + std::string(65, ']')) == "JSON nested deeper than 64 levels");
  CHECK(*json_input_problem("\"\xFF\"") == "not valid UTF-8");
}

TEST_CASE("parse_target refuses bytes that are not UTF-8 after decoding, and says why", "[input]") {
  std::string why;
  CHECK_FALSE(parse_target("/sse/counter/x?foo=%FF", &why));
  CHECK(why == "query parameter is not valid UTF-8");
  CHECK_FALSE(parse_target("/sse/counter/x?%C0%AF=1", &why));
  CHECK_FALSE(parse_target("/ws/counter/a%FFb", &why));
  CHECK(why == "path is not valid UTF-8");
  auto ok = parse_target("/ws/chat/%C3%A9?user=%E2%82%AC");
  REQUIRE(ok);
  CHECK(ok->segments.at(2) == "\xC3\xA9");
  CHECK(ok->query.at("user") == "\xE2\x82\xAC");
}

TEST_CASE("path_matches: literals, * and **", "[input]") {
  using v = std::vector<std::string>;
  CHECK(path_matches("/", v{}));
  CHECK_FALSE(path_matches("/", v{"a"}));
  CHECK(path_matches("/cluster/events", v{"cluster", "events"}));
  CHECK_FALSE(path_matches("/cluster", v{"cluster", "events"}));
  CHECK(path_matches("/assets/*", v{"assets", "x.js"}));
  CHECK_FALSE(path_matches("/assets/*", v{"assets"}));
  CHECK_FALSE(path_matches("/assets/*", v{"assets", "a", "b"}));
  CHECK(path_matches("/ws/**", v{"ws"}));
  CHECK(path_matches("/ws/**", v{"ws", "chat", "a", "b"}));
  CHECK_FALSE(path_matches("/ws/**", v{"sse", "chat"}));
}

TEST_CASE("a publish answer of any shape becomes an HTTP answer, never an exception", "[input][publish]") {
  using skein::net_detail::read_publish_answer;
  auto ok = read_publish_answer(R"({"ok":true,"result":{"n":3}})");
  CHECK(ok.status == 200);
  CHECK(ok.body.at("result").at("n") == 3);
  auto bad = read_publish_answer(R"({"ok":false,"code":"bad_input","message":"no"})");
  CHECK(bad.status == 400);
  CHECK(bad.body.at("code") == "bad_input");
  CHECK(bad.body.at("error") == "no");
  auto moving = read_publish_answer(R"({"ok":false,"code":"unavailable","message":"moving"})");
  CHECK(moving.status == 503);
  CHECK(moving.unavailable);
  auto poison = read_publish_answer("poison_input: input not applied: it crashed a node");
  CHECK(poison.status == 422);
  CHECK(poison.body.at("code") == "poison_input");
  // Wrong field types and unknown codes: before, "ok" or "code" of another
  // type threw nlohmann's type_error inside the publish actor, and the HTTP
  // request was never answered.
  for (const char* odd : {R"({"ok":"yes"})", R"({"ok":false,"code":7,"message":[1]})",
                          R"({"ok":false,"code":"made_up"})", "[1,2]", "", "not json"}) {
    auto out = read_publish_answer(odd);
    CHECK(out.status == 422);
    CHECK(out.body.at("code") == "handler_error");
    CHECK_FALSE(out.unavailable);
  }
  // Bytes that are not UTF-8 reach the body and dump with replacement.
  auto raw = read_publish_answer("{\"ok\":false,\"code\":\"bad_input\",\"message\":\"\\u00e9\"}");
  CHECK(raw.status == 400);
  auto junk = read_publish_answer("poison_input: \xff\xfe");
  CHECK_NOTHROW(junk.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

TEST_CASE("a publish's answer is read from its handler's outputs by field type", "[input][publish]") {
  using skein::output;
  using skein::session_internal::publish_answer;
  using json = nlohmann::json;
  skein::persistence::journal_record rec;
  rec.client = "publish:p";
  rec.payload = R"({"text":"{\"a\":1}"})";
  auto answer = [&](std::vector<output> outs) { return json::parse(publish_answer(rec, outs)); };

  auto ok = answer({{"", json{{"type", "said"}}}, {"publish:p", json{{"type", "published"}, {"result", 3}}}});
  CHECK(ok.at("ok") == true);
  CHECK(ok.at("result") == 3);
  CHECK(ok.at("body_hash").is_string());
  auto refused = answer({{"publish:p", json{{"type", "error"}, {"code", "bad_input"}, {"message", "no"}}}});
  CHECK(refused.at("ok") == false);
  CHECK(refused.at("code") == "bad_input");
  CHECK(refused.at("message") == "no");
  // A behaviour's output of another shape: before, value("type", string)
  // threw nlohmann's type_error in the session actor, which stopped the
  // activation.
  auto odd_type = answer({{"publish:p", json{{"type", 5}}}});
  CHECK(odd_type.at("code") == "handler_error");
  auto odd_code = answer({{"publish:p", json{{"type", "error"}, {"code", 7}, {"message", json::array()}}}});
  CHECK(odd_code.at("code") == "bad_input");
  CHECK(odd_code.at("message") == "");
  // A result that is not UTF-8 dumps with U+FFFD instead of throwing.
  std::string answer_text;
  CHECK_NOTHROW(answer_text = publish_answer(rec, {{"publish:p", json{{"type", "published"}, {"result", "\xff"}}}}));
  CHECK(json::parse(answer_text).at("result") == "\xef\xbf\xbd");
}
