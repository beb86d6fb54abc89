#!/usr/bin/env bash
# Refresh the translation catalogues from the desktop app's source, then compile them.
#
#   scripts/translations.sh [DIR]
#
# Updates DIR/upsight_zh_CN.ts (every string) and DIR/upsight_en.ts (plural forms only: English
# is the source language) from gui/*.py and gui/pages/*.py, keeping the translations they hold,
# and compiles each .ts into the .qm beside it. DIR defaults to resources/translations.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-resources/translations}"
[ -d .venv/bin ] && export PATH="$PWD/.venv/bin:$PATH"

# The privacy screens also show sentences from the agent's purpose table and field inventory
# (translated in the "Purposes" and "Inventory" contexts); the agent has no Qt, so they are
# listed for lupdate in a generated file.
listing="$(mktemp -d)"
trap 'rm -rf "$listing"' EXIT
python - "$listing/agent_texts.py" <<'PY'
import json
import sys

from upsight.agent.privacy.inventory import load_inventory
from upsight.agent.privacy.purposes import PURPOSES


def texts():
    for info in PURPOSES.values():
        for text in (info.name, info.why, info.caveat):
            if text:
                yield "Purposes", text
        for sub in info.subtoggles:
            yield "Purposes", sub.label
            yield "Purposes", sub.explanation
    for field in load_inventory().fields.values():
        yield "Inventory", field.description


with open(sys.argv[1], "w", encoding="utf-8") as out:
    for context, text in texts():
        print(f"QT_TRANSLATE_NOOP({json.dumps(context)}, {json.dumps(text, ensure_ascii=False)})", file=out)
PY

sources=(gui/*.py gui/pages/*.py "$listing/agent_texts.py")
# tr_noop() (gui/display.py) marks text for translation as QT_TRANSLATE_NOOP does. Without
# source locations the catalogues change only when the strings do.
common=(-silent -no-obsolete -locations none -source-language en
    -tr-function-alias QT_TRANSLATE_NOOP+=tr_noop)

mkdir -p "$out"
pyside6-lupdate "${common[@]}" -target-language zh_CN "${sources[@]}" -ts "$out/upsight_zh_CN.ts"
pyside6-lupdate "${common[@]}" -pluralonly -target-language en "${sources[@]}" \
    -ts "$out/upsight_en.ts"
for ts in "$out"/upsight_*.ts; do
    pyside6-lrelease -silent "$ts" -qm "${ts%.ts}.qm"
done
