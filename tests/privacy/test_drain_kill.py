"""SIGKILL the agent while it drains a full outbox: after a restart nothing is lost or doubled.

The agent runs as ``upsight run`` in a subprocess and is killed without warning; the
loopback HTTPS cloud runs in this process, so the test sees every request. Delivery is
at-least-once: the request in flight when the agent dies may arrive again after the
restart, and the cloud dedupes it by its ``Idempotency-Key``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.keyrings import DIR_ENV
from tests.peers.cloud import CloudServer
from tests.privacy.drain_helpers import fill_outbox, queue_files
from upsight.agent.privacy.envelope import Envelope
from upsight.agent.privacy.ledger import Ledger, LedgerResult

UPSIGHT = Path(sys.executable).with_name("upsight")
REPO = Path(__file__).resolve().parents[2]
ENVELOPES = 300
KILL_AFTER = 100
"""Accepted envelopes after which the agent is killed: about a third of the way through."""


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    keyring_dir = tmp_path / "keyring"
    keyring_dir.mkdir()
    # This process and the agent share the keychain double through this directory.
    monkeypatch.setenv(DIR_ENV, str(keyring_dir))
    out = dict(os.environ)
    for name in ("CONFIG", "DATA", "RUNTIME"):
        out[f"UPSIGHT_{name}_DIR"] = str(tmp_path / name.lower())
    out["PYTHON_KEYRING_BACKEND"] = "tests.keyrings.DirectoryKeyring"
    out["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), out.get("PYTHONPATH")]))
    return out


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[CloudServer]:
    with CloudServer(tmp_path / "cloud") as server:
        yield server


def write_config(env: dict[str, str], cloud: CloudServer) -> None:
    config_dir = Path(env["UPSIGHT_CONFIG_DIR"])
    config_dir.mkdir(parents=True, exist_ok=True)
    # 600 a minute: at the default of 15 draining this outbox would take 20 minutes.
    (config_dir / "config.toml").write_text(
        "version = 1\n"
        "[cloud]\n"
        f'endpoint = "{cloud.url}"\n'
        f'ca_bundle = "{cloud.ca_pem}"\n'
        "max_requests_per_minute = 600\n",
        encoding="utf-8",
    )


def start_agent(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(UPSIGHT), "run", "--device", "sim://normal", "--no-api"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=out,
        )


def waiting(condition: Callable[[], bool], what: str, timeout_s: float, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}\n{log.read_text(errors='replace')}")
        time.sleep(0.05)


def test_a_killed_drain_resumes_and_delivers_each_envelope_once(
    tmp_path: Path, env: dict[str, str], cloud: CloudServer
) -> None:
    privacy = Path(env["UPSIGHT_DATA_DIR"]) / "privacy"
    queued = fill_outbox(privacy, ENVELOPES)
    assert len(queued) == ENVELOPES + 1, "the envelopes and the grant's consent receipt"
    write_config(env, cloud)
    log = tmp_path / "agent.log"

    agent = start_agent(env, log)
    try:
        cloud.wait_until(lambda c: len(c.accepted) >= KILL_AFTER, "a partial drain", 30)
    finally:
        agent.kill()
        agent.wait(10)
    delivered = set(cloud.accepted)
    assert len(delivered) < len(queued), "killed in the middle of the drain"

    left = queue_files(privacy)
    # A write cut short stays a hidden temporary file; only complete envelopes are queued.
    for path in left:
        assert path.name.endswith(".json"), f"{path} left behind by the kill"
        envelope = Envelope.decode(path.read_bytes())
        assert queued[envelope.envelope_id].encode() == path.read_bytes()
    remaining = {Envelope.decode(p.read_bytes()).envelope_id for p in left}
    assert delivered | remaining == set(queued), "every envelope sent or still queued"

    agent = start_agent(env, log)
    try:
        waiting(lambda: not queue_files(privacy), "an empty outbox", 45, log)
    finally:
        agent.terminate()
        assert agent.wait(15) == 0, log.read_text(errors="replace")

    duplicates = sum(cloud.duplicates.values())
    print(f"{len(queued)} envelopes, {duplicates} delivered twice (deduped by the cloud)")
    assert set(cloud.accepted) == set(queued)
    first_copies: dict[str, bytes] = {}
    for request in cloud.posts():
        if request.key is not None and request.answer.status == 200:
            first_copies.setdefault(request.key, request.raw)
    assert all(first_copies[key] == envelope.encode() for key, envelope in queued.items())
    # One request at a time is in flight, so one kill can double at most one envelope.
    assert duplicates <= 1, f"{duplicates} envelopes delivered twice after one kill"

    ledger = Ledger(privacy / "ledger" / "ledger.sqlite3")
    try:
        sent = {e.envelope_id for e in ledger.entries() if e.result is LedgerResult.SENT}
    finally:
        ledger.close()
    assert sent == set(queued)
    assert not any((privacy / "corrupt").iterdir()), "no queued file was unreadable"
