#!/usr/bin/env bash
# Create the project environment from the committed uv.lock, on a machine that has only python3 and pip.
# Sourced by scripts/run.sh and scripts/test.sh; safe to run again (it only syncs what changed).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
UV_VERSION="0.13.9"
if [ ! -x .tools/bin/uv ] || ! .tools/bin/uv --version 2>/dev/null | grep -q "$UV_VERSION"; then
  echo "==> installing uv $UV_VERSION into .tools/"
  python3 -m venv .tools
  .tools/bin/python -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi
echo "==> syncing the environment from uv.lock"
.tools/bin/uv sync --frozen --compile-bytecode --quiet
export PATH="$ROOT/.venv/bin:$PATH"
# Nothing phones home: Dagster, MLflow, dbt, Great Expectations, Evidently, dlt.
export DAGSTER_DISABLE_TELEMETRY=1 MLFLOW_DISABLE_TELEMETRY=true DBT_SEND_ANONYMOUS_USAGE_STATS=false \
  DO_NOT_TRACK=1 GX_ANALYTICS_ENABLED=false EVIDENTLY_DISABLE_TELEMETRY=1 RUNTIME__DLTHUB_TELEMETRY=false
