#!/usr/bin/env bash
# Installs what the tests need beyond the Rust toolchain: a real SMTP server
# (aiosmtpd, from PyPI) that helpdesk-mail's delivery tests send mail to.
# Idempotent and quiet; safe to run before every `cargo test`.
set -euo pipefail

python="$(command -v python3 || true)"
if [ -z "$python" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-pip >/dev/null
    python="$(command -v python3)"
  else
    echo "test-deps: python3 is missing and cannot be installed here" >&2
    exit 1
  fi
fi

if ! "$python" -c 'import aiosmtpd' >/dev/null 2>&1; then
  "$python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore 'aiosmtpd>=1.4,<2' \
    || "$python" -m pip install --quiet --disable-pip-version-check --break-system-packages 'aiosmtpd>=1.4,<2'
fi
"$python" -c 'import aiosmtpd' >/dev/null
