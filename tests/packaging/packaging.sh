#!/usr/bin/env bash
# Packaging tests (issue 13), one mode per ctest test:
#   install     cmake --install BUILD into WORK/prefix (fixture for the rest)
#   standalone  build examples/standalone against WORK/prefix, launch it, /healthz
#   pkgconfig   compile examples/standalone/main.cpp with pkg-config skein only
#   user_guide  compile the C++ blocks of docs/user-guide.md against WORK/prefix
#   new         `skein new`, then build the project and run its own ctest
#   config      node options from --config file, SKEIN_* env and command line
#   systemd     systemd-analyze verify deploy/systemd/skein.service
#   entrypoint  deploy/docker/entrypoint.sh run directly: a node, then drain
#   dockerfile, kubernetes   tests/packaging/deploy_check.py
# Usage: packaging.sh MODE SOURCE_DIR BUILD_DIR WORK_DIR
set -euo pipefail
mode=$1 src=$2 build=$3 work=$4
prefix=$work/prefix
cmake_args=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix")
command -v ccache >/dev/null && cmake_args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fail() { echo "FAIL: $*" >&2; exit 1; }

# Runs `BIN launch --nodes 1` in the background until it prints "ready"
# (bounded), checks /healthz answers "up", stops it.
launch_and_check() {
  local bin=$1 data=$2 out=$2.out
  rm -rf "$data" && mkdir -p "$data"
  "$bin" launch --nodes 1 --data "$data" >"$out" 2>"$data.err" &
  local pid=$! deadline=$((SECONDS + 60))
  until grep -q '^ready$' "$out"; do
    kill -0 $pid 2>/dev/null || { cat "$data.err" >&2; fail "$bin launch exited early"; }
    ((SECONDS < deadline)) || { kill $pid; fail "$bin launch not ready in 60 s"; }
    sleep 0.1
  done
  local url; url=$(awk '/^node n1 /{print $3}' "$out")
  local health; health=$(curl -sf "$url/healthz")
  kill -TERM $pid; wait $pid || fail "launch did not exit 0 on SIGTERM"
  grep -q '"state":"up"' <<<"$health" || fail "/healthz of $bin: $health"
  echo "ok: $bin served $url/healthz: $health"
}

case $mode in
install)
  rm -rf "$prefix"
  cmake --install "$build" --prefix "$prefix" >/dev/null
  for f in include/skein/skein.hpp include/skein/behaviour.hpp include/skein/actors/behaviour.hpp \
           include/skein/cli/main.hpp lib/cmake/skein/skeinConfig.cmake \
           lib/cmake/skein/skeinConfigVersion.cmake lib/cmake/skein/skeinTargets.cmake \
           lib/pkgconfig/skein.pc lib/libskein_cli.a bin/skein; do
    [[ -f $prefix/$f ]] || fail "not installed: $f"
  done
  # Nothing from the build tree or the tests leaks into the package.
  ! grep -rq "$src\|$build" "$prefix/lib/cmake/skein" || fail "build paths in the CMake package"
  ! find "$prefix" -name '*catch*' -o -name 'skein-demo' | grep -q . || fail "test files installed"
  echo "ok: installed into $prefix"
  ;;
standalone)
  rm -rf "$work/standalone"
  cmake -S "$src/examples/standalone" -B "$work/standalone" "${cmake_args[@]}" >/dev/null
  cmake --build "$work/standalone"
  launch_and_check "$work/standalone/tally" "$work/standalone-data"
  ;;
pkgconfig)
  flags=$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs skein)
  mkdir -p "$work/pc"
  ${CXX:-g++} -O1 -o "$work/pc/tally" "$src/examples/standalone/main.cpp" $flags
  "$work/pc/tally" --help | grep -q 'node' || fail "pkg-config build: --help"
  echo "ok: built with pkg-config flags: $flags"
  ;;
user_guide)
  # Every ```cpp block, in order, is one translation unit (the guide's
  # behaviour, then its main()).
  rm -rf "$work/guide" && mkdir -p "$work/guide"
  awk '/^```cpp$/{on=1; next} /^```$/{on=0} on' "$src/docs/user-guide.md" >"$work/guide/main.cpp"
  [[ $(grep -c 'registry.add' "$work/guide/main.cpp") -ge 1 ]] || fail "no C++ blocks found"
  cat >"$work/guide/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.20)
project(guide LANGUAGES CXX)
find_package(skein REQUIRED)
add_executable(guide main.cpp)
target_link_libraries(guide PRIVATE skein::skein)
CMAKE
  cmake -S "$work/guide" -B "$work/guide/build" "${cmake_args[@]}" >/dev/null
  cmake --build "$work/guide/build"
  "$work/guide/build/guide" --help | grep -q 'node' || fail "guide binary --help"
  echo "ok: docs/user-guide.md's C++ compiles and links"
  ;;
new)
  rm -rf "$work/new"
  "$prefix/bin/skein" new hello_app --dir "$work/new/hello_app"
  if "$prefix/bin/skein" new hello_app --dir "$work/new/hello_app" 2>/dev/null; then
    fail "skein new overwrote an existing project"
  fi
  if "$prefix/bin/skein" new Bad-Name --dir "$work/new/bad" 2>/dev/null; then
    fail "skein new accepted a bad name"
  fi
  for f in CMakeLists.txt README.md src/hello_app.hpp src/main.cpp tests/test_hello_app.cpp; do
    [[ -f $work/new/hello_app/$f ]] || fail "skein new did not write $f"
  done
  cmake -S "$work/new/hello_app" -B "$work/new/build" "${cmake_args[@]}" >/dev/null
  cmake --build "$work/new/build"
  ctest --test-dir "$work/new/build" --output-on-failure
  launch_and_check "$work/new/build/hello_app" "$work/new/data"
  ;;
config)
  bin=$build/bin/skein
  cat >"$work/node.toml" <<'TOML'
name = "from-file"
listen = "127.0.0.1:7000"
cluster_port = 7001
data = "/var/lib/skein"
replicas = 3
heartbeat = 111
failure-timeout = 1111
sync = true
kind_option = ["chat.snapshot_every=7", "chat.keep_snapshots=3"]
TOML
  got=$(SKEIN_REPLICAS=4 SKEIN_HEARTBEAT=222 "$bin" node --config "$work/node.toml" --heartbeat 333 --print-config)
  echo "$got"
  expect() { grep -qxF "$1" <<<"$got" || fail "expected '$1' in the effective config"; }
  expect 'name="from-file"'        # file
  expect 'replicas=4'              # env beats file
  expect 'heartbeat=333'           # command line beats env and file
  expect 'failure-timeout=1111'    # file beats default
  expect 'io-threads=1'            # default
  expect 'sync=true'
  expect 'kind-option=["chat.snapshot_every=7", "chat.keep_snapshots=3"]'
  # env alone (no file), a repeatable option as a list, a [node] table.
  got=$(SKEIN_NAME=env-name SKEIN_KIND_OPTION=a.b=1,c.d=2 SKEIN_SYNC=true \
        "$bin" node --listen 127.0.0.1:1 --cluster-port 2 --data d --print-config)
  expect 'name="env-name"'; expect 'kind-option=["a.b=1", "c.d=2"]'; expect 'sync=true'
  # The auth options (docs/operations.md "Security") from env and file.
  printf 'jwt_public_key_file = "/etc/skein/jwt.pub"\n' >"$work/auth.toml"
  got=$(SKEIN_JWT_SECRET_FILE=/etc/skein/jwt.secret SKEIN_ADMIN_TOKEN_FILE=/etc/skein/admin.token \
        "$bin" node --config "$work/auth.toml" --name a --listen 127.0.0.1:1 --cluster-port 2 --data d --print-config)
  expect 'jwt-secret-file="/etc/skein/jwt.secret"'; expect 'admin-token-file="/etc/skein/admin.token"'
  expect 'jwt-public-key-file="/etc/skein/jwt.pub"'
  printf '[node]\nname = "in-table"\nlisten = "h:1"\ncluster-port = 2\ndata = "d"\n' >"$work/table.toml"
  got=$("$bin" node --config "$work/table.toml" --print-config)
  expect 'name="in-table"'
  # Errors: a missing file and an unknown key are usage errors (exit 2).
  set +e
  "$bin" node --config "$work/nope.toml" --print-config >/dev/null 2>&1; rc1=$?
  printf 'name = "x"\nlisten = "h:1"\ncluster_port = 2\ndata = "d"\nno_such_option = 1\n' >"$work/bad.toml"
  "$bin" node --config "$work/bad.toml" --print-config >/dev/null 2>&1; rc2=$?
  set -e
  ((rc1 == 2)) || fail "missing --config file: exit $rc1, want 2"
  ((rc2 == 2)) || fail "unknown key in --config file: exit $rc2, want 2"
  # The printed config is itself a valid config file, and a node starts from
  # file + environment alone.
  port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  cport=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  printf 'name = "cfg1"\nlisten = "127.0.0.1:%s"\ndata = "%s"\n' "$port" "$work/cfgdata" >"$work/run.toml"
  SKEIN_CLUSTER_PORT=$cport "$bin" node --config "$work/run.toml" --print-config >"$work/round.toml"
  grep -qx 'name="cfg1"' "$work/round.toml" || fail "round trip"
  SKEIN_LOG_LEVEL=warn "$bin" node --config "$work/round.toml" 2>"$work/cfg.err" &
  pid=$! deadline=$((SECONDS + 30))
  until health=$(curl -sf "http://127.0.0.1:$port/healthz"); do
    kill -0 $pid 2>/dev/null || { cat "$work/cfg.err"; fail "node from config exited"; }
    ((SECONDS < deadline)) || { kill $pid; fail "node from config not up in 30 s"; }
    sleep 0.1
  done
  kill -TERM $pid; wait $pid
  grep -q '"cfg1"' <<<"$health" || fail "node name from file: $health"
  echo "ok: precedence command line > env > file > default; node ran from a config file"
  ;;
systemd)
  # verify wants ExecStart's binary to exist: point it at the build's.
  mkdir -p "$work/systemd"
  sed "s|/usr/local/bin/skein-demo|$build/bin/skein-demo|" "$src/deploy/systemd/skein.service" \
    >"$work/systemd/skein.service"
  out=$(systemd-analyze verify "$work/systemd/skein.service" 2>&1) || fail "systemd-analyze: $out"
  [[ -z $out ]] || fail "systemd-analyze warnings: $out"
  echo "ok: systemd-analyze verify skein.service"
  ;;
entrypoint)
  ep=$src/deploy/docker/entrypoint.sh
  port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  cport=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  rm -rf "$work/ep" && mkdir -p "$work/ep"
  export SKEIN_BIN=$build/bin/skein-demo SKEIN_LISTEN=127.0.0.1:$port SKEIN_CLUSTER_PORT=$cport \
         SKEIN_DATA=$work/ep/data SKEIN_DRAIN_TIMEOUT=30
  # Seeds from SKEIN_SEED_HOSTS: this host is the first, so it forms the cluster.
  SKEIN_SEED_HOSTS="$(hostname) other-host" "$ep" --print-config >"$work/ep/first.toml"
  grep -qx 'seeds=""' "$work/ep/first.toml" || fail "first seed host got seeds: $(grep seeds "$work/ep/first.toml")"
  SKEIN_SEED_HOSTS="first-host $(hostname) third" "$ep" --print-config >"$work/ep/other.toml"
  grep -qx "seeds=\"first-host:$cport,third:$cport\"" "$work/ep/other.toml" \
    || fail "joining host seeds: $(grep seeds "$work/ep/other.toml")"
  grep -qx "name=\"$(hostname)\"" "$work/ep/other.toml" || grep -qx "name='$(hostname)'" "$work/ep/other.toml" \
    || fail "default name is not the host name"
  "$ep" 2>"$work/ep/node.err" &
  pid=$! deadline=$((SECONDS + 30))
  until health=$(curl -sf "http://127.0.0.1:$port/healthz"); do
    kill -0 $pid 2>/dev/null || { cat "$work/ep/node.err"; fail "entrypoint's node exited"; }
    ((SECONDS < deadline)) || { kill $pid; fail "entrypoint's node not up in 30 s"; }
    sleep 0.1
  done
  [[ -d $work/ep/data ]] || fail "SKEIN_DATA not created"
  "$ep" drain || fail "entrypoint drain failed"
  wait $pid || fail "node did not exit 0 after the drain"
  echo "ok: entrypoint ran a node ($health) and drained it"
  ;;
dockerfile|kubernetes)
  python3 "$src/tests/packaging/deploy_check.py" "$mode" "$src"
  ;;
*) fail "unknown mode $mode" ;;
esac
