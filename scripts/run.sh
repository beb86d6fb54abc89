#!/usr/bin/env bash
# Install Upsight into .venv and run the agent in the foreground.
# With no UPS configured it monitors the built-in simulated UPS. Extra
# arguments go to `upsight run` (e.g. --device sim://outage?speed=20).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
exec .venv/bin/upsight run "$@"
