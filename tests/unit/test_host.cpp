// The session host and the session actor in one actor system, with a real
// store and committer: the review bugs of issue 10 (epochs, fences, adopt,
// handoff copies) and the skein error category.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <random>
#include <string>

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>

#include "actors/atoms.hpp"
#include "actors/errors.hpp"
#include "actors/recovery.hpp"
#include "actors/registry.hpp"
#include "actors/session.hpp"
#include "examples/counter/counter.hpp"
#include "persistence/committer.hpp"
#include "persistence/keys.hpp"
#include "persistence/store.hpp"
#include "persistence/store_actor.hpp"
#include "runtime/membership.hpp"
#include "runtime/placement.hpp"
#include "runtime/session_host.hpp"

using namespace skein;
namespace fs = std::filesystem;

namespace {

constexpr auto answer_within = std::chrono::seconds(10);

struct temp_dir {
  fs::path path;
  temp_dir() {
    std::random_device rd;
    path = fs::temp_directory_path()
           / ("skein-host-" + std::to_string(rd()) + "-" + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

caf::actor_system_config& configure(caf::actor_system_config& cfg) {
  cfg.load<caf::io::middleman>();
  add_error_category(cfg);
  persistence::add_store_error_category(cfg);
  return cfg;
}

member_info member(const std::string& name, member_state state) {
  member_info m;
  m.name = name;
  m.host = "127.0.0.1";
  m.cluster_port = 1;
  m.url = "http://127.0.0.1:1";
  m.incarnation = 1;
  m.state = state;
  return m;
}

// One node "a" (no seeds: it forms a cluster alone), its store and committer.
struct host_fixture {
  temp_dir tmp;
  behaviour_registry registry;
  persistence::store store;
  persistence::committer committer;
  caf::actor_system_config cfg;
  caf::actor_system sys;
  persistence::store_actor store_reader;
  caf::actor host;

  host_fixture()
    : store(persistence::store_options{(tmp.path / "db").string()}),
      committer(store),
      sys(configure(cfg)) {
    registry.add<examples::counter>("counter");
    host_init init;
    init.self = member("a", member_state::joining);
    init.replicas = 2;
    init.heartbeat_interval = std::chrono::milliseconds(100);
    init.failure_timeout = std::chrono::seconds(60);  // fake peers never gossip
    init.registry = &registry;
    init.store = &store;
    store_reader = persistence::spawn_store_actor(sys, store);
    init.store_reader = store_reader;
    init.committer = &committer;
    init.status = std::make_shared<host_status>();
    host = spawn_session_host(sys, std::move(init));
  }
  ~host_fixture() {
    caf::anon_send_exit(host, caf::exit_reason::user_shutdown);
    sys.await_all_actors_done();
    caf::anon_send_exit(store_reader, caf::exit_reason::user_shutdown);
    caf::scoped_actor waiter{sys};
    waiter->wait_for(store_reader);
  }

  void put_meta(const std::string& key, const std::string& value) {
    persistence::write_batch b;
    b.put_meta(key, value);
    store.write(b);
  }

  // The host's answer to `msg...`: the actor, or the error.
  template <class... Ts>
  caf::expected<caf::actor> ask(Ts... msg) {
    caf::scoped_actor self{sys};
    caf::expected<caf::actor> out{caf::actor{}};
    self->request(host, answer_within, msg...)
      .receive([&](caf::actor& a) { out = std::move(a); },
               [&](caf::error& e) { out = std::move(e); });
    return out;
  }

  // A key whose HRW owner among {a, b} is a.
  static std::string key_owned_by_a() {
    std::vector<std::string> nodes{"a", "b"};
    for (int i = 0;; ++i) {
      auto key = "counter/k" + std::to_string(i);
      if (hrw_owner(key, nodes) == "a") return key;
    }
  }
};

}  // namespace

TEST_CASE("skein errors match by code and render by name", "[errors]") {
  caf::actor_system_config cfg;
  caf::actor_system sys{configure(cfg)};
  auto err = make_error(skein_error::fenced, "epoch 3 < 5");
  CHECK(is(err, skein_error::fenced));
  CHECK_FALSE(is(err, skein_error::unrecoverable));
  CHECK_FALSE(is(caf::make_error(caf::sec::runtime_error, "fenced"), skein_error::fenced));
  CHECK(reason_of(err) == "epoch 3 < 5");
  CHECK(sys.render(err) == "skein.fenced: epoch 3 < 5");
  caf::error implicit = skein_error::rejoining;
  CHECK(is(implicit, skein_error::rejoining));
}

TEST_CASE("the host answers a malformed or non-UTF-8 key with malformed_key and lives on",
          "[host]") {
  host_fixture f;
  auto bad = f.ask(resolve_atom::value, std::string("counter/a\xff" "b"));
  REQUIRE_FALSE(bad);
  CHECK(is(bad.error(), skein_error::malformed_key));
  auto kind = f.ask(resolve_atom::value, std::string("nope/a"));
  REQUIRE_FALSE(kind);
  CHECK(is(kind.error(), skein_error::unknown_kind));
  auto good = f.ask(resolve_atom::value, std::string("counter/a"));
  REQUIRE(good);
  CHECK(*good);
}

TEST_CASE("a corrupt epoch record refuses the session naming the key", "[host][bug]") {
  host_fixture f;
  f.put_meta("epoch/counter/x", "not a number");
  auto r = f.ask(resolve_atom::value, std::string("counter/x"));
  REQUIRE_FALSE(r);
  CHECK(is(r.error(), skein_error::unrecoverable));
  CHECK_THAT(reason_of(r.error()), Catch::Contains("counter/x"));
  // Other sessions go on.
  CHECK(f.ask(resolve_atom::value, std::string("counter/y")));
}

TEST_CASE("an adopt below the known epoch is refused as fenced", "[host][bug]") {
  host_fixture f;
  const std::string key = "counter/z";
  f.put_meta("epoch/" + key, "5");
  const auto empty_copy = f.store.session_copy(key).encode();
  auto stale = f.ask(adopt_atom::value, key, std::uint64_t{3}, empty_copy, std::string("[]"),
                     false);
  REQUIRE_FALSE(stale);
  CHECK(is(stale.error(), skein_error::fenced));
  auto fresh = f.ask(adopt_atom::value, key, std::uint64_t{7}, empty_copy, std::string("[]"),
                     false);
  REQUIRE(fresh);
  CHECK(*fresh);
}

TEST_CASE("a failed epoch write fails the activation", "[host][bug]") {
  host_fixture f;
  f.committer.stop();  // every later submit fails with "committer stopped"
  auto r = f.ask(resolve_atom::value, std::string("counter/w"));
  REQUIRE_FALSE(r);
  CHECK(is(r.error(), skein_error::store_failure));
}

TEST_CASE("a replica that refuses the fence fails the activation", "[host][bug]") {
  host_fixture f;
  // Peer "b": answers claims with "nothing here" and refuses every fence.
  auto b = f.sys.spawn([]() -> caf::behavior {
    return {
      [](claim_atom, const std::string&) {
        return std::make_tuple(false, std::uint64_t{0}, std::uint64_t{0});
      },
      [](fence_atom, const std::string&, std::uint64_t) -> caf::result<std::uint64_t> {
        return make_error(skein_error::store_failure, "disk full");
      },
      [](gossip_atom, const std::string&, const std::string&, std::int64_t, std::int64_t,
         const std::vector<std::string>&) {},
    };
  });
  membership view;
  view.merge(member("b", member_state::up));
  {
    caf::scoped_actor self{f.sys};
    bool introduced = false;
    self->request(f.host, answer_within, hello_atom::value, std::string("b"), view.to_json(), b)
      .receive([&](std::string&, std::string&) { introduced = true; },
               [&](caf::error& e) { FAIL(f.sys.render(e)); });
    REQUIRE(introduced);
  }
  auto r = f.ask(resolve_atom::value, host_fixture::key_owned_by_a());
  REQUIRE_FALSE(r);
  CHECK(is(r.error(), skein_error::fence_failed));
  caf::anon_send_exit(b, caf::exit_reason::user_shutdown);
}

TEST_CASE("a store read error during a handoff ships nothing and fails the handoff",
          "[host][bug]") {
  host_fixture f;
  const std::string key = "counter/h";
  caf::scoped_actor self{f.sys};
  session_init init;
  init.key = key;
  init.id = "h";
  init.recovered = recover_session(persistence::load_session_records(f.store, key), f.registry, key);
  init.epoch = 1;
  init.options = f.registry.options("counter");
  init.committer = &f.committer;
  init.store = f.store_reader;
  init.host = caf::actor_cast<caf::actor>(self);  // the test plays the host
  auto session = spawn_session(f.sys, std::move(init));
  // A journal record that does not decode: reading the session's records fails.
  persistence::write_batch corrupt;
  corrupt.put_raw(persistence::column::journal, persistence::seq_key(key, 1000), "\xff");
  f.store.write(corrupt);
  self->send(session, handoff_atom::value, caf::actor_cast<caf::actor>(self), std::string("b"),
             false);
  bool answered = false;
  self->receive(
    [&](adopt_atom, const std::string&, std::uint64_t, const std::string&, const std::string&,
        bool) -> caf::error {
      answered = true;
      FAIL_CHECK("a copy was shipped although the journal could not be read");
      return make_error(skein_error::store_failure, "test");
    },
    [&](handed_atom, const std::string& k, bool ok) {
      answered = true;
      CHECK(k == key);
      CHECK_FALSE(ok);
    },
    caf::after(answer_within) >> [&] {});
  CHECK(answered);
  self->send_exit(session, caf::exit_reason::kill);
}
