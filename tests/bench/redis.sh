# Sourced by the side-by-side benchmarks: a private Redis with AOF
# (appendfsync everysec, as production runs it) on $port pinned to CPU 0,
# in $work, stopped with the servers in $pids when the script exits.
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
