#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz in build-fuzz/ (clang-14,
# -fsanitize=fuzzer,address,undefined) and runs them over their checked-in
# corpus for SKEIN_FUZZ_SECONDS (default 20) each.
#
#   tests/fuzz/run.sh                 build, then run every target
#   tests/fuzz/run.sh url records     build, then run these
#   tests/fuzz/run.sh --build         build only (the ctest fixture)
#   tests/fuzz/run.sh --no-build url  run only
#
# New inputs the fuzzer finds go to a temp dir, not into the corpus; a crash
# leaves its input in build-fuzz/crashes/ and fails the run.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=tests/fuzz
out=${SKEIN_FUZZ_BUILD:-build-fuzz}
seconds=${SKEIN_FUZZ_SECONDS:-20}
build=1 run=1
targets=()
for a in "$@"; do
  case $a in
    --build) run=0 ;;
    --no-build) build=0 ;;
    *) targets+=("$a") ;;
  esac
done
((${#targets[@]})) || targets=(url route_path frame_json mcp_jsonrpc records jwt_header heartbeat ws_frame bundle membership batch handoff_clients session_runtime publish_answer)

if ((build)); then
  command -v clang++-14 >/dev/null || { echo "run.sh: clang++-14 missing (scripts/setup.sh installs it)" >&2; exit 1; }
  CC=clang-14 CXX=clang++-14 cmake -S "$here" -B "$out" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$out" -j2
fi
((run)) || exit 0

mkdir -p "$out/crashes"
for t in "${targets[@]}"; do
  bin="$out/fuzz_$t"
  [[ -x $bin ]] || { echo "run.sh: $bin not built" >&2; exit 1; }
  new=$(mktemp -d)
  echo "== fuzz_$t: ${seconds}s over $here/corpus/$t"
  status=0
  "$bin" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$out/crashes/$t-" -print_final_stats=1 "$new" "$here/corpus/$t" 2>&1 | tail -n 25 || status=$?
  rm -rf "$new"
  if ((status)); then echo "fuzz_$t FAILED (exit $status); inputs in $out/crashes/" >&2; exit "$status"; fi
done
