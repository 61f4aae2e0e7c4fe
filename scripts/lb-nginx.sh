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
source "$here/lb-common.sh"
template="$here/../deploy/nginx/skein.conf.template"
lb_parse_args lb-nginx.sh "$@"
nginx_bin="$(lb_find_bin nginx)"
lb_prepare

upstreams=""
while read -r hostport; do
  upstreams+="    server ${hostport} max_fails=1 fail_timeout=5s;"$'\n'
done < <(lb_hostports)

conf="$dir/nginx.conf"
awk -v listen="$port" -v prefix="$dir" -v ups="$upstreams" '
  { gsub(/@LISTEN@/, listen); gsub(/@PREFIX@/, prefix);
    if ($0 ~ /^@UPSTREAMS@$/) { printf "%s", ups; next } print }' "$template" > "$conf"

"$nginx_bin" -t -q -p "$dir" -c "$conf" -g "error_log $dir/error.log warn;" 2>"$dir/check.log" || {
  cat "$dir/check.log" >&2; exit 1; }

lb_run "$dir/error.log" "$nginx_bin" -p "$dir" -c "$conf" -g "error_log $dir/error.log warn;"
