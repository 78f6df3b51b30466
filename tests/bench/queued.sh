#!/usr/bin/env bash
# Queued work on one build, for side-by-side comparisons of queue designs
# (not part of the test run): three processes and Redis (AOF everysec)
# pinned to CPU 0, wrk on CPU 1 sending edited group messages (queued,
# claimed and acknowledged). Prints req/s, Redis commands per update and
# the per-command breakdown from INFO commandstats.
#
#   bash tests/bench/queued.sh [BIN_DIR]   # default: the release build
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
bin="${1:-${CARGO_TARGET_DIR:-$root/target}/release}"
port=6394
source tests/bench/redis.sh
common=(TELEGRAM_WEBHOOK_SECRET=benchsecret GATEWAY_RATE_LIMIT_RPS=0 RUST_LOG=warn
  BOT_METRICS_ADDR=off BILLING_METRICS_ADDR=off REDIS_URL="redis://127.0.0.1:$port" REDIS_KEY_PREFIX="queued-$$")
env "${common[@]}" BILLING_SERVICE_ADDR=127.0.0.1:18562 PLANS_FILE="$root/plans.toml" \
  taskset -c 0 "$bin/billing-service" > "$work/billing.log" 2>&1 & pids+=($!)
env "${common[@]}" BOT_SERVICE_ADDR=127.0.0.1:18561 BILLING_SERVICE_URL=http://127.0.0.1:18562 \
  BOT_METRICS_ADDR=127.0.0.1:18571 taskset -c 0 "$bin/bot-service" > "$work/bot.log" 2>&1 & pids+=($!)
env "${common[@]}" GATEWAY_ADDR=127.0.0.1:18502 BOT_SERVICE_URL=http://127.0.0.1:18561 \
  BILLING_SERVICE_URL=http://127.0.0.1:18562 taskset -c 0 "$bin/gateway" > "$work/gateway.log" 2>&1 & pids+=($!)
wait_ready http://127.0.0.1:18502/ready
metrics=http://127.0.0.1:18571/metrics
taskset -c 1 wrk -t1 -c16 -d2s -s tests/bench/ingest.lua http://127.0.0.1:18502 >/dev/null 2>&1
redis-cli -p "$port" config resetstat >/dev/null
before=$(metric "$metrics" bot_updates_accepted_total)
rps=$(KIND=edited_message ID_OFFSET=700000000 taskset -c 1 wrk -t1 -c64 -d10s -s tests/bench/ingest.lua \
  http://127.0.0.1:18502 | awk '/Requests\/sec/ {printf "%.0f", $2}')
until [ "$(metric "$metrics" bot_update_handle_seconds_count)" -ge \
  "$(( $(metric "$metrics" 'bot_updates_accepted_total{duplicate="false"}') - $(metric "$metrics" bot_updates_chatter_total) ))" ]; do
  sleep 0.05
done
n=$(( $(metric "$metrics" bot_updates_accepted_total) - before ))
redis-cli -p "$port" info commandstats | tr -d '\r' | awk -F'[:=,]' -v n="$n" -v rps="$rps" '
  /^cmdstat_/ && $1 != "cmdstat_info" && $1 != "cmdstat_config" {
    name = substr($1, 9); calls[name] = $3; usec[name] = $7; total += $3
  }
  END {
    printf "queued work: %s req/s, %.2f Redis commands per update (%d updates)\n", rps, total / n, n
    for (c in calls) printf "  %-16s %.3f per update, %s usec per call\n", c, calls[c] / n, usec[c]
  }' | { IFS= read -r header; echo "$header"; sort -k2 -nr; }
