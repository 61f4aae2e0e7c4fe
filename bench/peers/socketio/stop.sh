#!/usr/bin/env bash
# Stops the Socket.IO peer started by start.sh [STATE_DIR].
set -euo pipefail
state="${1:-/tmp/skein-bench-socketio}"
[[ -f "$state/pid" ]] || { echo "not running" >&2; exit 0; }
pid="$(cat "$state/pid")"
if kill -0 "$pid" 2>/dev/null; then
  kill -TERM "$pid"
  for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
fi
rm -f "$state/pid"
