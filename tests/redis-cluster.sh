#!/usr/bin/env bash
# Starts, once, a 3-master Redis Cluster (6 redis-server processes, one
# replica each) on 127.0.0.1 ports 17000-17005 for the tests, and prints its
# REDIS_URL. A cluster that is already healthy is reused.
set -euo pipefail
base="${REDIS_CLUSTER_BASE_PORT:-17000}"
dir="${TMPDIR:-/tmp}/subscription-mesh-redis-cluster"
url="redis+cluster://127.0.0.1:${base}"
if redis-cli -p "$base" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; then
  echo "$url"
  exit 0
fi
ports=$(seq "$base" $((base + 5)))
for port in $ports; do
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
done
rm -rf "$dir" && mkdir -p "$dir"
for port in $ports; do
  redis-server --port "$port" --bind 127.0.0.1 --cluster-enabled yes \
    --cluster-config-file "$dir/nodes-$port.conf" --cluster-node-timeout 2000 \
    --save "" --appendonly no --daemonize yes --dir "$dir" --logfile "$dir/$port.log" >/dev/null
done
for port in $ports; do
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
done
nodes=""
for port in $ports; do nodes="$nodes 127.0.0.1:$port"; done
# shellcheck disable=SC2086
redis-cli --cluster create $nodes --cluster-replicas 1 --cluster-yes >"$dir/create.log" 2>&1
for _ in $(seq 100); do
  ok=1
  for port in $ports; do
    redis-cli -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || ok=0
  done
  [ "$ok" = 1 ] && break
  sleep 0.1
done
echo "$url"
