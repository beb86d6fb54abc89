"""The agent side of protection: feeds the engine, publishes its events, carries out its decisions.

Device states arrive on the bus thread; a timer thread ticks the engine at its
next deadline (like the agent's watchdog) so a countdown ends on time even
when no reading comes. Actions run on a worker thread of their own, so a slow
command never holds up the bus.

What is real and what is only logged:

* The executor runs the action. A dry-run executor runs nothing, and so does
  any executor when a simulated UPS is among those protecting this computer.
* FSD is latched on each protecting UPS when shutting down, so that NUT
  secondaries served by this computer follow, and the UPS is told to turn its
  output off when ``protection.ups_power_off`` is set. In a dry run these
  happen only on simulated UPSes; for real ones they are logged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from upsight.agent.bus import Bus, Message
from upsight.agent.events import Event, EventKind
from upsight.agent.monitor import DeviceState
from upsight.agent.protection.actions import Action, ActionKind, Executor, Outcome, Plan
from upsight.agent.protection.engine import (
    Decision,
    Engine,
    Instant,
    ProtectionStatus,
    Step,
)
from upsight.agent.protection.executors import CapturingExecutor
from upsight.agent.protection.settings import ProtectionSettings, duration_text
from upsight.drivers.base import WritableVar
from upsight.drivers.clock import Clock
from upsight.drivers.errors import UnsupportedCommand, UpsError

log = logging.getLogger(__name__)

# The timer wakes at least this often, so changed settings and a changed clock are seen.
MAX_SLEEP_S: Final = 5.0
# How long one instant command to a UPS may take.
UPS_COMMAND_TIMEOUT_S: Final = 10.0


class GuardHost(Protocol):
    """What the guard needs from the agent."""

    bus: Bus

    def force_shutdown(self, device: str, by: str) -> None: ...

    def run_command(
        self, device: str, name: str, value: str | None = None, timeout_s: float = 10.0
    ) -> None: ...

    def writable(self, device: str, timeout_s: float = 10.0) -> Mapping[str, WritableVar]: ...

    def set_variable(self, device: str, name: str, value: str, timeout_s: float = 10.0) -> None: ...


@dataclass(frozen=True)
class _Run:
    decision: Decision
    plan: Plan
    executor: Executor
    real_ups: bool  # real UPSes may be sent FSD and turn-off commands; simulated ones always


class ProtectionGuard:
    """Runs the protection engine inside an agent."""

    def __init__(
        self, host: GuardHost, settings: ProtectionSettings, executor: Executor, clock: Clock
    ) -> None:
        """Prepare the guard; nothing happens until ``start()``.

        Args:
            host: the agent.
            settings: the protection policy.
            executor: what runs actions; tests pass a CapturingExecutor.
            clock: the agent's clock.
        """
        self._host = host
        self._executor = executor
        self._clock = clock
        self._engine = Engine(settings, Instant.of(clock))
        # A simulated UPS never powers this computer off, whatever the executor.
        self._simulated = executor if executor.dry_run else CapturingExecutor()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._unsubscribe: Callable[[], None] | None = None
        # The monotonic time the timer sleeps until; others wake it for anything sooner.
        self._sleep_until = 0.0

    def start(self) -> None:
        """Subscribe to the bus and start the timer; returns at once."""
        self._unsubscribe = self._host.bus.subscribe(self._on_message)
        self._thread = threading.Thread(target=self._run, name="upsight-protection", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop ticking; an action already running is left to finish."""
        self._stop.set()
        self._wake.set()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._thread is not None:
            self._thread.join(MAX_SLEEP_S)
            self._thread = None

    def update(self, settings: ProtectionSettings) -> None:
        """Apply changed settings; a running countdown keeps its deadline."""
        with self._lock:
            self._engine.update(settings)
        self._wake.set()

    def status(self) -> ProtectionStatus:
        with self._lock:
            return self._engine.status(self._now())

    def status_json(self) -> dict[str, Any]:
        """The status as the local API returns it."""
        status = self.status()
        with self._lock:
            settings = self._engine.settings
        return status_to_json(status, self._describe(settings), self._executor.dry_run)

    def postpone(self, seconds: float | None = None) -> ProtectionStatus:
        """Postpone the scheduled action (see Engine.postpone).

        Raises:
            ProtectionRefused: when it may not be postponed, with the reason.
        """
        with self._lock:
            step = self._engine.postpone(self._now(), seconds)
        self._apply(step)
        self._wake.set()
        return self.status()

    def cancel(self) -> ProtectionStatus:
        """Cancel the scheduled action until the next trigger (see Engine.cancel).

        Raises:
            ProtectionRefused: when it may not be cancelled, with the reason.
        """
        with self._lock:
            step = self._engine.cancel(self._now())
        self._apply(step)
        return self.status()

    def _now(self) -> Instant:
        return Instant.of(self._clock)

    def _on_message(self, message: Message) -> None:
        if not isinstance(message, DeviceState):
            return
        with self._lock:
            step = self._engine.observe(message, self._now())
        self._apply(step)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            with self._lock:
                step = self._engine.tick(self._now())
            self._apply(step, from_timer=True)
            self._wake.wait(self._sleep_s(step))

    def _sleep_s(self, step: Step) -> float:
        now = self._clock.monotonic()
        if step.next_deadline is None:
            wait = MAX_SLEEP_S
        else:
            # A hair past the deadline, so the tick finds it expired.
            wait = min(max(step.next_deadline - now + 0.01, 0.01), MAX_SLEEP_S)
        self._sleep_until = now + wait
        return wait

    def _apply(self, step: Step, from_timer: bool = False) -> None:
        for event in step.events:
            self._host.bus.publish(event)
        if step.act is not None:
            self._act(step.act)
        deadline = step.next_deadline
        if not from_timer and deadline is not None and deadline < self._sleep_until:
            self._wake.set()

    def _act(self, decision: Decision) -> None:
        settings = self._engine.settings
        kind = decision.action
        if kind is ActionKind.NONE:
            log.warning("protection: monitor only; nothing runs (%s)", decision.trigger.text)
            return
        if kind is ActionKind.NOTIFY:
            message = (
                f"Shut this computer down now: {decision.trigger.text} "
                f"({decision.trigger.device}); Upsight only notifies"
            )
            self._publish(decision, EventKind.SHUTDOWN_EXECUTING, message)
            return
        simulated = decision.trigger.device in decision.simulated
        executor = self._simulated if simulated else self._executor
        action = Action(kind, settings.command, settings.command_timeout_s)
        plan = executor.plan(action)
        message = f"Running {plan.description}"
        if plan.note:
            message += f"; {plan.note}"
        if simulated:
            message += " (simulated UPS: nothing runs)"
        elif executor.dry_run:
            message += " (dry run: nothing runs)"
        # Announced before it runs: once the computer goes down, nothing more is said.
        self._publish(decision, EventKind.SHUTDOWN_EXECUTING, message)
        run = _Run(decision, plan, executor, real_ups=not executor.dry_run)
        threading.Thread(
            target=self._carry_out, args=(run,), name="upsight-protection-action", daemon=True
        ).start()

    def _carry_out(self, run: _Run) -> None:
        try:
            if run.plan.kind is ActionKind.SHUTDOWN:
                self._latch_fsd(run)
            outcome = run.executor.run(run.plan)
        except Exception as exc:
            log.exception("protection: %s failed", run.plan.description)
            outcome = Outcome(False, f"{type(exc).__name__}: {exc}")
        with self._lock:
            if outcome.ok:
                self._engine.succeeded(outcome.detail)
            else:
                self._engine.failed(outcome.detail)
        if not outcome.ok:
            message = f"{run.plan.description} failed: {outcome.detail}"
            self._publish(run.decision, EventKind.SHUTDOWN_FAILED, message)
            return
        settings = self._engine.settings
        if settings.ups_power_off and run.plan.kind in {ActionKind.SHUTDOWN, ActionKind.HIBERNATE}:
            for device in run.decision.devices:
                self._ups_power_off(device, settings.ups_power_off_delay_s, run)

    def _latch_fsd(self, run: _Run) -> None:
        devices = run.decision.devices
        with self._lock:
            self._engine.latched_fsd(devices)
        for device in devices:
            if not (run.real_ups or device in run.decision.simulated):
                log.warning("protection (dry run): would set FSD on %s", device)
                continue
            try:
                self._host.force_shutdown(device, "protection")
            except (KeyError, UpsError) as exc:
                log.error("protection: cannot set FSD on %s: %s", device, exc)

    def _ups_power_off(self, device: str, delay_s: float, run: _Run) -> None:
        """Tell a UPS to turn its output off after ``delay_s`` and back on when mains returns."""
        if not (run.real_ups or device in run.decision.simulated):
            log.warning(
                "protection (dry run): would tell %s to turn its output off in %s",
                device,
                duration_text(delay_s),
            )
            return
        delay = f"{delay_s:g}"
        host = self._host
        try:
            # Where the delay is a variable (usbhid-ups style), set it and send the bare
            # command; otherwise pass the delay as the command's value.
            if "ups.delay.shutdown" in host.writable(device, UPS_COMMAND_TIMEOUT_S):
                host.set_variable(device, "ups.delay.shutdown", delay, UPS_COMMAND_TIMEOUT_S)
                host.run_command(device, "shutdown.return", None, UPS_COMMAND_TIMEOUT_S)
            else:
                host.run_command(device, "shutdown.return", delay, UPS_COMMAND_TIMEOUT_S)
            log.warning(
                "protection: %s turns its output off in %s and back on when mains returns",
                device,
                duration_text(delay_s),
            )
        except UnsupportedCommand:
            self._load_off(device, delay, delay_s)
        except (KeyError, ValueError, UpsError) as exc:
            log.error("protection: cannot tell %s to turn its output off: %s", device, exc)

    def _load_off(self, device: str, delay: str, delay_s: float) -> None:
        try:
            self._host.run_command(device, "load.off.delay", delay, UPS_COMMAND_TIMEOUT_S)
        except (KeyError, ValueError, UpsError) as exc:
            log.error("protection: %s cannot turn its output off: %s", device, exc)
            return
        log.warning(
            "protection: %s turns its output off in %s; it has no shutdown.return, so it "
            "comes back only if it restarts by itself when mains returns",
            device,
            duration_text(delay_s),
        )

    def _publish(self, decision: Decision, kind: EventKind, message: str) -> None:
        data = {"action": decision.action.value, "reason": decision.trigger.reason.value}
        event = Event(self._clock.time(), decision.trigger.device, kind, message, data)
        self._host.bus.publish(event)

    def _describe(self, settings: ProtectionSettings) -> str:
        if not settings.action.touches_computer:
            return ""
        return self._executor.plan(
            Action(settings.action, settings.command, settings.command_timeout_s)
        ).description


def status_to_json(status: ProtectionStatus, runs: str, dry_run: bool) -> dict[str, Any]:
    """A status as JSON for the local API and ``upsight protect status --json``."""
    trigger = status.trigger
    return {
        "stage": status.stage.value,
        "action": status.action.value,
        "runs": runs,
        "dry_run": dry_run,
        "rules": list(status.rules),
        "trigger": None
        if trigger is None
        else {"device": trigger.device, "reason": trigger.reason.value, "text": trigger.text},
        "deadline": status.deadline,
        "seconds_left": status.seconds_left,
        "postpones_left": status.postpones_left,
        "allow_postpone": status.allow_postpone,
        "held": status.held,
        "acted_at": status.acted_at,
        "outcome": status.outcome,
        "devices": [
            {
                "device": view.device,
                "watched": view.watched,
                "fresh": view.fresh,
                "basis": None if view.basis is None else view.basis.value,
                "note": view.note,
                "trigger": None if view.trigger is None else view.trigger.text,
            }
            for view in status.devices
        ],
    }
