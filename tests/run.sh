#!/usr/bin/env bash
# The test command: everything the suite needs, then the whole suite.
#
# - A Redis answering on 127.0.0.1:6379 (installed from Debian's packages
#   and started when missing); tests use their own key prefixes on it and
#   start private redis-server processes for outage tests.
# - A 3-master Redis Cluster on 127.0.0.1:17000-17005 (tests/redis-cluster.sh).
# - The workspace binaries, which the end-to-end tests run as processes.
# - make, openssl and Python's venv (tests/prereqs.sh, installed when missing).
# protoc needs no install: the build uses a vendored one.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/prereqs.sh

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  echo "installing redis-server (Debian package)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >/dev/null
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "starting redis-server on 127.0.0.1:6379"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

# A local Redis Cluster for the cluster tests (reused when healthy).
TEST_REDIS_CLUSTER_URL="$(bash tests/redis-cluster.sh)"
export TEST_REDIS_CLUSTER_URL

# No import circle between files of bot-service, nor between billing's
# domain and its Stripe client.
python3 tests/check_imports.py bot-service billing-service:stripe_api

cargo build --locked --workspace --bins
cargo test --locked --workspace "$@"

# The Helm chart: render, lint, validate, property checks (Python tools
# from PyPI, cached outside the clone).
bash deploy/helm/tests/run.sh
