#!/usr/bin/env bash
# Installs what the tests need beyond the Rust toolchain, each only if missing:
# - a real SMTP server (aiosmtpd, from PyPI) that helpdesk-mail's delivery tests send to;
# - schemathesis (from PyPI), which checks the server against its OpenAPI document;
# - Debian's chromium and chromedriver, which the browser tests drive headless;
# - Debian's PostgreSQL server (initdb, pg_ctl), from which the PostgreSQL tests
#   start a throwaway cluster when DATABASE_URL is not set.
# Idempotent and quiet; safe to run before every `cargo test`. Needs root for apt
# (CI and the developer machines run as root).
set -euo pipefail

apt_ready=""
apt_install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "scripts/test-deps.sh: $* missing and cannot be installed here (needs root and apt)" >&2
    exit 1
  fi
  if [ -z "$apt_ready" ]; then
    apt-get update -qq >/dev/null
    apt_ready=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# SMTP server for the delivery tests.
python="$(command -v python3 || true)"
if [ -z "$python" ]; then
  apt_install python3 python3-pip
  python="$(command -v python3)"
fi
if ! "$python" -c 'import aiosmtpd' >/dev/null 2>&1; then
  "$python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore 'aiosmtpd>=1.4,<2' \
    || "$python" -m pip install --quiet --disable-pip-version-check --break-system-packages 'aiosmtpd>=1.4,<2'
fi
"$python" -c 'import aiosmtpd' >/dev/null

# schemathesis, which checks the server's answers against its OpenAPI document
# (bins/web/tests/schemathesis.rs). Pinned: its checks change between releases.
if ! "$python" -m schemathesis.cli --version 2>/dev/null | grep -q ' 4\.32\.5$'; then
  "$python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore 'schemathesis==4.32.5' \
    || "$python" -m pip install --quiet --disable-pip-version-check --break-system-packages 'schemathesis==4.32.5'
fi
"$python" -m schemathesis.cli --version >/dev/null

# Headless browser for the end-to-end tests.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  apt_install chromium chromium-driver
fi
command -v chromium >/dev/null && command -v chromedriver >/dev/null

# PostgreSQL server binaries for the PostgreSQL tests (helpdesk_store::pg::testing).
has_initdb() { compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null 2>&1; }
if [ -z "${DATABASE_URL:-}" ] && ! has_initdb; then
  apt_install postgresql
fi
[ -n "${DATABASE_URL:-}" ] || has_initdb
