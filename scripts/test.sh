#!/usr/bin/env bash
# Install the test dependencies into .venv, then lint, type-check and run the whole test suite.
# Extra arguments go to pytest (e.g. -k monitor).
set -euo pipefail
cd "$(dirname "$0")/.."

# Real peers the tests run against: NUT's upsd, dummy-ups and clients (Debian packages).
if [ ! -x /lib/nut/upsd ] || ! command -v upsc >/dev/null; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    # Never let the packages start system services on this machine.
    [ -e /usr/sbin/policy-rc.d ] || printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nut-server nut-client socat >/dev/null
fi

# A real X server, tray host and notification daemon for the desktop test.
bash scripts/desktop-test-deps.sh

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
export PATH="$PWD/.venv/bin:$PATH"
ruff check .
ruff format --check .
bash scripts/typecheck.sh
pytest "$@"
