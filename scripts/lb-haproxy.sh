#!/usr/bin/env bash
# Starts HAProxy (Debian's package: apt-get install -y haproxy) on a free
# loopback port as a round-robin, health-checked load balancer in front of
# the given skein node URLs, using deploy/haproxy/skein.cfg.template.
#
#   scripts/lb-haproxy.sh [--port N] [--dir DIR] http://127.0.0.1:P1 http://127.0.0.1:P2 ...
#
# Prints "lb http://127.0.0.1:PORT" on stdout once HAProxy accepts
# connections, then runs it in the foreground (so it stops with this script:
# Ctrl-C / SIGTERM). Config: DIR/haproxy.cfg (default DIR: a temp dir).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
template="$here/../deploy/haproxy/skein.cfg.template"
port=0
dir=""
urls=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --port) port="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    http://*) urls+=("$1"); shift ;;
    *) echo "lb-haproxy.sh: unexpected argument '$1'" >&2; exit 2 ;;
  esac
done
[[ ${#urls[@]} -gt 0 ]] || { echo "lb-haproxy.sh: give at least one node URL" >&2; exit 2; }

haproxy_bin="$(command -v haproxy || true)"
[[ -n "$haproxy_bin" ]] || haproxy_bin=/usr/sbin/haproxy
[[ -x "$haproxy_bin" ]] || { echo "lb-haproxy.sh: haproxy not found (apt-get install -y haproxy)" >&2; exit 1; }

if [[ "$port" == 0 ]]; then
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
fi
if [[ -z "$dir" ]]; then dir="$(mktemp -d -t skein-lb-XXXXXX)"; fi
mkdir -p "$dir"

servers=""
i=0
for u in "${urls[@]}"; do
  i=$((i + 1))
  hostport="${u#http://}"; hostport="${hostport%%/*}"
  servers+="  server n${i} ${hostport}"$'\n'
done

conf="$dir/haproxy.cfg"
awk -v listen="$port" -v prefix="$dir" -v srv="$servers" '
  { gsub(/@LISTEN@/, listen); gsub(/@PREFIX@/, prefix);
    if ($0 ~ /^@SERVERS@$/) { printf "%s", srv; next } print }' "$template" > "$conf"

"$haproxy_bin" -c -q -f "$conf" 2>"$dir/check.log" || { cat "$dir/check.log" >&2; exit 1; }

# -db: foreground, no daemon; -W off: a single process.
"$haproxy_bin" -db -f "$conf" 2>"$dir/haproxy.log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "lb http://127.0.0.1:$port"
    wait $pid
    exit $?
  fi
  kill -0 $pid 2>/dev/null || { echo "lb-haproxy.sh: haproxy exited; see $dir/haproxy.log" >&2; cat "$dir/haproxy.log" >&2 || true; exit 1; }
  sleep 0.1
done
echo "lb-haproxy.sh: haproxy did not accept connections on $port" >&2
exit 1
