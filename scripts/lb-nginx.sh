#!/usr/bin/env bash
# Starts nginx (Debian's package: apt-get install -y nginx) on a free
# loopback port as a round-robin, non-sticky, health-aware load balancer in front of the
# given skein node URLs, using deploy/nginx/skein.conf.template.
#
#   scripts/lb-nginx.sh [--port N] [--dir DIR] http://127.0.0.1:P1 http://127.0.0.1:P2 ...
#
# Prints "lb http://127.0.0.1:PORT" on stdout once nginx accepts
# connections, then runs nginx in the foreground (so it stops with this
# script: Ctrl-C / SIGTERM). Logs: DIR/error.log (default: a temp dir).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
template="$here/../deploy/nginx/skein.conf.template"
port=0
dir=""
urls=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --port) port="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    http://*) urls+=("$1"); shift ;;
    *) echo "lb-nginx.sh: unexpected argument '$1'" >&2; exit 2 ;;
  esac
done
[[ ${#urls[@]} -gt 0 ]] || { echo "lb-nginx.sh: give at least one node URL" >&2; exit 2; }

nginx_bin="$(command -v nginx || true)"
[[ -n "$nginx_bin" ]] || nginx_bin=/usr/sbin/nginx
[[ -x "$nginx_bin" ]] || { echo "lb-nginx.sh: nginx not found (apt-get install -y nginx)" >&2; exit 1; }

if [[ "$port" == 0 ]]; then
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
fi
if [[ -z "$dir" ]]; then dir="$(mktemp -d -t skein-lb-XXXXXX)"; fi
mkdir -p "$dir"

upstreams=""
for u in "${urls[@]}"; do
  hostport="${u#http://}"; hostport="${hostport%%/*}"
  upstreams+="    server ${hostport} max_fails=1 fail_timeout=5s;"$'\n'
done

conf="$dir/nginx.conf"
awk -v listen="$port" -v prefix="$dir" -v ups="$upstreams" '
  { gsub(/@LISTEN@/, listen); gsub(/@PREFIX@/, prefix);
    if ($0 ~ /^@UPSTREAMS@$/) { printf "%s", ups; next } print }' "$template" > "$conf"

"$nginx_bin" -t -q -p "$dir" -c "$conf" -g "error_log $dir/error.log warn;" 2>"$dir/check.log" || {
  cat "$dir/check.log" >&2; exit 1; }

"$nginx_bin" -p "$dir" -c "$conf" -g "error_log $dir/error.log warn;" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "lb http://127.0.0.1:$port"
    wait $pid
    exit $?
  fi
  kill -0 $pid 2>/dev/null || { echo "lb-nginx.sh: nginx exited; see $dir/error.log" >&2; cat "$dir/error.log" >&2 || true; exit 1; }
  sleep 0.1
done
echo "lb-nginx.sh: nginx did not accept connections on $port" >&2
exit 1
