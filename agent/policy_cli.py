"""``upsight policy``: the policy in effect with sources and errors, a file check, ADMX files."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Final

from upsight.agent.privacy.admin_policy import (
    EffectivePolicy,
    PolicyProblem,
    load_policy,
    schema_location,
    validate_file,
)
from upsight.agent.privacy.effective import PolicyDecision
from upsight.agent.settings_policy import setting_problems

_DECISIONS: Final = {
    PolicyDecision.NONE: "left to the user",
    PolicyDecision.BLOCKED: "blocked by CloudConnection",
    PolicyDecision.DENIED_LOCKED: "denied, locked",
    PolicyDecision.DENIED_DEFAULT: "denied by default; the user may allow it",
    PolicyDecision.GRANTED_LOCKED: "granted, locked",
    PolicyDecision.GRANTED_DEFAULT: "granted by default; the user may turn it off",
    PolicyDecision.INVALID: "blocked: policy error, see Errors (fail closed)",
}


def build_parser() -> argparse.ArgumentParser:
    """The parser of the arguments after ``upsight policy``."""
    parser = argparse.ArgumentParser(
        prog="upsight policy",
        description="Show the admin policy in effect, or check a policy file before rollout.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = actions.add_parser(
        "show", help="print the policy in effect, where each value comes from, and errors"
    )
    show.add_argument("--json", action="store_true", help="print one JSON object")
    show.add_argument(
        "--root",
        type=Path,
        metavar="DIR",
        help="read policy files under DIR instead of / (a disk image or staged tree)",
    )
    validate = actions.add_parser(
        "validate", help="check a policy file; exit 1 naming each problem when it has any"
    )
    validate.add_argument("file", type=Path, metavar="FILE", help="a JSON policy file")
    admx = actions.add_parser(
        "admx", help="write Group Policy templates: OUTDIR/upsight.admx, OUTDIR/en-US/upsight.adml"
    )
    admx.add_argument("outdir", type=Path, metavar="OUTDIR", help="where to write them")
    return parser


def _problem_line(problem: PolicyProblem) -> str:
    return f"{problem.source}: {problem.key or '(whole source)'}: {problem.problem}"


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows in aligned columns; the last column (a source path) is left ragged."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [
        "  ".join(
            ["", *(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]]
        ).rstrip()
        for row in rows
    ]


def _value_text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def show_text(policy: EffectivePolicy) -> str:
    """The policy as the diagnostics page shows it: Active, Purposes, Errors, Documentation.

    Args:
        policy: the merged policy.

    Returns:
        Plain text, one section after another.
    """
    lines = ["Active"]
    if policy.entries:
        header = ("NAME", "VALUE", "SCOPE", "STATUS", "SOURCE")
        entries = [
            (
                e.name,
                _value_text(e.value),
                e.scope.value,
                "locked" if e.locked else "default",
                e.source,
            )
            for e in policy.entries
        ]
        lines += _table([header, *entries])
    else:
        lines.append("  No policy is set.")
    lines += ["", "Purposes"]
    purposes = [
        (purpose, _DECISIONS[p.decision], p.source or "") for purpose, p in policy.purposes.items()
    ]
    lines += _table([("PURPOSE", "POLICY", "SOURCE"), *purposes])
    lines += ["", "Errors"]
    lines += [f"  {_problem_line(p)}" for p in policy.errors] or ["  None."]
    lines += [
        "",
        "Documentation",
        f"  Policy keys and values (JSON Schema): {schema_location()}",
        f"  Searched: {', '.join(policy.searched)}",
        "  Check a file before rollout: upsight policy validate FILE",
    ]
    return "\n".join(lines)


def show_json(policy: EffectivePolicy) -> dict[str, Any]:
    """The policy as one JSON-ready object (``upsight policy show --json``)."""
    return {
        "active": [asdict(e) for e in policy.entries],
        "purposes": {
            purpose: {"decision": p.decision.value, "source": p.source}
            for purpose, p in policy.purposes.items()
        },
        "errors": [asdict(p) for p in policy.errors],
        "searched": list(policy.searched),
        "schema": schema_location(),
    }


def main(argv: Sequence[str]) -> int:
    """Run ``upsight policy`` with the arguments after ``policy``.

    Args:
        argv: e.g. ``["show", "--json"]`` or ``["validate", "corp.json"]``.

    Returns:
        0, or 1 when ``validate`` found problems.
    """
    args = build_parser().parse_args(argv)
    if args.action == "validate":
        problems = validate_file(args.file)
        for problem in problems:
            print(_problem_line(problem))
        if problems:
            count = len(problems)
            print(f"{count} problem{'s' if count != 1 else ''} in {args.file}")
            return 1
        print("OK")
        return 0
    if args.action == "admx":
        from upsight.agent.admx import write

        for path in write(args.outdir):
            print(path)
        return 0
    policy = load_policy(args.root)
    # Values the schema lets through but the agent still refuses (an unknown device kind).
    policy = replace(policy, errors=policy.errors + setting_problems(policy))
    if args.json:
        print(json.dumps(show_json(policy), indent=2))
    else:
        print(show_text(policy))
    return 0
