#!/usr/bin/env bash
# Where Redis's own CPU goes on the handled path (not part of the test
# run): one process with Redis (AOF), private `/start` from 5,000 users,
# `perf record` of redis-server for 5 s of it. Splits Redis's samples into
# the Lua VM (Debian's redis-server keeps the Lua library's internal
# functions unnamed: samples at addresses inside its code count here),
# number conversion (libc's strtod and printf, which Lua calls for
# `tonumber` and for numbers handed to `redis.call`), allocation, the
# kernel (the socket and the AOF's writes) and the rest (commands, the
# protocol, the event loop), then lists the top named functions.
# scripts.sh splits the same time per script; this says what kind of work
# it is.
#
#   bash tests/bench/redis-cpu.sh [BIN_DIR]   # default: the release build
#   needs perf (Debian: apt-get install -y linux-perf)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
bin="${1:-${CARGO_TARGET_DIR:-$root/target}/release}"
command -v perf >/dev/null || { echo "perf is missing (apt-get install -y linux-perf)" >&2; exit 1; }
port=6392
source tests/bench/redis.sh
one_process 18903 c
server=$(redis-cli -p "$port" info server | tr -d '\r' | awk -F: '/^process_id:/ {print $2}')
exe=$(readlink -f "/proc/$server/exe")
KIND=start ID_OFFSET=800000000 taskset -c 1 wrk -t1 -c64 -d8s -s tests/bench/ingest.lua \
  http://127.0.0.1:18903 > "$work/wrk.txt" & load=$!
sleep 2
perf record -q -F 2000 -p "$server" -o "$work/perf.data" -- sleep 5 >/dev/null 2>&1
wait "$load"
grep Requests "$work/wrk.txt"
# The Lua library's code: from its first to its last named function.
nm -D --defined-only "$exe" | awk '$3 ~ /^(lua_|luaL_|luaopen_)/ {print $1}' | sort > "$work/lua.txt"
lo=$(head -1 "$work/lua.txt"); hi=$(tail -1 "$work/lua.txt")
perf report -i "$work/perf.data" --no-children --sort dso,symbol -g none 2>/dev/null |
  awk -v lo="$lo" -v hi="$hi" '
    BEGIN { lo = strtonum("0x" lo); hi = strtonum("0x" hi) }
    /^ *[0-9.]+%/ {
      pct = $1; sub("%", "", pct); dso = $2; sym = $4
      if (dso ~ /jemalloc/) kind = "allocation"
      else if (dso ~ /kernel/) kind = "kernel"
      else if (sym ~ /^0x/) { a = strtonum(sym); kind = (dso !~ /^lib/ && a >= lo && a <= hi) ? "Lua VM" : "the rest" }
      else if (sym ~ /^(lua_|luaL_|luaopen_)/) kind = "Lua VM"
      else if (sym ~ /(strtod|printf|mpn|hack_digit|str_to_mpn|round_and_return)/) kind = "number conversion"
      else if (sym ~ /^(malloc|free|realloc|zmalloc|zfree|zrealloc|zcalloc|malloc_usable_size)/) kind = "allocation"
      else kind = "the rest"
      if (kind == "the rest" && sym !~ /^0x/) named[sym] += pct
      share[kind] += pct; total += pct
    }
    END {
      for (k in share) printf "%-22s %5.1f%%\n", k, share[k] * 100 / total | "sort -k1,1"
      close("sort -k1,1")
      print "top of the rest:"
      for (s in named) printf "  %5.1f%% %s\n", named[s] * 100 / total, s | "sort -rn | head -8"
    }'
