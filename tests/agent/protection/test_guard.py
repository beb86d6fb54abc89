"""Protection inside a real Agent on the simulator, in lock-step with a fake clock."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.collector import Collector
from tests.fakes import FakeClock
from upsight.agent.api.client import ApiClient
from upsight.agent.api.errors import ApiError
from upsight.agent.config import Config, LoadResult
from upsight.agent.events import Event, EventKind
from upsight.agent.monitor import DeviceState
from upsight.agent.paths import AppPaths
from upsight.agent.protect_cli import main as protect_main
from upsight.agent.protection.engine import Stage
from upsight.agent.protection.executors import CapturingExecutor
from upsight.agent.service import Agent
from upsight.agent.settings_policy import Locks
from upsight.drivers.model import Reading, UpsFlag

K = EventKind
# Poll interval and clock step: a power of two, so fake times add up exactly.
STEP_S = 0.25
# 50 simulated seconds per clock second: the outage's mains loss comes at 0.2 s.
SPEC = "sim://outage?speed=50"


@pytest.fixture
def paths() -> Iterator[AppPaths]:
    # Not pytest's tmp_path: a Unix socket path must stay short.
    root = Path(tempfile.mkdtemp(dir="/tmp", prefix="upsight-prot-"))
    yield AppPaths(root / "config", root / "data", root / "run")
    shutil.rmtree(root, ignore_errors=True)


class Lockstep:
    """Moves the fake clock one step at a time, each step only once the UPS was read at it."""

    def __init__(self, agent: Agent, clock: FakeClock) -> None:
        self.clock = clock
        self.seen = Collector()
        # Subscribed after the agent started, so protection has handled each state first.
        agent.subscribe(self.seen)

    def readings(self) -> list[Reading]:
        return [
            m.reading
            for m in self.seen.messages
            if isinstance(m, DeviceState) and m.reading is not None
        ]

    def step(self) -> None:
        now = self.clock.time()
        assert self.seen.wait(lambda: any(r.at == now for r in self.readings()), 5.0)
        self.clock.advance(STEP_S)

    def until(self, condition: Callable[[], bool], steps: int = 200) -> None:
        for _ in range(steps):
            if condition():
                return
            self.step()
        raise AssertionError("the condition never held")

    def events(self, *kinds: EventKind) -> list[Event]:
        return [m for m in self.seen.messages if isinstance(m, Event) and m.kind in kinds]


def start_agent(
    paths: AppPaths, executor: CapturingExecutor, clock: FakeClock, **settings: Any
) -> Agent:
    config = Config(poll_interval_s=STEP_S, protection_devices=("ups",), **settings)
    agent = Agent(paths, config, [SPEC], clock=clock, executor=executor, serve_api=False)
    agent.start()
    return agent


SHUTDOWN_KINDS = (
    K.SHUTDOWN_SCHEDULED,
    K.SHUTDOWN_POSTPONED,
    K.SHUTDOWN_CANCELLED,
    K.SHUTDOWN_EXECUTING,
    K.SHUTDOWN_FAILED,
)


def test_an_outage_shuts_down_latches_fsd_and_power_cycles_the_ups(paths: AppPaths) -> None:
    clock = FakeClock()
    executor = CapturingExecutor("Linux")
    agent = start_agent(
        paths,
        executor,
        clock,
        protection_runtime_below_s=240.0,
        protection_delay_s=1.0,
        protection_ups_power_off=True,
        protection_ups_power_off_delay_s=10.0,
    )
    try:
        run = Lockstep(agent, clock)
        run.until(lambda: bool(executor.plans))
        run.until(lambda: any(UpsFlag.OFF in r.status for r in run.readings()))
        run.until(lambda: UpsFlag.OFF not in run.readings()[-1].status)
        status = agent.protection.status()
    finally:
        agent.stop()
    scheduled, executing = run.events(*SHUTDOWN_KINDS)
    assert (scheduled.kind, executing.kind) == (K.SHUTDOWN_SCHEDULED, K.SHUTDOWN_EXECUTING)
    assert executing.at == scheduled.at + 1.0
    assert executing.message == "Running systemctl poweroff (simulated UPS: nothing runs)"
    assert [p.description for p in executor.plans] == ["systemctl poweroff"]
    (fsd,) = run.events(K.FSD)
    assert fsd.at >= executing.at
    statuses = [str(r.status) for r in run.readings() if r.at > executing.at]
    assert "FSD OFF" in statuses
    assert statuses[-1].startswith("FSD OL")
    assert "OFF" not in statuses[-1]
    assert run.readings()[-1].values["ups.delay.shutdown"] == 10.0
    # Power back and the output on again: protection stands guard once more.
    assert status.stage is Stage.WATCHING


def test_hibernation_latches_no_fsd_but_the_ups_still_power_cycles(paths: AppPaths) -> None:
    clock = FakeClock()
    executor = CapturingExecutor("Windows")
    agent = start_agent(
        paths,
        executor,
        clock,
        protection_action="hibernate",
        protection_runtime_below_s=240.0,
        protection_delay_s=0.5,
        protection_ups_power_off=True,
    )
    try:
        run = Lockstep(agent, clock)
        run.until(lambda: bool(executor.plans))
        run.until(lambda: any(UpsFlag.OFF in r.status for r in run.readings()), steps=400)
    finally:
        agent.stop()
    assert [p.description for p in executor.plans] == ["SetSuspendState (hibernate)"]
    # Hibernation latches no FSD: the computer comes back, and the latch would outlive it.
    assert run.events(K.FSD) == []
    assert all(UpsFlag.FSD not in r.status for r in run.readings())


def test_protect_status_postpone_and_cancel_through_the_local_api(
    paths: AppPaths, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = FakeClock()
    config = Config(
        poll_interval_s=STEP_S,
        protection_devices=("ups",),
        protection_runtime_below_s=1000.0,
        protection_delay_s=600.0,
    )
    agent = Agent(paths, config, [SPEC], clock=clock, executor=CapturingExecutor("Linux"))
    agent.start()

    def protect(*argv: str) -> str:
        capsys.readouterr()
        code = protect_main(argv, lambda: LoadResult(config), lambda: ApiClient(paths.api_socket))
        assert code == 0
        return capsys.readouterr().out

    try:
        run = Lockstep(agent, clock)
        run.until(lambda: bool(run.events(K.SHUTDOWN_SCHEDULED)))
        shown = protect("status")
        assert "Protection: shut down (systemctl poweroff)  [dry run: nothing really runs]" in shown
        assert "Scheduled in 600 s" in shown
        assert "ups: judged by runtime" in shown
        assert "1 postponement(s) left" in shown
        assert "Scheduled in 720 s" in protect("postpone", "120")
        with pytest.raises(ApiError, match="max_postpones allows 1"):
            protect("postpone")
        assert "cancelled by the user" in protect("cancel")
        run.step()
    finally:
        agent.stop()
    kinds = [e.kind for e in run.events(*SHUTDOWN_KINDS)]
    assert kinds == [K.SHUTDOWN_SCHEDULED, K.SHUTDOWN_POSTPONED, K.SHUTDOWN_CANCELLED]


def test_an_organisation_that_forbids_postponing_is_named(paths: AppPaths) -> None:
    clock = FakeClock()
    config = Config(
        poll_interval_s=STEP_S,
        protection_devices=("ups",),
        protection_runtime_below_s=1000.0,
        protection_allow_postpone=False,
    )
    locks = Locks({"protection.allow_postpone": "/etc/upsight/policy.json"})
    agent = Agent(
        paths, config, [SPEC], clock=clock, executor=CapturingExecutor("Linux"), locks=locks
    )
    agent.start()
    try:
        run = Lockstep(agent, clock)
        run.until(lambda: bool(run.events(K.SHUTDOWN_SCHEDULED)))
        with ApiClient(paths.api_socket) as client:
            with pytest.raises(ApiError) as refused:
                client.call("protection.postpone")
            status = client.call("protection.status")
    finally:
        agent.stop()
    assert str(refused.value).startswith(
        "Managed by your organization (/etc/upsight/policy.json): cannot postpone: not allowed "
        "by settings"
    )
    assert status["stage"] == "countdown"
    assert status["allow_postpone"] is False


def test_a_dry_run_leaves_a_real_ups_alone(
    paths: AppPaths, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dump = tmp_path / "ups.dev"
    dump.write_text("ups.status: OB LB\nbattery.charge: 5\n#CMD:shutdown.return\n")
    executor = CapturingExecutor("Linux")
    config = Config(poll_interval_s=0.2, protection_ups_power_off=True)
    agent = Agent(paths, config, [f"dummy:{dump}"], executor=executor, serve_api=False)
    seen = Collector()
    agent.subscribe(seen)
    with caplog.at_level("WARNING", logger="upsight.agent.protection.guard"):
        agent.start()
        try:
            assert seen.wait(lambda: bool(executor.plans), 10.0)
            counted = len(seen.messages)
            assert seen.wait(lambda: len(seen.messages) > counted + 2, 10.0)
        finally:
            agent.stop()
    events = [m for m in seen.messages if isinstance(m, Event) and m.kind in SHUTDOWN_KINDS]
    scheduled, executing = events
    assert scheduled.message == "This computer shuts down now: the UPS reports a low battery (ups)"
    assert executing.message == "Running systemctl poweroff (dry run: nothing runs)"
    readings = [m.reading for m in seen.messages if isinstance(m, DeviceState) and m.reading]
    assert all(UpsFlag.FSD not in r.status for r in readings)
    logged = [r.getMessage() for r in caplog.records]
    assert "protection (dry run): would set FSD on ups" in logged
    assert "protection (dry run): would tell ups to turn its output off in 2 min" in logged
