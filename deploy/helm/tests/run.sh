#!/usr/bin/env bash
# Renders, lints and validates the chart (see check_chart.py). Installs its
# tools, cached outside the clone: the Python ones from PyPI into a
# virtualenv, and promtool (for the alert rules) from Debian's prometheus
# package, unpacked without installing the server.
set -euo pipefail
cd "$(dirname "$0")"
cache="$HOME/.cache/subscription-mesh"
venv="${CHART_VENV:-$cache/chart-venv}"
if ! "$venv/bin/python" -c "import helm_python, kubernetes_validate, yaml" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check helm-python-sdk kubernetes-validate pyyaml
fi
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if [ -z "${PROMTOOL:-}" ] && ! command -v promtool >/dev/null 2>&1; then
  PROMTOOL="$cache/bin/promtool"
  if [ ! -x "$PROMTOOL" ]; then
    tmp="$(mktemp -d)"
    if (cd "$tmp" && { apt-get download prometheus >/dev/null 2>&1 \
          || { as_root apt-get update -qq >/dev/null 2>&1 && apt-get download prometheus >/dev/null 2>&1; }; }); then
      dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/x"
      mkdir -p "$cache/bin"
      cp "$tmp/x/usr/bin/promtool" "$PROMTOOL"
    else
      echo "promtool unavailable (no Debian prometheus package): alert rules get a structural check only"
      PROMTOOL=""
    fi
    rm -rf "$tmp"
  fi
  export PROMTOOL
fi
"$venv/bin/python" check_chart.py
