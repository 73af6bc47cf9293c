#!/usr/bin/env bash
# Installs what the browser tests need (Debian's chromium and chromedriver), if missing.
# Idempotent; needs root (CI and the developer machines run as root).
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "scripts/test-deps.sh: chromium/chromedriver missing and not root; install them with apt" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium chromium-driver >/dev/null
command -v chromium >/dev/null && command -v chromedriver >/dev/null
