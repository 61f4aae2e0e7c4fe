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
source "$here/lb-common.sh"
template="$here/../deploy/haproxy/skein.cfg.template"
lb_parse_args lb-haproxy.sh "$@"
haproxy_bin="$(lb_find_bin haproxy)"
lb_prepare

servers=""
i=0
while read -r hostport; do
  i=$((i + 1))
  servers+="  server n${i} ${hostport}"$'\n'
done < <(lb_hostports)

conf="$dir/haproxy.cfg"
awk -v listen="$port" -v prefix="$dir" -v srv="$servers" '
  { gsub(/@LISTEN@/, listen); gsub(/@PREFIX@/, prefix);
    if ($0 ~ /^@SERVERS@$/) { printf "%s", srv; next } print }' "$template" > "$conf"

"$haproxy_bin" -c -q -f "$conf" 2>"$dir/check.log" || { cat "$dir/check.log" >&2; exit 1; }

# -db: foreground, no daemon.
lb_prog=haproxy
lb_run "$dir/haproxy.log" bash -c 'exec "$0" -db -f "$1" 2>"$2"' "$haproxy_bin" "$conf" "$dir/haproxy.log"
