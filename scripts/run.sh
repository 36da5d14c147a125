#!/usr/bin/env bash
# The whole platform on its embedded defaults: environment, demo company, every asset, then the UI.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
exec churn-platform demo "$@"
