#!/usr/bin/env bash
# Debian packages the build and the tests need that a fresh machine may
# lack (run by tests/run.sh and .ci/run; installs only what is missing).
set -euo pipefail
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# make builds jemalloc (the `mesh/jemalloc` feature: CI's lints, the
# benchmark, the image); openssl makes the TLS
# test's certificates; python3 with venv runs the chart checks; faketime
# gives one billing replica a clock of its own (the two-clocks test).
missing=()
command -v faketime >/dev/null 2>&1 || missing+=(faketime)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if ! command -v python3 >/dev/null 2>&1; then
  missing+=(python3 python3-venv)
elif ! python3 -c "import venv, ensurepip" >/dev/null 2>&1; then
  missing+=(python3-venv)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} (Debian packages)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
