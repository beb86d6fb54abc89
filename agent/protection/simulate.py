"""What would happen now? Protection played against a simulated outage, in simulated time.

The real engine and the real device monitor judge the simulator's readings
second by second on a clock that only this module moves, so an hour of
outage takes a fraction of a second. Nothing runs: actions are captured and
described as this platform would run them, and UPS commands go to the
simulated UPS, whose output switches off and on as a real one would.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, Final

from upsight.agent.events import EventKind
from upsight.agent.monitor import DeviceMonitor, MonitorSettings
from upsight.agent.protection.actions import Action, ActionKind
from upsight.agent.protection.engine import Basis, Decision, Engine, Instant, Step
from upsight.agent.protection.executors import CapturingExecutor
from upsight.agent.protection.settings import ProtectionSettings, duration_text
from upsight.drivers.clock import SteppedClock
from upsight.drivers.errors import DeviceSpecError, UpsError
from upsight.drivers.model import Reading, UpsFlag
from upsight.drivers.simulated.driver import SimDriver, open_simulator
from upsight.drivers.simulated.scenarios import SCENARIOS
from upsight.drivers.spec import parse_spec

DEVICE: Final = "ups"
STEP_S: Final = 1.0
DEFAULT_HORIZON_S: Final = 600.0

# Device events worth a line, and how the timeline words them. Mains coming back is
# read from the status instead: after the UPS cut its output there is no ONLINE event.
_DEVICE_EVENTS: Final = {
    EventKind.ONBATT: "mains lost",
    EventKind.LOWBATT: "the UPS reports a low battery",
    EventKind.FSD: "the UPS is in forced shutdown (FSD)",
    EventKind.COMMBAD: "the UPS stopped answering",
    EventKind.COMMOK: "the UPS answers again",
}
_OUTCOMES: Final = {
    ActionKind.SHUTDOWN: "this computer would shut down",
    ActionKind.HIBERNATE: "this computer would hibernate",
    ActionKind.COMMAND: "the protection command would run",
    ActionKind.NOTIFY: "you would be told to shut down now",
    ActionKind.NONE: "monitor only: nothing would run, but protection would have acted",
}


@dataclass(frozen=True)
class Line:
    """One moment of the timeline: simulated seconds since the start, a kind and the text."""

    at_s: float
    kind: str
    text: str


@dataclass(frozen=True)
class Simulation:
    """A played scenario.

    Attributes:
        spec: the simulator spec played.
        summary: the scenario's one-line description.
        rules: the protection policy in plain sentences.
        runs: what the action runs on this platform ("" when nothing runs).
        lines: the timeline.
        origin_s: simulated time of the first mains loss (T+0), or 0 without one.
        result: one sentence: what protection would have done.
        notes: what the engine says about the UPS's data (e.g. no runtime reported).
    """

    spec: str
    summary: str
    rules: tuple[str, ...]
    runs: str
    lines: tuple[Line, ...]
    origin_s: float
    result: str
    notes: tuple[str, ...] = ()


def scenario_spec(name: str) -> str:
    """A full ``sim://`` spec from a scenario name or a spec.

    Raises:
        DeviceSpecError: not a simulator spec, or an unknown scenario.
    """
    text = name if "://" in name else f"sim://{name}"
    spec = parse_spec(text)
    if spec.scheme != "sim":
        raise DeviceSpecError(f"{name}: only simulator scenarios can be simulated")
    if spec.target not in SCENARIOS:
        known = ", ".join(SCENARIOS)
        raise DeviceSpecError(f"unknown scenario {spec.target!r}; choose one of: {known}")
    return text


def _clock_text(seconds: float) -> str:
    sign = "-" if seconds < 0 else "+"
    whole = round(abs(seconds))
    return f"T{sign}{whole // 60}:{whole % 60:02d}"


class _Player:
    """One run of the simulation; collects the timeline."""

    def __init__(self, spec: str, settings: ProtectionSettings, system: str) -> None:
        self.clock = SteppedClock(time.time())
        self.driver: SimDriver = open_simulator(parse_spec(spec), self.clock)
        self.monitor = DeviceMonitor(DEVICE, spec, MonitorSettings(interval_s=STEP_S), self.clock)
        self.monitor.on_connected(self.driver.info(), self.driver.commands())
        # The simulated UPS stands for the one powering this computer.
        self.settings = replace(settings, devices=(DEVICE,), stale_after_s=3 * STEP_S)
        self.engine = Engine(self.settings, Instant.of(self.clock))
        self.executor = CapturingExecutor(system)
        self.lines: list[Line] = []
        self.origin_s: float | None = None
        self.acted: Decision | None = None
        self.acted_s = 0.0
        self.runtime_left: float | None = None
        self.output_off = False
        self.mains = True
        self.warned = False
        self.finished = False
        self.notes: tuple[str, ...] = ()

    def play(self, horizon_s: float) -> None:
        while self.clock.monotonic() <= horizon_s and not self.finished:
            self._second()
            self.clock.advance(STEP_S)

    def _add(self, kind: str, text: str) -> None:
        self.lines.append(Line(self.clock.monotonic(), kind, text))

    def _second(self) -> None:
        try:
            events = self.monitor.on_reading(self.driver.read())
        except UpsError as exc:
            events = self.monitor.on_error(str(exc))
        events += self.monitor.on_tick()
        for event in events:
            if event.kind is EventKind.ONBATT and self.origin_s is None:
                self.origin_s = self.clock.monotonic()
            if event.kind in _DEVICE_EVENTS:
                detail = event.message.partition(": ")[2]
                text = _DEVICE_EVENTS[event.kind] + (f" ({detail})" if detail else "")
                self._add(event.kind.value, text)
        reading = self.monitor.state.reading
        if reading is not None:
            self._mains(reading)
            self._output(reading)
        self._protection(self.engine.observe(self.monitor.state, Instant.of(self.clock)))
        if reading is not None and reading.status.on_battery and not self.notes:
            # What the engine can judge by, said once, as the first outage begins.
            status = self.engine.status(Instant.of(self.clock))
            self.notes = tuple(
                v.note for v in status.devices if v.fresh and v.basis is not Basis.RUNTIME
            ) or ("",)

    def _mains(self, reading: Reading) -> None:
        mains = UpsFlag.OL in reading.status
        if mains == self.mains:
            return
        self.mains = mains
        if not mains:
            return
        last = self.lines[-1] if self.lines else None
        if last is not None and last.kind == EventKind.ONBATT.value:
            # Nothing happened in between: one line for the whole blip.
            lasted = duration_text(self.clock.monotonic() - last.at_s)
            self.lines[-1] = replace(last, kind="blip", text=f"mains lost for {lasted}")
            return
        charge = reading.number("battery.charge")
        self._add("mains", "mains back" + (f" ({charge:.0f} %)" if charge is not None else ""))
        if self.acted and not self.settings.ups_power_off:
            self.finished = True

    def _output(self, reading: Reading) -> None:
        off = UpsFlag.OFF in reading.status
        if off != self.output_off:
            self.output_off = off
            self._add("output", "the UPS turns its output off" if off else "UPS output back on")
            if not off and self.acted:
                self.finished = True

    def _protection(self, step: Step) -> None:
        for event in step.events:
            if event.kind is EventKind.SHUTDOWN_SCHEDULED:
                self.warned = True
                self._add(event.kind.value, f"warning shown: {event.message}")
            else:
                self._add(event.kind.value, f"warning withdrawn: {event.message}")
        if step.act is not None:
            self._act(step.act)

    def _act(self, decision: Decision) -> None:
        settings = self.settings
        self.acted = decision
        self.acted_s = self.clock.monotonic()
        reading = self.monitor.state.reading
        self.runtime_left = None if reading is None else reading.number("battery.runtime")
        kind = decision.action
        if kind is ActionKind.NONE:
            self._add("act", "monitor only: nothing runs")
            self.finished = True
            return
        if kind is ActionKind.NOTIFY:
            self._add("act", "you are told to shut this computer down now; nothing runs")
            self.finished = True
            return
        plan = self.executor.plan(Action(kind, settings.command, settings.command_timeout_s))
        self._add("act", f"{plan.description} would run" + (f" ({plan.note})" if plan.note else ""))
        if plan.kind is ActionKind.SHUTDOWN:
            self._add(
                "fsd", f"FSD set on {DEVICE}: NUT secondaries served by this computer shut down too"
            )
        if settings.ups_power_off and plan.kind in {ActionKind.SHUTDOWN, ActionKind.HIBERNATE}:
            delay = settings.ups_power_off_delay_s
            self.driver.run("shutdown.return", f"{delay:g}")
            self._add(
                "ups-off",
                f"the UPS is told to turn its output off in {duration_text(delay)} and back "
                "on when mains returns (shutdown.return)",
            )

    def simulation(self, spec: str, horizon_s: float) -> Simulation:
        origin = self.origin_s or 0.0
        settings = self.settings
        runs = ""
        if settings.action.touches_computer:
            action = Action(settings.action, settings.command, settings.command_timeout_s)
            runs = self.executor.plan(action).description
        return Simulation(
            spec=spec,
            summary=SCENARIOS[parse_spec(spec).target].summary,
            rules=tuple(settings.rules()),
            runs=runs,
            lines=tuple(self.lines),
            origin_s=origin,
            result=self._result(origin, horizon_s),
            notes=tuple(note for note in self.notes if note),
        )

    def _result(self, origin: float, horizon_s: float) -> str:
        decision = self.acted
        if decision is not None:
            after = _clock_text(self.acted_s - origin).removeprefix("T+")
            text = f"{_OUTCOMES[decision.action]} {after} after mains was lost"
            if self.runtime_left is not None:
                return f"{text}, with about {duration_text(self.runtime_left)} of battery left."
            return f"{text}: {decision.trigger.text}."
        span = duration_text(horizon_s)
        if self.origin_s is None:
            return f"mains never failed in {span} of simulated time; protection had nothing to do."
        if self.warned:
            return "a warning was shown, and withdrawn when mains came back; nothing would run."
        return f"no action in {span}: protection never needed to act."


def simulate(
    name: str, settings: ProtectionSettings, system: str, horizon_s: float = DEFAULT_HORIZON_S
) -> Simulation:
    """Play a simulator scenario against the protection policy.

    Args:
        name: a scenario name (``outage``) or a spec (``sim://outage?profile=ippon-850``).
        settings: the policy to judge by.
        system: the platform whose commands to show (``platform.system()``).
        horizon_s: the most simulated time to play.

    Raises:
        DeviceSpecError: not a simulator scenario.
    """
    spec = scenario_spec(name)
    player = _Player(spec, settings, system)
    player.play(horizon_s)
    return player.simulation(spec, horizon_s)


def render(simulation: Simulation) -> str:
    """The simulation as readable text: settings, timeline, result."""
    lines = [f"Simulating {simulation.spec}: {simulation.summary}", "", "Protection settings:"]
    lines += [f"  {rule}" for rule in simulation.rules]
    if simulation.runs:
        lines.append(f"  Action: {simulation.runs}")
    lines.append("")
    for line in simulation.lines:
        lines.append(f"  {_clock_text(line.at_s - simulation.origin_s):>8}  {line.text}")
    if not simulation.lines:
        lines.append("  (nothing happened)")
    lines.append("")
    lines += [f"Note: {note}" for note in simulation.notes]
    lines.append(f"Result: {simulation.result}")
    return "\n".join(lines)


def to_json(simulation: Simulation) -> dict[str, Any]:
    """The simulation as one JSON object (``--json``); times in seconds from T+0."""
    return {
        "scenario": simulation.spec,
        "summary": simulation.summary,
        "rules": list(simulation.rules),
        "runs": simulation.runs,
        "timeline": [
            {"t": line.at_s - simulation.origin_s, "kind": line.kind, "text": line.text}
            for line in simulation.lines
        ],
        "notes": list(simulation.notes),
        "result": simulation.result,
    }
