# Sourced by the side-by-side benchmarks: a private Redis with AOF
# (appendfsync everysec, as production runs it) on $port pinned to CPU 0,
# in $work, stopped with the servers in $pids when the script exits; and
# the helpers those benchmarks share.
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
}
trap cleanup EXIT
taskset -c 0 redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly yes \
  --appendfsync everysec --dir "$work" --daemonize yes --logfile "$work/redis.log"
until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.1; done
# Waits for a URL to answer 2xx (a server's /ready).
wait_ready() { for _ in $(seq 200); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done; echo "not ready: $1" >&2; exit 1; }
# The sum of a Prometheus metric's samples whose line starts with $2.
metric() { curl -s "$1" | awk -v m="$2" 'index($0, m) == 1 {s += $NF} END {print s + 0}'; }
