#!/usr/bin/env bash
# Headless Chromium + chromedriver for the end-to-end screenshot tests (Debian packages).
# Sourced by scripts/test.sh; does nothing when both are already installed.
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  return 0 2>/dev/null || exit 0
fi
echo "==> installing chromium and chromium-driver (Debian packages, for the screenshot tests)"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "error: chromium is missing and this user cannot install Debian packages (not root, no sudo)." >&2
    echo "       install them once: apt-get install -y chromium chromium-driver" >&2
    return 1 2>/dev/null || exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null
command -v chromium >/dev/null && command -v chromedriver >/dev/null
