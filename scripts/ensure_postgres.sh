#!/usr/bin/env bash
# PostgreSQL server binaries (Debian's postgresql package) for the connector tests, which start a throw-away
# server of their own (initdb + pg_ctl in a temporary folder, on a free port). Sourced by scripts/test.sh;
# does nothing when initdb is already installed. Nothing is started here.
_churn_pg_bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; fi
  done | sort -V | tail -n 1
}
if [ -n "$(_churn_pg_bindir)" ] || command -v initdb >/dev/null 2>&1; then
  return 0 2>/dev/null || exit 0
fi
echo "==> installing postgresql (Debian package, for the application-database connector tests)"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "error: PostgreSQL is missing and this user cannot install Debian packages (not root, no sudo)." >&2
    echo "       install it once: apt-get install -y postgresql" >&2
    return 1 2>/dev/null || exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
# the package's own cluster is not needed (the tests make theirs): don't create or start one
$SUDO mkdir -p /etc/postgresql-common/createcluster.d
echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.d/churn-no-main.conf >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
[ -n "$(_churn_pg_bindir)" ]
