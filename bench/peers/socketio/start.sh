#!/usr/bin/env bash
# Starts the Socket.IO peer (redis-server + 3 Node processes) in the
# background and prints its `redis`, `node` and `ready` lines.
#   bench/peers/socketio/start.sh [STATE_DIR] [--durable]   (default /tmp/skein-bench-socketio)
# Arguments after STATE_DIR go to launch.js (--durable: the streams adapter
# with connection state recovery, redis with an AOF). Stop it with stop.sh [STATE_DIR].
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
state="${1:-/tmp/skein-bench-socketio}"
mkdir -p "$state"
[[ -d "$here/node_modules/@socket.io/redis-streams-adapter" ]] || (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
if [[ -f "$state/pid" ]] && kill -0 "$(cat "$state/pid")" 2>/dev/null; then
  echo "already running (pid $(cat "$state/pid"))" >&2
  exit 1
fi
: > "$state/out"
setsid node "$here/launch.js" --nodes "${NODES:-3}" "${@:2}" > "$state/out" 2> "$state/err" < /dev/null &
echo $! > "$state/pid"
for _ in $(seq 1 600); do
  if grep -qx ready "$state/out"; then cat "$state/out"; exit 0; fi
  kill -0 "$(cat "$state/pid")" 2>/dev/null || { cat "$state/err" >&2; exit 1; }
  sleep 0.05
done
echo "peer not ready in 30 s" >&2
exit 1
