#!/usr/bin/env bash
# Builds skein's node executables (skein, skein-demo) with profile-guided
# optimisation into ./build-pgo (or $1), in three steps:
#   1. a `generate` build of skein-demo (instrumented; CMake's SKEIN_PGO);
#   2. training: the chat rtt load of bench/ab.mjs on a 3-node cluster of
#      it, 100 and 1,000 pairs, durability replicated (the demo's) and none,
#      15 s each (the nodes write their profiles when they stop);
#   3. a `use` build of skein and skein-demo in the same directory.
# The load generator comes from ./build (scripts/build.sh, run first).
# About twice a normal build's time. Measured effect: docs/benchmarks.md,
# "Profile-guided optimisation (stop 62)". GCC only.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build-pgo}"
case "$dir" in
  /*) profiles="$dir/pgo-profile" ;;
  *) profiles="$(pwd)/$dir/pgo-profile" ;;
esac
scripts/build.sh
rm -rf "$profiles"
configure() {
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSKEIN_BUILD_TESTS=OFF \
    -DSKEIN_PGO="$1" -DSKEIN_PGO_DIR="$profiles" >/dev/null
}
configure generate
cmake --build "$dir" -j "$(nproc)" --target skein-demo
node bench/ab.mjs --rounds 1 --levels 100,1000 --duration 15 --build-dir build \
  --arm "replicated=SKEIN_AB_BIN=$dir/bin" \
  --arm "none=SKEIN_AB_BIN=$dir/bin --kind-option chat.durability=none"
count=$(find "$profiles" -name '*.gcda' | wc -l)
if [ "$count" -eq 0 ]; then
  echo "build-pgo: the training wrote no profiles under $profiles" >&2
  exit 1
fi
echo "build-pgo: $count profiles; building with them"
configure use
cmake --build "$dir" -j "$(nproc)" --target skein skein-demo
echo "build-pgo: $dir/bin/skein and $dir/bin/skein-demo"
