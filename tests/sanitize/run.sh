#!/usr/bin/env bash
# Builds skein-demo and skein-test-app with AddressSanitizer and
# UndefinedBehaviorSanitizer in build-asan/ (GCC, RelWithDebInfo, the
# system allocator instead of jemalloc: ASan replaces it) and runs cluster tests against it. A sanitizer
# report stops the node with a non-zero exit, which the tests see (a node
# that dies fails its test; stop() expects exit 0).
#
#   tests/sanitize/run.sh                   build, then the default tests
#   tests/sanitize/run.sh tls websocket     build, then tests/cluster/{tls,websocket}.test.mjs
#   tests/sanitize/run.sh --no-build tls    run only
#
# Not part of ctest: the instrumented build takes about 30 minutes on 2
# cores. Left out of the default list: tests that bound memory, CPU or time
# (limits' RSS bound; its descriptor exhaustion also leaves UBSan no
# descriptor to read the process's maps; migration's failover deadline),
# which fail under ASan's overhead, and poison and supervision, which crash
# a process on purpose (ASan turns the signal into a report and exit 1).
# Logs: build-asan/logs/.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${SKEIN_ASAN_BUILD:-build-asan}
build=1
tests=()
for a in "$@"; do
  case $a in
    --no-build) build=0 ;;
    *) tests+=("$a") ;;
  esac
done
((${#tests[@]})) || tests=(bad_input chat auth client_tls tls websocket exactly_once hibernation passivation
  resume_token presence relay timers publish gateway persistence)

if ((build)); then
  flags="-fsanitize=address,undefined -fno-omit-frame-pointer"
  cmake -S . -B "$out" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSKEIN_JEMALLOC=OFF \
    -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null || exit 1
  cmake --build "$out" -j2 --target skein-demo skein-test-app || exit 1
fi

export ASAN_OPTIONS=detect_leaks=0
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$PWD/tests/sanitize/ubsan.supp"
bin=$(realpath -m "$out/bin")
export SKEIN_DEMO=$bin/skein-demo SKEIN_TEST_APP=$bin/skein-test-app SKEIN_TEST_VERBOSE=1
mkdir -p "$out/logs"
failed=()
for t in "${tests[@]}"; do
  log="$out/logs/$t.log"
  node --test --test-concurrency=1 "tests/cluster/$t.test.mjs" >"$log" 2>&1
  rc=$?
  reports=$(grep -c 'ERROR: AddressSanitizer\|runtime error:' "$log")
  echo "$t: exit $rc, $reports sanitizer report(s) ($log)"
  ((rc == 0 && reports == 0)) || failed+=("$t")
done
((${#failed[@]} == 0)) || { echo "sanitize: failed: ${failed[*]}" >&2; exit 1; }
echo "sanitize: ${#tests[@]} test files passed under ASan and UBSan"
