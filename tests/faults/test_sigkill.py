"""SIGKILL campaign: a real ``upsight run`` killed again and again while it writes.

Each test kills the agent (or the CLI) at random moments, restarts it, and scores what
came back: history rows acknowledged by the API before a kill, envelopes queued before a
kill, and consent choices must all survive; nothing may go out that should not.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.faults.campaign import Campaign
from tests.faults.kill_helpers import (
    AgentProcess,
    agent_env,
    call,
    integrity,
    waiting,
    write_config,
)
from tests.keyrings import DIR_ENV, DirectoryKeyring
from tests.peers.cloud import Answer, CloudServer, Received
from tests.privacy.drain_helpers import fill_outbox, queue_files
from upsight.agent.privacy.admin_policy import load_policy
from upsight.agent.privacy.center import PrivacyCenter
from upsight.agent.privacy.consent import ConsentStore
from upsight.agent.privacy.envelope import Envelope
from upsight.agent.privacy.ledger import Ledger, LedgerResult
from upsight.agent.privacy.purposes import Purpose
from upsight.agent.privacy.secrets import Secrets

DEVICES = ("sim://flicker?speed=30", "sim://outage?speed=20", "sim://normal")
"""Three devices: flicker and outage raise events every second or so, so every flush writes."""
FLUSH_S = 0.5
HISTORY_KILLS = 6
UPLOAD_KILLS = 5
UPLOAD_ENVELOPES = 60
CONSENT_KILLS = 8

Acked = set[tuple[str, ...]]


def history_seen(agent: AgentProcess) -> Acked:
    """Every raw reading time and every event the agent's API returns now."""
    now = time.time()
    seen: Acked = set()
    for event in call(agent, "events"):
        seen.add(("event", event["device"], repr(event["at"]), event["kind"]))
    for device in ("ups", "ups2", "ups3"):
        points = call(
            agent,
            "history",
            device=device,
            var="ups.load",
            since=now - 3600,
            until=now + 60,
            max_points=100_000,
        )
        seen.update(("raw", device, repr(p["t"])) for p in points)
    return seen


def more_history(agent: AgentProcess, count: int) -> Callable[[], bool]:
    return lambda: len(history_seen(agent)) > count


def wal_stamp(db: Path) -> tuple[int, int]:
    try:
        stat = Path(f"{db}-wal").stat()
    except FileNotFoundError:
        return (0, 0)
    return (stat.st_mtime_ns, stat.st_size)


def test_sigkill_during_history_writes(tmp_path: Path, campaign: Campaign, scale: int) -> None:
    env = agent_env(tmp_path)
    write_config(env, f"[agent]\npoll_interval_s = 0.2\n[history]\nflush_s = {FLUSH_S}\n")
    args = ["run", *(a for spec in DEVICES for a in ("--device", spec))]
    log = tmp_path / "agent.log"
    db = tmp_path / "data" / "history.sqlite3"
    rng = random.Random(1234)
    injections = HISTORY_KILLS * scale
    recovered = lost = 0
    acked: Acked = set()
    problems: list[str] = []
    for kill in range(injections + 1):
        agent = AgentProcess(env, log, args)
        agent.wait_for_api()
        at_start = history_seen(agent)
        missing = acked - at_start
        lost += len(missing)
        # Recording resumed once rows that were not there at the restart appear.
        waiting(more_history(agent, len(at_start)), "a flush", 20, log)
        if kill:
            recovered += not missing
            if missing:
                problems.append(f"kill {kill}: {len(missing)} acknowledged rows gone")
        if kill == injections:
            assert agent.stop() == 0, agent.log_text()
            break
        # Half the kills land the instant the WAL changes (a commit or checkpoint under
        # way), half at a random moment between flushes.
        at_write = kill % 2 == 0
        deadline = time.monotonic() + rng.uniform(0.1, 2 * FLUSH_S)
        acked = history_seen(agent)
        stamp = wal_stamp(db)
        while time.monotonic() < deadline:
            if at_write and wal_stamp(db) != stamp:
                time.sleep(rng.uniform(0, 0.003))
                break
            acked = history_seen(agent)
            stamp = wal_stamp(db)
        agent.kill()
        check = integrity(db)
        if check != "ok":
            problems.append(f"kill {kill + 1}: integrity_check said {check}")
            recovered -= 1
    campaign.check(
        "sigkill: agent mid history write",
        injections=injections,
        recovered=recovered,
        data_lost=lost,
    )
    assert problems == []
    assert "History database" not in log.read_text(errors="replace"), "no corruption reported"


def received(count: int) -> Callable[[CloudServer], bool]:
    return lambda cloud: len(cloud.received) >= count


def cloud_config(cloud: CloudServer) -> str:
    # 600 a minute, the most the setting allows: the campaign drains in seconds.
    return (
        f'[cloud]\nendpoint = "{cloud.url}"\nca_bundle = "{cloud.ca_pem}"\n'
        "max_requests_per_minute = 600\n"
    )


def sent_in_ledger(privacy: Path) -> list[str]:
    ledger = Ledger(privacy / "ledger" / "ledger.sqlite3")
    try:
        return [e.envelope_id for e in ledger.entries() if e.result is LedgerResult.SENT]
    finally:
        ledger.close()


def test_sigkill_during_uploads(
    tmp_path: Path, campaign: Campaign, scale: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = agent_env(tmp_path)
    monkeypatch.setenv(DIR_ENV, env[DIR_ENV])
    privacy = tmp_path / "data" / "privacy"
    log = tmp_path / "agent.log"
    rng = random.Random(99)
    injections = UPLOAD_KILLS * scale

    def slow_answer(_: Received) -> Answer:
        # Each reply takes a while, so that many kills land with a request in flight.
        return Answer(delay_s=rng.uniform(0.0, 0.05))

    with CloudServer(tmp_path / "cloud", respond=slow_answer) as cloud:
        queued = fill_outbox(privacy, UPLOAD_ENVELOPES * scale)
        write_config(env, cloud_config(cloud))
        args = ["run", "--device", "sim://normal", "--no-api"]
        recovered = lost = 0
        for _ in range(injections):
            agent = AgentProcess(env, log, args)
            target = len(cloud.received) + rng.randint(1, 8)
            cloud.wait_until(received(target), f"{target} uploads", 30)
            time.sleep(rng.uniform(0.0, 0.06))
            agent.kill()
            left = {Envelope.decode(p.read_bytes()).envelope_id for p in queue_files(privacy)}
            gone = set(queued) - left - set(cloud.accepted)
            lost += len(gone)
            recovered += not gone
        agent = AgentProcess(env, log, args)
        waiting(lambda: not queue_files(privacy), "an empty outbox", 60, log)
        assert agent.stop() == 0, agent.log_text()

    lost += len(set(queued) - set(cloud.accepted))
    keyless = [r for r in cloud.posts() if r.key is None]
    unasked = [
        k
        for k, body in cloud.accepted.items()
        if k not in queued
        and body is not None
        and body.get("purpose") not in {str(e.purpose) for e in queued.values()}
    ]
    campaign.check(
        "sigkill: agent mid upload",
        injections=injections,
        recovered=recovered,
        data_lost=lost,
        false_actions=len(keyless) + len(unasked),
    )
    duplicates = sum(cloud.duplicates.values())
    print(f"{len(queued)} envelopes, {injections} kills, {duplicates} delivered twice")
    assert keyless == []
    assert unasked == []
    # Delivery is at-least-once: a kill with a request in flight may double that one
    # envelope, which the cloud drops by its Idempotency-Key (the envelope id).
    assert duplicates <= injections
    assert set(cloud.accepted) >= set(queued)
    sent = sent_in_ledger(privacy)
    assert set(sent) == set(cloud.accepted), "the ledger lists what the cloud accepted"
    assert len(sent) - len(set(sent)) <= duplicates, "a second SENT row only for a resend"
    assert not any((privacy / "corrupt").iterdir())


ALERTS = Purpose.CLOUD_ALERTS
UPSIGHT = Path(sys.executable).with_name("upsight")


def consent_now(privacy: Path) -> tuple[bool, str | None]:
    """Whether cloud alerts are granted on disk, and what is wrong with the store if anything."""
    no_policy = privacy.parent / "no-policy"
    no_policy.mkdir(parents=True, exist_ok=True)
    center = PrivacyCenter(
        privacy, secrets=Secrets(DirectoryKeyring()), policy=lambda: load_policy(no_policy)
    )
    try:
        store: ConsentStore = center.store
        report = store.verify_log()
        problem = str(store.error) if store.error else None
        if not report.ok:
            problem = f"{problem or ''} log: {report.problem}"
        return store.is_granted(ALERTS), problem
    finally:
        center.close()


def alerts_received(cloud: CloudServer) -> int:
    return sum(
        1 for r in cloud.posts() if isinstance(r.body, dict) and r.body.get("purpose") == ALERTS
    )


def eventually(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def agent_allows(agent: AgentProcess) -> bool:
    """Whether the running agent would send cloud alerts now, by its own consent gate."""
    return bool(call(agent, "privacy.preview", purpose=str(ALERTS))["allowed"])


def follows(agent: AgentProcess, granted: bool) -> Callable[[], bool]:
    return lambda: agent_allows(agent) == granted


def test_sigkill_during_consent_changes(
    tmp_path: Path, campaign: Campaign, scale: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = agent_env(tmp_path)
    monkeypatch.setenv(DIR_ENV, env[DIR_ENV])
    privacy = tmp_path / "data" / "privacy"
    log = tmp_path / "agent.log"
    rng = random.Random(7)
    injections = CONSENT_KILLS * scale
    Secrets(DirectoryKeyring()).set_token("device-token")
    # At this speed the flicker scenario blips off mains every 2 s, and each ONBATT and
    # ONLINE sends a cloud alert at once while alerts are allowed.
    write_config(env, "[agent]\npoll_interval_s = 0.2\n")
    args = ["run", "--device", "sim://flicker?speed=10"]
    recovered = false_uploads = changed = sent_while_on = 0
    problems: list[str] = []
    with CloudServer(tmp_path / "cloud") as cloud:
        write_config(env, "[agent]\npoll_interval_s = 0.2\n" + cloud_config(cloud))
        agent = AgentProcess(env, log, args)
        agent.wait_for_api()
        for injection in range(injections):
            before, _ = consent_now(privacy)
            verb = "withdraw" if before else "grant"
            kill_agent = injection % 4 == 3
            cli = subprocess.Popen(
                [str(UPSIGHT), "privacy", verb, str(ALERTS)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            # The CLI takes some 0.7-1 s to import and write; kills land before, during
            # and after its write, and before or after it tells the agent.
            time.sleep(rng.uniform(0.5, 1.3))
            (agent if kill_agent else cli).kill()
            cli.wait(10)
            if kill_agent:
                agent.kill()
                agent = AgentProcess(env, log, args)
                agent.wait_for_api()
            after, problem = consent_now(privacy)
            changed += after != before
            # Even when the CLI died before telling it, the agent goes by what is on disk.
            if not eventually(follows(agent, after), 5):
                problem = problem or f"the agent did not follow the stored choice ({after})"
            if problem is not None:
                problems.append(f"{verb} #{injection}: {problem}")
            # A request already on the wire when the choice landed may still arrive.
            time.sleep(0.1)
            seen = alerts_received(cloud)
            time.sleep(1.5)
            if after:
                sent_while_on += alerts_received(cloud) - seen
            else:
                extra = alerts_received(cloud) - seen
                false_uploads += extra
                if extra:
                    problems.append(f"{verb} #{injection}: {extra} alerts sent while off")
            recovered += problem is None
        assert agent.stop() == 0, agent.log_text()
    print(f"{injections} kills: {changed} left the new choice, {injections - changed} the old")
    campaign.check(
        "sigkill: CLI or agent mid consent change",
        injections=injections,
        recovered=recovered,
        false_actions=false_uploads,
    )
    assert problems == []
    assert sent_while_on > 0, "alerts flowed while allowed, so the off windows mean something"
