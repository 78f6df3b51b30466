#!/usr/bin/env bash
# Renders, lints and validates the chart (see check_chart.py). Installs its
# tools from PyPI into a virtualenv cached outside the clone.
set -euo pipefail
cd "$(dirname "$0")"
venv="${CHART_VENV:-$HOME/.cache/subscription-mesh/chart-venv}"
if ! "$venv/bin/python" -c "import helm_python, kubernetes_validate, yaml" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check helm-python-sdk kubernetes-validate pyyaml
fi
"$venv/bin/python" check_chart.py
