#!/usr/bin/env bash
# The handled path, side by side (not part of the test run): private
# `/start` from 5,000 users, each queued, claimed, handled, its reply
# committed to the outbox and sent (a dry run: logged, not sent). Against
# the bare axum handler, in memory, one process with Redis and three
# processes with Redis (AOF everysec), servers and Redis pinned to CPU 0,
# wrk on CPU 1. Handled throughput counts until the backlog is drained
# (updates handled / (10 s of load + drain)), so a fast door with a slow
# worker does not flatter it. Prints one markdown row per target, with
# Redis commands, Lua time and Redis CPU per handled update, and the mesh's
# own CPU per handled update (its processes' user and system time, from
# /proc): on a shared machine, CPU per update moves far less between runs
# than updates per second do, so builds compare better by it.
#
#   bash tests/bench/handled.sh [BIN_DIR] [LABEL]   # default: the release build
#   BENCH_COMMANDS=1 also prints each Redis command per handled update.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
bin="${1:-${CARGO_TARGET_DIR:-$root/target}/release}"
label="${2:-this build}"
port=6395
source tests/bench/redis.sh
redis_stat() { # FILE (the command stats, kept) -> calls | lua_usec | cpu_usec
  local stats; stats=$(redis-cli -p "$port" info all | tr -d '\r')
  echo "$stats" | grep '^cmdstat_' > "$1"
  echo "$stats" | awk -F'[:=,]' '
    /^cmdstat_/ && $1 != "cmdstat_info" && $1 != "cmdstat_config" { calls += $3 }
    /^cmdstat_evalsha/ || /^cmdstat_eval:/ { lua += $5 }
    /^used_cpu_sys:/ || /^used_cpu_user:/ { cpu += $2 * 1000000 }
    END { printf "%d %d %d\n", calls, lua, cpu }'
}
# The CPU time, in clock ticks, of the mesh's processes ($mesh).
mesh_ticks() { for p in "${mesh[@]}"; do awk '{print $14 + $15}' "/proc/$p/stat"; done | awk '{s += $1} END {print s}'; }
# run NAME URL METRICS ID_OFFSET -> one row
run() {
  local name=$1 url=$2 metrics=$3 offset=$4
  taskset -c 1 wrk -t1 -c16 -d2s -s tests/bench/ingest.lua "$url" >/dev/null 2>&1 || true
  local handled_before; handled_before=$(metric "$metrics" bot_update_handle_seconds_count)
  read -r calls0 lua0 cpu0 < <(redis_stat "$work/commands0")
  local ticks0; ticks0=$(mesh_ticks)
  local t0; t0=$(date +%s.%N)
  local out; out=$(KIND=start ID_OFFSET="$offset" taskset -c 1 wrk -t1 -c64 -d10s -s tests/bench/ingest.lua "$url")
  until [ "$(metric "$metrics" bot_update_handle_seconds_count)" -ge \
    "$(( $(metric "$metrics" 'bot_updates_accepted_total{duplicate="false"}') - $(metric "$metrics" bot_updates_chatter_total) ))" ]; do
    sleep 0.05
  done
  local t1; t1=$(date +%s.%N)
  local ticks1; ticks1=$(mesh_ticks)
  read -r calls1 lua1 cpu1 < <(redis_stat "$work/commands1")
  local n=$(( $(metric "$metrics" bot_update_handle_seconds_count) - handled_before ))
  local door; door=$(echo "$out" | awk '/Requests\/sec/ {printf "%.0f", $2}')
  WORK="$work" python3 - "$name" "$n" "$t0" "$t1" "$door" "$calls0" "$calls1" "$lua0" "$lua1" "$cpu0" "$cpu1" "$ceiling" \
    "$(( ticks1 - ticks0 ))" "$(getconf CLK_TCK)" <<'PY'
import os, sys
name, n, t0, t1, door, c0, c1, l0, l1, u0, u1, ceiling, ticks, hz = sys.argv[1:]
n = max(1, int(n)); secs = float(t1) - float(t0)
rate = n / secs
redis = int(c1) > int(c0)
per = lambda a, b: f"{(int(b) - int(a)) / n:.1f}" if redis else "-"
if redis and os.environ.get("BENCH_COMMANDS"):
    # Which commands (and their usec) a handled update costs, to stderr.
    def read(path):
        out = {}
        for line in open(path):
            if line.startswith("cmdstat_"):
                name, rest = line[8:].split(":", 1)
                f = dict(kv.split("=") for kv in rest.strip().split(","))
                out[name] = (int(f["calls"]), int(f["usec"]))
        return out
    a, b = read(os.environ["WORK"] + "/commands0"), read(os.environ["WORK"] + "/commands1")
    rows = sorted(((b[k][0] - a.get(k, (0, 0))[0]) / n, (b[k][1] - a.get(k, (0, 0))[1]) / n, k) for k in b)
    print(name + ": " + ", ".join(f"{k} {c:.2f} ({u:.1f} us)" for c, u, k in reversed(rows) if c >= 0.01), file=sys.stderr)
print(f"| {name} | {rate:.0f}/s ({n} in {secs:.1f} s; door {door} req/s) | {rate / float(ceiling):.2f}x | "
      f"{per(c0, c1)} | {per(l0, l1)} | {per(u0, u1)} | {int(ticks) * 1e6 / int(hz) / n:.1f} |")
PY
}
common=(TELEGRAM_WEBHOOK_SECRET=benchsecret GATEWAY_RATE_LIMIT_RPS=0 RUST_LOG=warn BILLING_METRICS_ADDR=off)

taskset -c 0 "$bin/bench-ceiling" 127.0.0.1:18600 & pids+=($!)
sleep 0.5
taskset -c 1 wrk -t1 -c16 -d2s -s tests/bench/ingest.lua http://127.0.0.1:18600 >/dev/null 2>&1 || true
ceiling=$(KIND=start taskset -c 1 wrk -t1 -c64 -d10s -s tests/bench/ingest.lua http://127.0.0.1:18600 | awk '/Requests\/sec/ {printf "%.0f", $2}')
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

echo "$label: bare axum handler $ceiling req/s"
echo "| handled /start ($label) | handled per second | vs. bare handler | Redis commands per update | Lua usec per update | Redis CPU usec per update | mesh CPU usec per update |"
echo "|---|---|---|---|---|---|---|"

env "${common[@]}" GATEWAY_ADDR=127.0.0.1:18601 BOT_SERVICE_URL=http://127.0.0.1:18651 \
  BILLING_SERVICE_URL=http://127.0.0.1:18652 PLANS_FILE="$root/plans.toml" BOT_METRICS_ADDR=127.0.0.1:18671 \
  taskset -c 0 "$bin/mesh" all > "$work/memory.log" 2>&1 & pid=$!; pids+=($pid); mesh=("$pid")
wait_ready http://127.0.0.1:18601/ready
run "one process, in memory" http://127.0.0.1:18601 http://127.0.0.1:18671/metrics 100000000
kill "$pid"; wait "$pid" 2>/dev/null || true

redis_env=(REDIS_URL="redis://127.0.0.1:$port")
env "${common[@]}" "${redis_env[@]}" REDIS_KEY_PREFIX="h1-$$" GATEWAY_ADDR=127.0.0.1:18603 BOT_SERVICE_URL=http://127.0.0.1:18653 \
  BILLING_SERVICE_URL=http://127.0.0.1:18654 PLANS_FILE="$root/plans.toml" BOT_METRICS_ADDR=127.0.0.1:18673 \
  taskset -c 0 "$bin/mesh" all > "$work/one.log" 2>&1 & pid=$!; pids+=($pid); mesh=("$pid")
wait_ready http://127.0.0.1:18603/ready
run "one process, Redis AOF" http://127.0.0.1:18603 http://127.0.0.1:18673/metrics 200000000
kill "$pid"; wait "$pid" 2>/dev/null || true

env "${common[@]}" "${redis_env[@]}" REDIS_KEY_PREFIX="h3-$$" BILLING_SERVICE_ADDR=127.0.0.1:18662 PLANS_FILE="$root/plans.toml" \
  taskset -c 0 "$bin/billing-service" > "$work/billing.log" 2>&1 & pids+=($!)
env "${common[@]}" "${redis_env[@]}" REDIS_KEY_PREFIX="h3-$$" BOT_SERVICE_ADDR=127.0.0.1:18661 BILLING_SERVICE_URL=http://127.0.0.1:18662 \
  BOT_METRICS_ADDR=127.0.0.1:18674 taskset -c 0 "$bin/bot-service" > "$work/bot.log" 2>&1 & pids+=($!)
env "${common[@]}" "${redis_env[@]}" REDIS_KEY_PREFIX="h3-$$" GATEWAY_ADDR=127.0.0.1:18602 BOT_SERVICE_URL=http://127.0.0.1:18661 \
  BILLING_SERVICE_URL=http://127.0.0.1:18662 taskset -c 0 "$bin/gateway" > "$work/gateway.log" 2>&1 & pids+=($!)
mesh=("${pids[@]: -3}")
wait_ready http://127.0.0.1:18602/ready
run "three processes, Redis AOF" http://127.0.0.1:18602 http://127.0.0.1:18674/metrics 300000000
