#!/usr/bin/env bash
# Where Redis spends a handled update, per Lua script (not part of the
# test run): one process with Redis (AOF), private `/start` from 5,000
# users for 6 s with SLOWLOG at threshold 0. A script's SLOWLOG entry
# times the whole script; the commands it runs are logged too, just
# before it, so each script's time splits into its commands' own time and
# the rest (Lua, and Redis's work per `redis.call`: arguments in, reply
# back, effects kept for the AOF). Prints one line per script, per
# handled update.
#
#   bash tests/bench/scripts.sh [BIN_DIR]   # default: the release build
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
bin="${1:-${CARGO_TARGET_DIR:-$root/target}/release}"
port=6397
source tests/bench/redis.sh
redis-cli -p "$port" config set slowlog-max-len 400000 >/dev/null
one_process 18803 s
sleep 1
metrics=http://127.0.0.1:18873/metrics
h0=$(metric "$metrics" bot_update_handle_seconds_count)
redis-cli -p "$port" slowlog reset >/dev/null
redis-cli -p "$port" config set slowlog-log-slower-than 0 >/dev/null
KIND=start ID_OFFSET=600000000 taskset -c 1 wrk -t1 -c64 -d6s -s tests/bench/ingest.lua http://127.0.0.1:18803 | grep Requests
redis-cli -p "$port" config set slowlog-log-slower-than 100000000 >/dev/null
h1=$(metric "$metrics" bot_update_handle_seconds_count)
python3 - "$port" "$((h1 - h0))" <<'PY'
# A RESP client of its own: the entries hold binary arguments.
import collections, re, socket, sys
port, handled = int(sys.argv[1]), max(1, int(sys.argv[2]))
s = socket.create_connection(("127.0.0.1", port)); f = s.makefile("rb")
s.sendall(b"*3\r\n$7\r\nSLOWLOG\r\n$3\r\nGET\r\n$2\r\n-1\r\n")
def read():
    line = f.readline(); t, rest = line[:1], line[1:-2]
    if t == b"*":
        n = int(rest); return None if n < 0 else [read() for _ in range(n)]
    if t == b"$":
        n = int(rest); return None if n < 0 else f.read(n + 2)[:-2]
    return int(rest) if t == b":" else rest
scripts = collections.defaultdict(lambda: [0, 0, collections.Counter(), collections.Counter()])
inner = []
for _, _, usec, args, *_ in sorted(read(), key=lambda e: e[0]):
    cmd = args[0].decode().lower()
    if cmd in ("slowlog", "info", "config"):
        continue
    if cmd != "evalsha":
        inner.append((cmd, usec)); continue
    # A script is named by its sha and its first key with the numbers out.
    first = re.sub(r"[0-9-]+", "N", args[3].decode(errors="replace")) if len(args) > 3 else ""
    sc = scripts[args[1].decode()[:8] + " " + first[-24:]]
    sc[0] += 1; sc[1] += usec
    for c, u in inner:
        sc[2][c] += u; sc[3][c] += 1
    inner = []
print(f"{handled} updates handled while logging")
for name, (calls, usec, by, count) in sorted(scripts.items(), key=lambda kv: -kv[1][1]):
    if usec / handled < 0.2:
        continue
    own = sum(by.values())
    print(f"{name:34s} {calls:6d} calls; per update: {usec / handled:5.2f} us, its commands {own / handled:5.2f} us, "
          f"the rest {(usec - own) / handled:5.2f} us")
    print("    " + ", ".join(f"{c} {count[c] / handled:.2f}x {u / handled:.2f} us" for c, u in by.most_common(6)))
PY
