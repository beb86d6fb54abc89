#!/usr/bin/env bash
# Install the test dependencies into .venv, then lint, type-check and run the whole test suite.
# Extra arguments go to pytest (e.g. -k monitor).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
export PATH="$PWD/.venv/bin:$PATH"
ruff check .
ruff format --check .
bash scripts/typecheck.sh
pytest "$@"
