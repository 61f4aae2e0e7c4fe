#!/bin/sh
# skein container entrypoint: runs one node of the image's binary, or drains
# it (the Kubernetes preStop hook).
#
#   entrypoint.sh [node options...]   run `SKEIN_BIN node` with defaults for
#                                     whatever the options, SKEIN_* variables
#                                     and SKEIN_CONFIG file do not set
#   entrypoint.sh drain               ask the local node to drain (hand its
#                                     sessions off); it exits 0 when done.
#                                     Uses the node's admin token
#                                     (SKEIN_ADMIN_TOKEN_FILE, else
#                                     SKEIN_DATA/admin.token).
#                                     Waits up to SKEIN_DRAIN_TIMEOUT s (60).
#   entrypoint.sh ANY-OTHER-COMMAND   exec it (e.g. a shell for debugging)
#
# Defaults: SKEIN_NAME = the host name (a StatefulSet pod: skein-0, ...),
# SKEIN_LISTEN = 0.0.0.0:8080, SKEIN_CLUSTER_PORT = 7070, SKEIN_DATA =
# /var/lib/skein. SKEIN_SEED_HOSTS = "h1 h2 ..." becomes --seeds with
# SKEIN_CLUSTER_PORT, leaving out this host (the first host starts the
# cluster when it is alone); an explicit SKEIN_SEEDS wins.
set -eu

bin="${SKEIN_BIN:-/usr/local/bin/skein-demo}"
: "${SKEIN_NAME:=$(hostname)}"
: "${SKEIN_LISTEN:=0.0.0.0:8080}"
: "${SKEIN_CLUSTER_PORT:=7070}"
: "${SKEIN_DATA:=/var/lib/skein}"
export SKEIN_NAME SKEIN_LISTEN SKEIN_CLUSTER_PORT SKEIN_DATA

http_port="${SKEIN_LISTEN##*:}"

case "${1:-}" in
drain)
  # The node's admin token: SKEIN_ADMIN_TOKEN_FILE (its --admin-token-file)
  # or the one it created in its data directory.
  "$bin" ctl --node "http://127.0.0.1:${http_port}" \
    --token-file "${SKEIN_ADMIN_TOKEN_FILE:-$SKEIN_DATA/admin.token}" drain "$SKEIN_NAME" || true
  deadline=$(( $(date +%s) + ${SKEIN_DRAIN_TIMEOUT:-60} ))
  # The node exits when drained; wait for its listener to go away.
  while "$bin" ctl --node "http://127.0.0.1:${http_port}" status >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "entrypoint: drain timed out" >&2; exit 1; }
    sleep 1
  done
  exit 0
  ;;
""|-*) ;;
*) exec "$@" ;;
esac

if [ -z "${SKEIN_SEEDS:-}" ] && [ -n "${SKEIN_SEED_HOSTS:-}" ]; then
  seeds=""
  me="$(hostname)"
  for h in $SKEIN_SEED_HOSTS; do
    case "$h" in "$me"|"$me".*|"$SKEIN_NAME"|"$SKEIN_NAME".*) continue ;; esac
    seeds="${seeds:+$seeds,}$h:$SKEIN_CLUSTER_PORT"
  done
  # The first seed host forms the cluster; everyone else joins through it.
  first="$(echo "$SKEIN_SEED_HOSTS" | awk '{print $1}')"
  case "$first" in "$me"|"$me".*|"$SKEIN_NAME"|"$SKEIN_NAME".*) seeds="" ;; esac
  [ -z "$seeds" ] || export SKEIN_SEEDS="$seeds"
fi
mkdir -p "$SKEIN_DATA"
exec "$bin" node "$@"
