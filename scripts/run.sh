#!/usr/bin/env bash
# Install Upsight into .venv and run it: the desktop app when there is a display,
# otherwise the agent in the foreground. With no UPS found the app offers the
# built-in simulated UPS and the agent monitors it. Extra arguments go to
# `upsight` / `upsight run` (e.g. --device 'sim://outage?speed=20').
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
    exec .venv/bin/upsight "$@"
fi
exec .venv/bin/upsight run "$@"
