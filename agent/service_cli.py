"""``upsight service``: install, remove, inspect and render the agent's system service."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from upsight.agent.service_mode.install import (
    Installer,
    Runner,
    RunResult,
    ServiceError,
    apply,
    default_command,
    describe,
    installer_for,
    run_process,
)
from upsight.agent.service_mode.units import (
    render_launchd,
    render_polkit,
    render_systemd,
    render_sysusers,
)

NOT_RUNNING: Final = 3
"""Exit code of ``status`` when the service is not running (as LSB init scripts use)."""

_RENDERERS: Final = ("systemd", "sysusers", "polkit", "launchd")


def build_parser() -> argparse.ArgumentParser:
    """The parser of the arguments after ``upsight service``."""
    parser = argparse.ArgumentParser(
        prog="upsight service",
        description="Run the agent as a system service: one agent for the machine, "
        "reached by every user's app over the local API.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, text in (
        ("install", "install, enable and start the service (needs root)"),
        ("uninstall", "stop and remove the service; config, policy and history stay"),
        ("status", f"is it installed, enabled and running? (exit {NOT_RUNNING}: not running)"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument(
            "--root",
            type=Path,
            metavar="DIR",
            help="work on a staged tree or disk image at DIR: write files there and print "
            "the commands its own system must run",
        )
        if name != "status":
            action.add_argument(
                "--dry-run", action="store_true", help="print every step without doing it"
            )
        if name == "install":
            action.add_argument(
                "--exec",
                dest="program",
                metavar="PATH",
                help="the upsight program the service runs (default: this installation's)",
            )
    render = actions.add_parser("render", help="print one service file (for packaging)")
    render.add_argument("kind", choices=_RENDERERS)
    render.add_argument(
        "--exec", dest="program", metavar="PATH", help="the upsight program the service runs"
    )
    return parser


def _command(program: str | None) -> tuple[str, ...]:
    return (program,) if program else default_command()


def _render(kind: str, program: str | None) -> None:
    command = _command(program)
    if kind == "launchd":
        sys.stdout.write(render_launchd(command).decode("utf-8"))
        return
    text = {
        "systemd": lambda: render_systemd(command),
        "sysusers": render_sysusers,
        "polkit": render_polkit,
    }[kind]()
    sys.stdout.write(text)


def _offline(argv: Sequence[str]) -> RunResult:
    return RunResult(1, "a staged tree is not a running system; only its files were checked")


def _change(installer: Installer, args: argparse.Namespace, root: Path, runner: Runner) -> int:
    steps = installer.install_steps() if args.action == "install" else installer.uninstall_steps()
    if args.dry_run:
        for step in steps:
            print(describe(step))
        return 0
    if args.root is None and hasattr(os, "geteuid") and os.geteuid() != 0:
        raise ServiceError(f"{args.action} needs root: sudo upsight service {args.action}")
    warnings = apply(steps, root, runner, run_commands=args.root is None)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{args.action}: done")
    return 0


def main(argv: Sequence[str]) -> int:
    """Run ``upsight service`` with the arguments after ``service``.

    Args:
        argv: e.g. ``["install", "--dry-run"]``.

    Returns:
        0 on success; 1 when a step failed; ``status``: 3 when the service is not running.
    """
    args = build_parser().parse_args(argv)
    if args.action == "render":
        _render(args.kind, args.program)
        return 0
    root = args.root or Path("/")
    runner: Runner = _offline if args.root is not None else run_process
    try:
        installer = installer_for(
            command=_command(getattr(args, "program", None)), root=root, runner=runner
        )
        if args.action == "status":
            status = installer.status()
        else:
            return _change(installer, args, root, runner)
    except ServiceError as exc:
        print(f"upsight service: {exc}", file=sys.stderr)
        return 1

    def word(value: bool | None) -> str:
        return "unknown" if value is None else ("yes" if value else "no")

    print(f"installed: {word(status.installed)}")
    print(f"enabled:   {word(status.enabled)}")
    print(f"running:   {word(status.active)}")
    print(f"detail:    {status.detail}")
    return 0 if status.active else NOT_RUNNING
