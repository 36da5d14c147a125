#!/usr/bin/env bash
# The whole test suite: lint, format, types, then pytest. CI (.ci/run) calls exactly this.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
source "$(dirname "${BASH_SOURCE[0]}")/ensure_browser.sh"
source "$(dirname "${BASH_SOURCE[0]}")/ensure_postgres.sh"
echo "==> ruff check";  ruff check .
echo "==> ruff format"; ruff format --check .
echo "==> mypy";        mypy
echo "==> pytest";      pytest "$@"
