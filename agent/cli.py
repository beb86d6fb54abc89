"""The ``upsight`` command line: status, run, events, history, energy, devices, config, and more.

Imports are deferred to the command that needs them so that ``upsight status``
starts quickly.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import logging

    from upsight.agent.api.client import ApiClient
    from upsight.agent.config import LoadResult
    from upsight.agent.history.store import HistoryStore
    from upsight.agent.monitor import DeviceState
    from upsight.agent.paths import AppPaths
    from upsight.agent.privacy.center import PrivacyCenter
    from upsight.agent.protection.executors import CapturingExecutor
    from upsight.agent.settings_policy import Locks
    from upsight.drivers.discovery import Found
    from upsight.drivers.model import Reading

SIMULATOR_HINT: Final = "Try the simulator: upsight status --device sim://normal"
FALLBACK_DEVICE: Final = "sim://normal"


class CliError(Exception):
    """A failure to report on one line, with the exit code to use."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _paths() -> AppPaths:
    from upsight.agent.paths import AppPaths

    return AppPaths.default()


def _agent_client() -> ApiClient | None:
    """A client of the user's own agent, else of the machine's service; None when none answers."""
    from upsight.agent.api.client import ApiClient

    for socket in (_paths().api_socket, _system_paths().api_socket):
        if ApiClient.is_running(socket):
            return ApiClient(socket)
    return None


def _print_values(values: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(values, indent=2, sort_keys=True))
    else:
        for name, value in values.items():
            print(f"{name}: {value}")


def _nut_values(reading: Reading) -> dict[str, Any]:
    return reading.as_nut()


def _json_values(reading: Reading) -> dict[str, Any]:
    out: dict[str, Any] = dict(reading.values)
    out["ups.status"] = str(reading.status)
    return dict(sorted(out.items()))


def _stale_message(state: DeviceState, now: float) -> str:
    last = state.last_reading
    seen = f"last reading {now - last.at:.0f} s ago" if last else "no reading yet"
    why = f" ({state.error})" if state.error else ""
    return f"{state.device}: no current data from {state.spec}: {seen}{why}"


def _found_ups() -> tuple[Found | None, list[Found]]:
    """The one UPS discovery finds on this machine, if exactly one, and every UPS found."""
    from upsight.drivers.discovery import discover, ups_only

    found = ups_only(discover())
    return (found[0] if len(found) == 1 else None), found


def _several(found: list[Found]) -> str:
    specs = ", ".join(f.spec for f in found)
    return f"found {len(found)} UPSes ({specs}); name one with --device"


def _lone_ups() -> str:
    """The spec of the one UPS found on this machine, said on stderr.

    Raises:
        CliError: none or several were found; the message suggests what to do.
    """
    picked, found = _found_ups()
    if picked is None:
        also = f" ({_several(found)})" if found else ""
        raise CliError(f"no running agent and no device given{also}. {SIMULATOR_HINT}")
    print(
        f"upsight: no running agent; reading {picked.spec}, the one UPS found: "
        f"{picked.description}",
        file=sys.stderr,
    )
    return picked.spec


def cmd_status(args: argparse.Namespace) -> int:
    """Print one reading like upsc, from a named device, the running agent or the one UPS found."""
    formatter: Callable[[Reading], dict[str, Any]] = _json_values if args.json else _nut_values
    client = None if args.device else _agent_client()
    if client is None:
        from upsight.drivers import open_device
        from upsight.drivers.errors import UpsError

        device = args.device or _lone_ups()
        try:
            with open_device(device) as driver:
                reading = driver.read()
        except UpsError as exc:
            raise CliError(f"cannot read {device}: {exc}", 2) from None
        _print_values(formatter(reading), args.json)
        return 0
    from upsight.agent.codec import state_from_json

    with client:
        states = [state_from_json(s) for s in client.call("status")["devices"]]
    now = time.time()
    readings = [(s.device, s.reading) for s in states if s.reading is not None]
    for state in states:
        if state.reading is None:
            print(_stale_message(state, now), file=sys.stderr)
    if len(states) == 1 and readings:
        _print_values(formatter(readings[0][1]), args.json)
    elif args.json:
        print(json.dumps({name: formatter(r) for name, r in readings}, indent=2, sort_keys=True))
    else:
        for name, reading in readings:
            print(f"[{name}]")
            _print_values(formatter(reading), False)
    return 0 if len(readings) == len(states) else 1


def cmd_run(args: argparse.Namespace) -> int:
    """Run the agent in the foreground until interrupted, logging events."""
    import logging
    import signal
    import threading

    from upsight.agent import config as config_file
    from upsight.agent.events import Event, Severity
    from upsight.agent.service import Agent
    from upsight.agent.service_mode.notify import Notifier

    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    log = logging.getLogger("upsight")
    notifier = Notifier.from_environ()
    paths = _system_paths() if args.system else _paths()
    loaded, locks = _effective_config(paths)
    for problem in loaded.problems:
        log.warning("%s", problem)
    devices = list(args.device or loaded.config.devices) or _unconfigured_devices(
        log, str(paths.config_file)
    )
    config = loaded.config
    if args.nut_listen is not None:
        try:
            config = config_file.with_value(config, "nut_server.listen", args.nut_listen)
        except config_file.ConfigError as exc:
            raise CliError(str(exc), 2) from None
    agent = Agent(
        paths,
        config,
        devices,
        serve_api=not args.no_api,
        privacy=_privacy_center(paths),
        executor=_dry_run_executor() if args.dry_run else None,
    )
    agent.locks = locks

    def log_event(message: object) -> None:
        if isinstance(message, Event):
            level = logging.INFO if message.severity is Severity.INFO else logging.WARNING
            log.log(level, "%s %s: %s", message.device, message.kind.value, message.message)

    agent.subscribe(log_event)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    agent.start()
    log.info("monitoring %s; history in %s", ", ".join(devices), paths.history_db)
    notifier.ready(f"monitoring {', '.join(devices)}")
    try:
        # Without a systemd watchdog this waits for a signal; with one it pings meanwhile.
        while not stop.wait(notifier.ping_interval_s):
            notifier.watchdog()
    finally:
        notifier.stopping()
        agent.stop()
        log.info("stopped")
    return 0


def _system_paths() -> AppPaths:
    from upsight.agent.paths import AppPaths

    return AppPaths.system()


def _effective_config(paths: AppPaths) -> tuple[LoadResult, Locks]:
    """The config file with the admin policy's settings applied, and the keys policy locks."""
    from upsight.agent import config as config_file
    from upsight.agent.privacy.admin_policy import load_policy
    from upsight.agent.settings_policy import apply_policy

    loaded = config_file.load(paths.config_file)
    config, locks = apply_policy(loaded.config, load_policy())
    return config_file.LoadResult(config, loaded.problems), locks


def _unconfigured_devices(log: logging.Logger, config_file: str) -> list[str]:
    """What ``upsight run`` monitors when none is named: the one UPS found, else the simulator."""
    picked, found = _found_ups()
    if picked is not None:
        log.info(
            "no UPS configured; monitoring %s, the one UPS found on this machine: %s. Name "
            "another with --device or agent.devices in %s",
            picked.spec,
            picked.description,
            config_file,
        )
        return [picked.spec]
    log.warning(
        "no UPS configured%s; monitoring the built-in simulated UPS (%s). Name a "
        "device with --device or agent.devices in %s",
        f" and {_several(found)}" if found else " and none found",
        FALLBACK_DEVICE,
        config_file,
    )
    return [FALLBACK_DEVICE]


def _history_store() -> HistoryStore:
    from upsight.agent.history.store import HistoryStore

    db = _paths().history_db
    if not db.exists():
        raise CliError(f"no history yet: {db} does not exist (start the agent with upsight run)")
    return HistoryStore(db)


def _time_range(args: argparse.Namespace, default_since: str) -> tuple[float, float]:
    from upsight.agent.timeparse import parse_when

    now = time.time()
    try:
        start = parse_when(args.since or default_since, now)
        end = parse_when(args.until, now) if args.until else now
    except ValueError as exc:
        raise CliError(str(exc), 2) from None
    return start, end


def _format_time(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def cmd_events(args: argparse.Namespace) -> int:
    """List recorded events, oldest first."""
    from upsight.agent.codec import event_from_json, event_to_json
    from upsight.agent.events import EventKind

    start, end = _time_range(args, "3650d")
    try:
        kinds = [EventKind(k.upper()) for k in args.kind or ()]
    except ValueError:
        names = ", ".join(k.value for k in EventKind)
        raise CliError(f"unknown event kind; known kinds: {names}", 2) from None
    params = {
        "device": args.device,
        "since": start,
        "until": end,
        "kinds": [k.value for k in kinds] or None,
        "limit": args.limit,
    }
    client = _agent_client()
    if client is not None:
        with client:
            events = [event_from_json(e) for e in client.call("events", **params)]
    else:
        store = _history_store()
        try:
            events = store.events(args.device, start, end, kinds or None, args.limit)
        finally:
            store.close()
    if args.json:
        print(json.dumps([event_to_json(e) for e in events], indent=2))
        return 0
    for event in events:
        print(f"{_format_time(event.at)}  {event.device:<6} {event.kind.value:<17} {event.message}")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    """Print a variable's history as min/avg/max per time bucket."""
    start, end = _time_range(args, "1h")
    params = {
        "device": args.device,
        "var": args.var,
        "since": start,
        "until": end,
        "max_points": args.points,
    }
    client = _agent_client()
    if client is not None:
        with client:
            points = client.call("history", **params)
    else:
        store = _history_store()
        try:
            points = [vars(p) for p in store.series(args.device, args.var, start, end, args.points)]
        finally:
            store.close()
    if args.json:
        print(json.dumps(points, indent=2))
        return 0
    print(f"{'time':<19}  {'min':>10} {'avg':>10} {'max':>10}  n")
    for p in points:
        print(
            f"{_format_time(p['t'])}  {p['min']:>10.2f} {p['avg']:>10.2f} {p['max']:>10.2f}"
            f"  {p['n']}"
        )
    return 0


def cmd_energy(args: argparse.Namespace) -> int:
    """Print energy use per day, reported and estimated kept apart."""
    start, end = _time_range(args, "7d")
    client = _agent_client()
    if client is not None:
        with client:
            days = client.call("energy", device=args.device, since=start, until=end)
    else:
        store = _history_store()
        try:
            days = [vars(d) for d in store.energy(args.device, start, end)]
        finally:
            store.close()
    if args.json:
        print(json.dumps(days, indent=2))
        return 0
    for day in days:
        print(f"{day['day']}  {day['kwh']:8.3f} kWh  ({day['source']})")
    return 0


def cmd_devices(args: argparse.Namespace) -> int:
    """List the devices found on this machine, those the agent monitors, and the simulators."""
    from upsight.drivers.discovery import PORT, discover
    from upsight.drivers.simulated.scenarios import SCENARIOS
    from upsight.drivers.spec import FORMS

    found = discover(probe=args.probe)
    ports = [f for f in found if f.kind == PORT]
    devices = [f for f in found if f.kind != PORT]
    width = max((len(f.spec) for f in found), default=0)
    if devices:
        print("Found on this machine (use the spec with --device or agent.devices):")
    else:
        print("No UPS found on this machine (USB, NUT on 127.0.0.1, the OS battery).")
    for item in devices:
        print(f"  {item.spec:<{width}}  {item.description}")
    if ports:
        asked = "no UPS answered on" if args.probe else "upsight devices --probe asks"
        print(f"Serial ports ({asked} these):")
    for item in ports:
        print(f"  {item.spec:<{width}}  {item.description}")
    print()
    client = _agent_client()
    if client is not None:
        with client:
            for device in client.call("devices"):
                print(f"{device['name']}: {device['spec']}  (monitored by the running agent)")
    for name in SCENARIOS:
        print(f"sim://{name}  (built-in simulated UPS)")
    print("\nDevice specs this version accepts:")
    for form in FORMS.values():
        print(f"  {form}")
    return 0


def _config_value(text: str) -> Any:
    """A value typed on the command line: TOML syntax when it parses, else plain text."""
    import tomllib

    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def cmd_config(args: argparse.Namespace) -> int:
    """Show the effective settings, or change one (through the agent when it runs)."""
    from upsight.agent import config as config_file

    paths = _paths()
    if args.action == "set":
        value = _config_value(args.value)
        client = _agent_client()
        if client is not None:
            with client:
                table = client.call("config.set", key=args.key, value=value)
        else:
            loaded = config_file.load(paths.config_file)
            try:
                _effective_config(paths)[1].check(args.key)
                updated = config_file.with_value(loaded.config, args.key, value)
            except config_file.ConfigError as exc:
                raise CliError(str(exc), 2) from None
            config_file.save(paths.config_file, updated)
            table = config_file.as_table(updated)
        print(f"{args.key} = {json.dumps(table[args.key])}")
        return 0
    loaded, locks = _effective_config(paths)
    for problem in loaded.problems:
        print(f"warning: {problem}", file=sys.stderr)
    print(f"# {paths.config_file}")
    for key, value in config_file.as_table(loaded.config).items():
        source = locks.source(key)
        lock = f"  # locked: managed by your organization ({source})" if source else ""
        print(f"{key} = {json.dumps(value)}{lock}")
    return 0


def cmd_hid(args: argparse.Namespace) -> int:
    """Run the HID debugging tool, which parses its own arguments (``upsight hid --help``)."""
    from upsight.agent import hid_cli

    return hid_cli.main(args.rest)


def cmd_policy(args: argparse.Namespace) -> int:
    """Show the admin policy or check a policy file; parses its own arguments."""
    from upsight.agent import policy_cli

    return policy_cli.main(args.rest)


def _dry_run_executor() -> CapturingExecutor:
    from upsight.agent.protection.executors import CapturingExecutor

    return CapturingExecutor()


def cmd_protect(args: argparse.Namespace) -> int:
    """Simulate an outage against the settings, or steer protection; parses its own arguments."""
    from upsight.agent import protect_cli

    return protect_cli.main(args.rest, lambda: _effective_config(_paths())[0], _agent_client)


def _add_delegated(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    func: Callable[[argparse.Namespace], int],
    summary: str,
) -> None:
    """A command whose module parses its own arguments and is imported only when used."""
    # "+" as the prefix keeps argparse from taking the command's own options (-h, --json).
    parser = sub.add_parser(name, help=summary, add_help=False, prefix_chars="+")
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    parser.set_defaults(func=func)


def _add_protect(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub.choices["run"].add_argument(
        "--dry-run",
        action="store_true",
        help="protection only logs what it would run: no shutdown, and no FSD or UPS commands "
        "to real UPSes",
    )
    _add_delegated(
        sub,
        "protect",
        cmd_protect,
        "when would this computer shut down? simulate, status, postpone, cancel",
    )


def _privacy_center(paths: AppPaths) -> PrivacyCenter | None:
    """The install's privacy center, or None (monitoring goes on) when it cannot open."""
    import logging

    from upsight.agent.privacy.center import PrivacyCenter
    from upsight.drivers.errors import UpsError

    try:
        center = PrivacyCenter(paths.data_dir / "privacy")
    except (OSError, ValueError, UpsError) as exc:
        logging.getLogger("upsight").error("uploads are off: %s", exc)
        return None
    for problem in center.problems():
        logging.getLogger("upsight").warning("privacy: %s", problem)
    return center


def cmd_privacy(args: argparse.Namespace) -> int:
    """Consent, previews, the ledger and data-subject actions; parses its own arguments."""
    from upsight.agent import privacy_cli

    client = _agent_client()
    try:
        return privacy_cli.main(args.rest, _paths(), client)
    finally:
        if client is not None:
            client.close()


def cmd_nut_server(args: argparse.Namespace) -> int:
    """Users of the NUT server and its settings; parses its own arguments."""
    from upsight.agent.nut_server import cli as nut_server_cli

    return nut_server_cli.main(args.rest, _paths())


def cmd_service(args: argparse.Namespace) -> int:
    """Install, remove or inspect the system service; parses its own arguments."""
    from upsight.agent import service_cli

    return service_cli.main(args.rest)


def _add_service(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    # `run --system` is how the service starts the agent, so it is registered with service mode.
    sub.choices["run"].add_argument(
        "--system",
        action="store_true",
        help="run as the machine's service, with its directories (on Linux /etc/upsight, "
        "/var/lib/upsight, /run/upsight)",
    )
    _add_delegated(
        sub, "service", cmd_service, "install, remove or inspect the agent's system service"
    )


def _add_policy(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _add_delegated(
        sub, "policy", cmd_policy, "show the admin policy in effect, or check a policy file"
    )
    _add_delegated(
        sub,
        "privacy",
        cmd_privacy,
        "what may leave this computer: show, grant, withdraw, preview, ledger, export",
    )
    _add_delegated(
        sub,
        "nut-server",
        cmd_nut_server,
        "users of the NUT server (upsc, upsmon, Home Assistant) and its settings",
    )
    _add_service(sub)
    _add_protect(sub)


def build_parser() -> argparse.ArgumentParser:
    from upsight.agent import __version__

    parser = argparse.ArgumentParser(
        prog="upsight", description="Monitor a UPS: status, events, history and protection."
    )
    parser.add_argument("--version", action="version", version=f"upsight {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    status = sub.add_parser("status", help="print one reading, like upsc")
    status.add_argument("--device", metavar="SPEC", help="read this device instead of the agent")
    status.add_argument("--json", action="store_true", help="print a JSON object")
    status.set_defaults(func=cmd_status)

    run = sub.add_parser("run", help="run the agent in the foreground")
    run.add_argument(
        "--device",
        metavar="SPEC",
        action="append",
        help="monitor this device (repeatable); default: agent.devices",
    )
    run.add_argument("--no-api", action="store_true", help="do not serve the local API")
    run.add_argument(
        "--nut-listen",
        metavar="HOST:PORT",
        help='serve NUT clients on this address, e.g. 127.0.0.1:3493 ("" turns it off); '
        "default: nut_server.listen",
    )
    run.set_defaults(func=cmd_run)

    events = sub.add_parser("events", help="list recorded events")
    events.add_argument("--device", metavar="NAME", help="only this device (e.g. ups)")
    events.add_argument("--since", metavar="WHEN", help="duration (24h, 7d) or ISO date")
    events.add_argument("--until", metavar="WHEN", help="duration or ISO date; default now")
    events.add_argument("--kind", action="append", metavar="KIND", help="e.g. ONBATT")
    events.add_argument("--limit", type=int, default=50, help="newest N events (default 50)")
    events.add_argument("--json", action="store_true")
    events.set_defaults(func=cmd_events)

    history = sub.add_parser("history", help="print a variable's history")
    history.add_argument("--var", default="battery.charge", help="NUT variable name")
    history.add_argument("--device", metavar="NAME", default="ups")
    history.add_argument("--since", metavar="WHEN", help="default 1h")
    history.add_argument("--until", metavar="WHEN")
    history.add_argument("--points", type=int, default=60, help="at most N rows (default 60)")
    history.add_argument("--json", action="store_true")
    history.set_defaults(func=cmd_history)

    energy = sub.add_parser("energy", help="energy use per day in kWh")
    energy.add_argument("--device", metavar="NAME", default="ups")
    energy.add_argument("--since", metavar="WHEN", help="default 7d")
    energy.add_argument("--until", metavar="WHEN")
    energy.add_argument("--json", action="store_true")
    energy.set_defaults(func=cmd_energy)

    devices = sub.add_parser("devices", help="list found, monitored and available devices")
    devices.add_argument(
        "--probe", action="store_true", help="ask each serial port for Megatec Q1 and APC smart"
    )
    devices.set_defaults(func=cmd_devices)

    config = sub.add_parser("config", help="show or change settings")
    actions = config.add_subparsers(dest="action", metavar="ACTION")
    actions.add_parser("show", help="print every setting")
    setter = actions.add_parser("set", help="change one setting")
    setter.add_argument("key", help="e.g. agent.poll_interval_s")
    setter.add_argument("value", help="e.g. 2, or '[\"sim://outage\"]'")
    config.set_defaults(func=cmd_config, action="show")

    # No option prefixes here: every argument, --help included, goes to hid_cli,
    # which is imported only when this command runs.
    _add_delegated(sub, "hid", cmd_hid, "decode HID descriptors and reports")
    _add_policy(sub)
    return parser


def command_names() -> frozenset[str]:
    """The names of the CLI's commands (``status``, ``run`` ...)."""
    # argparse offers no public way to list subcommands; its actions are stable since 3.2.
    return frozenset(
        name
        for action in build_parser()._actions
        if isinstance(action, argparse._SubParsersAction)
        for name in action.choices
    )


def main(argv: Sequence[str] | None = None) -> int:
    """The CLI's entry point: run the named command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        # `upsight` alone starts the desktop app (gui/launcher.py); this module has none.
        parser.print_help(sys.stderr)
        return 2
    from upsight.agent.api.errors import ApiError
    from upsight.drivers.errors import UpsError

    try:
        code: int = args.func(args)
    except CliError as exc:
        print(f"upsight: {exc}", file=sys.stderr)
        return exc.code
    except (ApiError, UpsError) as exc:
        print(f"upsight: {exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
