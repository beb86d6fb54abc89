"""``upsight protect``: simulate an outage against the settings; watch or steer the running agent.

``simulate`` needs no agent: it plays a simulator scenario through the real
policy engine in simulated time. ``status``, ``postpone`` and ``cancel`` talk
to the running agent over the local API.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from upsight.agent.api.client import ApiClient
    from upsight.agent.config import LoadResult

_STAGES: Final = {
    "watching": "watching; nothing scheduled",
    "cancelled": "cancelled by the user; protection acts again at the next trigger",
}
_ACTIONS: Final = {
    "shutdown": "shut down",
    "hibernate": "hibernate",
    "command": "run the protection command",
    "notify": "notify only",
    "none": "monitor only",
}


def build_parser() -> argparse.ArgumentParser:
    """The parser of the arguments after ``upsight protect``."""
    parser = argparse.ArgumentParser(
        prog="upsight protect",
        description="Check when this computer would be shut down, and steer a running shutdown.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    simulate = actions.add_parser(
        "simulate",
        help="play a simulated outage against the current settings, in simulated time",
    )
    simulate.add_argument(
        "scenario", help="a simulator scenario such as outage or sim://outage?profile=ippon-850"
    )
    simulate.add_argument("--json", action="store_true", help="print one JSON object")
    simulate.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="try a setting without saving it, e.g. protection.delay_s=30 (repeatable)",
    )
    simulate.add_argument(
        "--minutes", type=float, default=10.0, help="the most simulated time to play (default 10)"
    )
    simulate.add_argument(
        "--platform",
        choices=("Linux", "Windows", "Darwin"),
        default=platform.system(),
        help="show the commands of this platform (default: this computer's)",
    )
    status = actions.add_parser("status", help="what protection sees and plans now")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    postpone = actions.add_parser("postpone", help="push a scheduled shutdown back")
    postpone.add_argument(
        "seconds",
        type=float,
        nargs="?",
        help="how long; default and maximum protection.postpone_s",
    )
    actions.add_parser("cancel", help="call off a scheduled shutdown until the next trigger")
    return parser


def _value(text: str) -> Any:
    """A value typed on the command line: TOML syntax when it parses, else plain text."""
    import tomllib

    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _simulate(args: argparse.Namespace, load_config: Callable[[], LoadResult]) -> int:
    from upsight.agent import config as config_file
    from upsight.agent.protection.settings import ProtectionSettings
    from upsight.agent.protection.simulate import render, simulate, to_json

    loaded = load_config()
    for problem in loaded.problems:
        print(f"warning: {problem}", file=sys.stderr)
    config = loaded.config
    for item in args.set:
        key, sep, text = item.partition("=")
        if not sep:
            print(f"upsight protect: --set takes KEY=VALUE, not {item!r}", file=sys.stderr)
            return 2
        try:
            config = config_file.with_value(config, key.strip(), _value(text.strip()))
        except config_file.ConfigError as exc:
            print(f"upsight protect: {exc}", file=sys.stderr)
            return 2
    settings = ProtectionSettings.from_config(config)
    result = simulate(args.scenario, settings, args.platform, args.minutes * 60)
    if args.json:
        print(json.dumps(to_json(result), indent=2))
    else:
        print(render(result))
    return 0


def _clock(at: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at))


def status_text(status: dict[str, Any]) -> str:
    """The agent's protection status as plain text."""
    action = _ACTIONS.get(status["action"], status["action"])
    runs = f" ({status['runs']})" if status["runs"] else ""
    dry = "  [dry run: nothing really runs]" if status["dry_run"] else ""
    lines = [f"Protection: {action}{runs}{dry}"]
    stage = status["stage"]
    trigger = status["trigger"]
    why = f": {trigger['text']} ({trigger['device']})" if trigger else ""
    if stage == "countdown":
        when = f"in {status['seconds_left']:.0f} s, at {_clock(status['deadline'])}"
        if status["held"]:
            when = "held until the UPS is read again after the clock jumped"
        lines.append(f"Scheduled {when}{why}")
        if status["postpones_left"]:
            lines.append(
                f"  {status['postpones_left']} postponement(s) left: upsight protect postpone"
            )
        elif not status["allow_postpone"]:
            lines.append("  Postponing and cancelling are not allowed by settings.")
    elif stage in {"acted", "failed"}:
        outcome = f"; {status['outcome']}" if status["outcome"] else ""
        verb = "Acted" if stage == "acted" else "Failed"
        lines.append(f"{verb} at {_clock(status['acted_at'])}{why}{outcome}")
    else:
        lines.append(f"State: {_STAGES.get(stage, stage)}")
    lines.append("UPSes:")
    for device in status["devices"]:
        role = "" if device["watched"] else " (not counted: it does not power this computer)"
        lines.append(f"  {device['device']}: {device['note']}{role}")
    if not status["devices"]:
        lines.append("  none read yet")
    lines.append("Rules:")
    lines += [f"  {rule}" for rule in status["rules"]]
    return "\n".join(lines)


def _agent(connect: Callable[[], ApiClient | None]) -> ApiClient:
    from upsight.agent.api.errors import AgentNotRunning

    client = connect()
    if client is None:
        raise AgentNotRunning("no agent is running; start one with: upsight run")
    return client


def main(
    argv: Sequence[str],
    load_config: Callable[[], LoadResult],
    connect: Callable[[], ApiClient | None],
) -> int:
    """Run ``upsight protect`` with the arguments after ``protect``.

    Args:
        argv: e.g. ``["simulate", "outage"]`` or ``["postpone", "120"]``.
        load_config: the effective config, for ``simulate``.
        connect: a client of the running agent, or None when none runs.

    Returns:
        0, or 2 for a bad ``--set``.

    Raises:
        ApiError: the agent refused (e.g. postponing is not allowed) or is not running.
        DeviceSpecError: ``simulate`` was given something other than a simulator scenario.
    """
    args = build_parser().parse_args(argv)
    if args.action == "simulate":
        return _simulate(args, load_config)
    with _agent(connect) as client:
        if args.action == "status":
            status = client.call("protection.status")
        elif args.action == "postpone":
            status = client.call("protection.postpone", seconds=args.seconds)
        else:
            status = client.call("protection.cancel")
    if args.action == "status" and args.json:
        print(json.dumps(status, indent=2))
    else:
        print(status_text(status))
    return 0
