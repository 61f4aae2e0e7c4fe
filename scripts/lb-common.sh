# Shared by scripts/lb-nginx.sh and scripts/lb-haproxy.sh (sourced, not run):
# the command line, the balancer binary, the listen port and directory, and
# running the balancer in the foreground once it accepts connections.
#
#   lb_parse_args NAME "$@"     sets: port (0: pick one), dir, urls[]
#   lb_find_bin PROGRAM         prints the path of PROGRAM or exits 1
#   lb_prepare                  picks a free loopback port and a temp dir if unset
#   lb_hostports                prints HOST:PORT of each URL, one per line
#   lb_run LOG CMD...           starts CMD, prints "lb http://127.0.0.1:PORT"
#                               once it accepts, waits for it; LOG is shown
#                               if it exits before that

lb_name=""

lb_parse_args() {
  lb_name="$1"; shift
  port=0
  dir=""
  urls=()
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --port) port="$2"; shift 2 ;;
      --dir) dir="$2"; shift 2 ;;
      -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
      http://*) urls+=("$1"); shift ;;
      *) echo "$lb_name: unexpected argument '$1'" >&2; exit 2 ;;
    esac
  done
  [[ ${#urls[@]} -gt 0 ]] || { echo "$lb_name: give at least one node URL" >&2; exit 2; }
}

lb_find_bin() {
  local bin
  bin="$(command -v "$1" || true)"
  [[ -n "$bin" ]] || bin="/usr/sbin/$1"
  [[ -x "$bin" ]] || { echo "$lb_name: $1 not found (apt-get install -y $1)" >&2; exit 1; }
  echo "$bin"
}

lb_prepare() {
  if [[ "$port" == 0 ]]; then
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
  fi
  if [[ -z "$dir" ]]; then dir="$(mktemp -d -t skein-lb-XXXXXX)"; fi
  mkdir -p "$dir"
}

lb_hostports() {
  local u hostport
  for u in "${urls[@]}"; do
    hostport="${u#http://}"
    echo "${hostport%%/*}"
  done
}

lb_run() {
  local log="$1"; shift
  "$@" &
  pid=$!
  trap 'kill -TERM $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT INT TERM
  # Readiness poll of a child process (bounded, 10 s), not a synchronisation shortcut.
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "lb http://127.0.0.1:$port"
      wait $pid
      exit $?
    fi
    kill -0 $pid 2>/dev/null || { echo "$lb_name: ${lb_prog:-$1} exited; see $log" >&2; cat "$log" >&2 || true; exit 1; }
    sleep 0.1
  done
  echo "$lb_name: ${lb_prog:-$1} did not accept connections on $port" >&2
  exit 1
}
