#!/usr/bin/env bash
# Type-check the packages under their installed names (upsight.agent, ...).
# mypy cannot follow setuptools' editable-install finder, so it reads the
# sources through a tree of symlinks that mirrors the package-dir mapping.
set -euo pipefail
cd "$(dirname "$0")/.."
tree=build/typecheck/upsight
mkdir -p "$tree"
for pkg in agent drivers gui resources; do
    ln -sfn "../../../$pkg" "$tree/$pkg"
done
MYPYPATH=build/typecheck mypy -p upsight.agent -p upsight.drivers -p upsight.gui
MYPYPATH=build/typecheck mypy tests benchmarks
