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
# Starts the one-process mesh on this Redis (keys under PREFIX), its
# gateway on 127.0.0.1:PORT, bot-service on PORT+50, billing on PORT+51
# and bot metrics on PORT+70, and warms it up with 2 s of chatter.
one_process() { # PORT PREFIX
  local g=$1
  env TELEGRAM_WEBHOOK_SECRET=benchsecret GATEWAY_RATE_LIMIT_RPS=0 RUST_LOG=warn BILLING_METRICS_ADDR=off \
    REDIS_URL="redis://127.0.0.1:$port" REDIS_KEY_PREFIX="$2-$$" GATEWAY_ADDR="127.0.0.1:$g" \
    BOT_SERVICE_URL="http://127.0.0.1:$((g + 50))" BILLING_SERVICE_URL="http://127.0.0.1:$((g + 51))" \
    PLANS_FILE="$root/plans.toml" BOT_METRICS_ADDR="127.0.0.1:$((g + 70))" \
    taskset -c 0 "$bin/mesh" all > "$work/one.log" 2>&1 & pids+=($!)
  wait_ready "http://127.0.0.1:$g/ready"
  taskset -c 1 wrk -t1 -c16 -d2s -s tests/bench/ingest.lua "http://127.0.0.1:$g" >/dev/null 2>&1 || true
}
