"""Disk-full campaign: the running agent's files stop growing, again and again, then space returns.

The agent runs as ``upsight run --dry-run`` in a subprocess. Two ways to fill its disk:
its RLIMIT_FSIZE is lowered and raised from here (with SIGXFSZ ignored, a write past the
limit fails with EFBIG just as one fails with ENOSPC on a full disk), or its data
directory is a small tmpfs that a ballast file fills (a real ENOSPC, also at startup).
While it lasts, readings and events must keep flowing to API subscribers and protection
must still count down; history is kept in memory and written once space returns; queued
envelopes are kept, and the cloud alerts raised meanwhile reach the outbox once space
returns; each trouble is one log line, not one per attempt.
"""

from __future__ import annotations

import errno
import math
import os
import re
import resource
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.campaign import Campaign
from tests.faults.kill_helpers import AgentProcess, agent_env, call, integrity, waiting
from tests.faults.kill_helpers import write_config as write_agent_config
from tests.keyrings import DIR_ENV, DirectoryKeyring
from tests.privacy.drain_helpers import fill_outbox, queue_files
from upsight.agent.privacy.admin_policy import load_policy
from upsight.agent.privacy.builder import EVENT_KINDS
from upsight.agent.privacy.center import PrivacyCenter
from upsight.agent.privacy.consent import LocalUser, Surface
from upsight.agent.privacy.envelope import Envelope
from upsight.agent.privacy.purposes import Purpose
from upsight.agent.privacy.secrets import Secrets
from upsight.agent.privacy.uploads import ALERT_KINDS

FULL_CYCLES = 3
QUEUED = 10
FULL_BYTES = 512
"""Below one SQLite page and below any envelope: every history and outbox write fails."""
FULL_ERROR = "Cannot write history to {db} ("
OPEN_ERROR = "Cannot open history database {db} ("
RESUMED = "History writes to {db} resumed after"
TMPFS_CYCLES = 3
"""The first with the disk full before the agent starts, the rest while it runs."""
TMPFS_SIZE = "8m"
BALLAST = "ballast"
LOGGER = re.escape("upsight.agent.privacy.uploads")
ALERTS_DUE_S = 10.0
"""A pass runs at least every second; the alerts kept through a full spell go at the next."""

Key = tuple[str, float, str]

CONFIG = """
[agent]
poll_interval_s = 0.2
[history]
flush_s = 0.5
[protection]
on_battery_s = 2
delay_s = 1
devices = ["ups"]
"""


class Pushes:
    """Collects the agent's API pushes on a thread, as a GUI subscriber would see them."""

    def __init__(self, agent: AgentProcess) -> None:
        self._client = agent.client()
        self._stream = self._client.subscribe()
        self._lock = threading.Lock()
        self.items: list[tuple[float, str, Any]] = []
        self._thread = threading.Thread(target=self._run, name="pushes", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for kind, data in self._stream:
            with self._lock:
                self.items.append((time.monotonic(), kind, data))

    def since(self, start: float, kind: str) -> list[Any]:
        with self._lock:
            return [data for at, k, data in self.items if at >= start and k == kind]

    def close(self) -> None:
        self._client.close()


def queued_ids(privacy: Path) -> set[str]:
    """Every envelope in the outbox, consent receipts (under ``control``) included."""
    return {Envelope.decode(p.read_bytes()).envelope_id for p in queue_files(privacy)}


def queued_alert_events(privacy: Path) -> set[tuple[str, int]]:
    """Every ``ups.event`` (kind, UTC second) in the queued cloud alerts."""
    found: set[tuple[str, int]] = set()
    for path in queue_files(privacy):
        envelope = Envelope.decode(path.read_bytes())
        if envelope.purpose is Purpose.CLOUD_ALERTS:
            found |= {(e["kind"], e["at"]) for e in envelope.data.get("ups.event", [])}
    return found


def alerts_missing(privacy: Path, full_events: set[Key]) -> tuple[int, int]:
    """Of the alert events raised while the disk was full, how many and how many never
    reached the outbox."""
    names = {kind.value for kind in ALERT_KINDS}
    due = {(EVENT_KINDS[kind], math.floor(at)) for _, at, kind in full_events if kind in names}
    deadline = time.monotonic() + ALERTS_DUE_S
    while due - queued_alert_events(privacy) and time.monotonic() < deadline:
        time.sleep(0.1)
    return len(due), len(due - queued_alert_events(privacy))


def grant_alerts(privacy: Path) -> None:
    no_policy = privacy.parent / "no-policy"
    center = PrivacyCenter(
        privacy, secrets=Secrets(DirectoryKeyring()), policy=lambda: load_policy(no_policy)
    )
    try:
        center.grant(Purpose.CLOUD_ALERTS, actor=LocalUser(os.getuid()), surface=Surface.CLI)
    finally:
        center.close()


def fill_disk_once(
    agent: AgentProcess,
    pushes: Pushes,
    *,
    fill: Callable[[], None] | None,
    free: Callable[[], None],
    error: str = FULL_ERROR,
    countdown: bool = False,
) -> set[Key]:
    """Fill the disk until the agent reports it and monitoring is seen going on; free it.

    Args:
        fill: Makes every write of the agent fail; None when the disk was full before the
            agent started.
        free: Gives the space back.
        error: The start of the log line the agent must write once the disk is full.
        countdown: Also wait for the protection countdown to fire (in dry run).

    Returns:
        The events pushed to subscribers while the disk was full.
    """
    log = agent.log
    start = time.monotonic()
    db = agent.paths.history_db

    def errors() -> int:
        return agent.log_text().count(error.format(db=db))

    def resumes() -> int:
        return agent.log_text().count(RESUMED.format(db=db))

    def events() -> list[Any]:
        return pushes.since(start, "event")

    errors_before, resumes_before = (0, 0) if fill is None else (errors(), resumes())
    if fill is not None:
        fill()
    waiting(lambda: errors() > errors_before, "the history write error", 10, log)
    # Monitoring goes on: states and events reach subscribers while nothing is written.
    waiting(lambda: len(pushes.since(start, "state")) >= 10, "readings", 10, log)
    waiting(lambda: bool(events()), "events", 10, log)
    if countdown:
        waiting(
            lambda: any(e["kind"] == "SHUTDOWN_EXECUTING" for e in events()),
            "the protection countdown firing (dry run)",
            15,
            log,
        )
    full_events = {(e["device"], e["at"], e["kind"]) for e in events()}
    free()
    # A file that could not be opened is retried with a backoff of up to a minute; the
    # full spells here are short enough that the next try comes within seconds.
    waiting(lambda: resumes() > resumes_before, "history writes resuming", 20, log)
    return full_events


def unqueued_lines(text: str, reason: str) -> list[str]:
    """The uploader's one-line reports of envelopes it could not queue for ``reason``."""
    line = rf"ERROR {LOGGER}: Cannot queue uploads in \S+ \({reason}\); retrying at each pass"
    return re.findall(line, text)


def prepare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, str], set[str]]:
    """Queue envelopes, grant alerts and write the config; the agents' env, and what is queued."""
    env = agent_env(tmp_path)
    monkeypatch.setenv(DIR_ENV, env[DIR_ENV])
    privacy = tmp_path / "data" / "privacy"
    # No cloud endpoint: envelopes stay queued, and cloud alerts keep trying to queue more.
    queued = set(fill_outbox(privacy, QUEUED))
    grant_alerts(privacy)
    queued |= queued_ids(privacy)
    write_agent_config(env, CONFIG)
    return env, queued


def lost_in_cycle(
    agent: AgentProcess, privacy: Path, queued: set[str], full_events: set[Key]
) -> tuple[int, int]:
    """After the disk has room again: what went missing, and how many alerts were raised.

    Missing counts events pushed while the disk was full but not in history, envelopes
    queued before that are gone, and alerts raised meanwhile that never reached the outbox.
    """
    stored = {(e["device"], e["at"], e["kind"]) for e in call(agent, "events")}
    raised, unqueued = alerts_missing(privacy, full_events)
    return len(full_events - stored) + len(queued - queued_ids(privacy)) + unqueued, raised


def launch(env: dict[str, str], log: Path) -> AgentProcess:
    devices = ("sim://outage?speed=5", "sim://flicker?speed=10")
    args = ["run", "--dry-run", *(a for spec in devices for a in ("--device", spec))]
    return AgentProcess(env, log, args, fillable=True)


def test_disk_full_while_writing_history_and_outbox(
    tmp_path: Path, campaign: Campaign, scale: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    env, queued = prepare(tmp_path, monkeypatch)
    agent = launch(env, tmp_path / "agent.log")
    privacy = tmp_path / "data" / "privacy"
    injections = FULL_CYCLES * scale
    agent.wait_for_api()
    pushes = Pushes(agent)
    recovered = lost = alerts = 0
    try:
        for cycle in range(injections):
            full_events = fill_disk_once(
                agent,
                pushes,
                fill=lambda: agent.set_file_limit(FULL_BYTES),
                free=lambda: agent.set_file_limit(resource.RLIM_INFINITY),
                countdown=cycle == 0,
            )
            missing, raised = lost_in_cycle(agent, privacy, queued, full_events)
            alerts += raised
            lost += missing
            recovered += not missing
        assert agent.stop() == 0, agent.log_text()
    finally:
        pushes.close()
        if agent.process.poll() is None:
            agent.kill()
    check = integrity(agent.paths.history_db)
    campaign.check(
        "disk full: history and outbox writes",
        injections=injections,
        recovered=recovered,
        data_lost=lost,
    )
    assert check == "ok"
    assert alerts > 0, "alerts were raised while the disk was full, and all were queued"
    text = agent.log_text()
    db = agent.paths.history_db
    assert (
        f"Cannot write history to {db} (disk I/O error); keeping it in memory and retrying" in text
    )
    # A cloud alert due while the disk was full could not be queued: one line an episode.
    assert 1 <= len(unqueued_lines(text, "File too large")) <= injections
    assert "Traceback" not in text


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """The agents' data directory on a tmpfs of its own, so that it can really fill up."""
    data = tmp_path / "data"
    data.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0700", "tmpfs", str(data)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.fail(f"this campaign needs to mount a tmpfs (as root): {mounted.stderr.strip()}")
    try:
        yield data
    finally:
        subprocess.run(["umount", str(data)], check=True)


def fill_up(directory: Path) -> None:
    """Write a ballast file until the file system has no space left."""
    with (directory / BALLAST).open("ab", buffering=0) as out:
        for chunk in (b"\0" * 65536, b"\0" * 512):
            try:
                while out.write(chunk):
                    pass
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise


def test_a_real_full_disk_at_startup_and_while_running(
    tmp_path: Path,
    small_disk: Path,
    campaign: Campaign,
    scale: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    privacy = small_disk / "privacy"
    injections = TMPFS_CYCLES * scale
    env, queued = prepare(tmp_path, monkeypatch)
    fill_up(small_disk)
    agent = launch(env, tmp_path / "agent.log")
    pushes: Pushes | None = None
    recovered = lost = alerts = 0
    try:
        agent.wait_for_api()
        pushes = Pushes(agent)
        for cycle in range(injections):
            at_start = cycle == 0
            full_events = fill_disk_once(
                agent,
                pushes,
                fill=None if at_start else (lambda: fill_up(small_disk)),
                free=(small_disk / BALLAST).unlink,
                error=OPEN_ERROR if at_start else FULL_ERROR,
                countdown=cycle == 1,
            )
            missing, raised = lost_in_cycle(agent, privacy, queued, full_events)
            alerts += raised
            lost += missing
            recovered += not missing
        assert agent.stop() == 0, agent.log_text()
    finally:
        if pushes is not None:
            pushes.close()
        if agent.process.poll() is None:
            agent.kill()
    check = integrity(agent.paths.history_db)
    campaign.check(
        "disk full: tmpfs out of space",
        injections=injections,
        recovered=recovered,
        data_lost=lost,
    )
    assert check == "ok"
    assert alerts > 0, "alerts were raised while the disk was full, and all were queued"
    text = agent.log_text()
    db = agent.paths.history_db
    reason = "database or disk is full"
    assert f"Cannot open history database {db} ({reason}); keeping history in memory" in text
    assert f"Cannot write history to {db} ({reason}); keeping it in memory and retrying" in text
    assert text.count(f"History writes to {db} resumed after") == injections
    assert 1 <= len(unqueued_lines(text, "No space left on device")) <= injections
    assert "Traceback" not in text
