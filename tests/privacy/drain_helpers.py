"""Outbox helpers shared by the drain, kill and disk-full tests: hourly energy envelopes."""

from __future__ import annotations

import os
from pathlib import Path

from tests.keyrings import DirectoryKeyring
from upsight.agent.privacy.admin_policy import load_policy
from upsight.agent.privacy.builder import Aggregate, ClientFacts, Snapshot
from upsight.agent.privacy.center import PrivacyCenter
from upsight.agent.privacy.consent import LocalUser, Surface
from upsight.agent.privacy.envelope import Envelope
from upsight.agent.privacy.purposes import Purpose
from upsight.agent.privacy.secrets import Secrets

ENERGY = Purpose.ENERGY_HISTORY
HOUR_S = 3600
# Hour-aligned, so every envelope's buckets start on a 15-minute boundary.
FIRST_HOUR = 1_699_999_200


def energy_snapshot(install_id: str, hour: int) -> Snapshot:
    """One hour of four 15-minute power buckets, different for every hour."""
    start = FIRST_HOUR + hour * HOUR_S
    buckets = tuple(
        Aggregate(start=start + q * 900, min=100.0 + q, avg=150.0 + hour % 50, max=400.0 - q)
        for q in range(4)
    )
    client = ClientFacts(
        agent_version="1.0.0",
        os_family="linux",
        os_version="6.1.0-18-amd64",
        locale="en_US.UTF-8",
        tz_offset_s=3600,
        install_id=install_id,
        hostname=None,
    )
    return Snapshot(
        client=client,
        series={"ups.realpower": buckets},
        energy_wh=tuple((b.start, b.avg / 4) for b in buckets),
    )


def fill_outbox(privacy: Path, count: int) -> dict[str, Envelope]:
    """Sign in, grant energy history, queue ``count`` envelopes; everything queued, by id.

    The keychain double must already point at the directory the agent will use, and no
    admin policy applies (an empty policy directory beside ``privacy``).
    """
    no_policy = privacy.parent / "no-policy"
    no_policy.mkdir(parents=True, exist_ok=True)
    secrets = Secrets(DirectoryKeyring())
    secrets.set_token("device-token")
    center = PrivacyCenter(privacy, secrets=secrets, policy=lambda: load_policy(no_policy))
    try:
        center.grant(ENERGY, actor=LocalUser(os.getuid()), surface=Surface.CLI)
        install_id = center.store.install_id
        for hour in range(count):
            assert center.enqueue(ENERGY, energy_snapshot(install_id, hour)) is not None
        return {q.envelope.envelope_id: q.envelope for q in center.outbox.pending()}
    finally:
        center.close()


def queue_files(privacy: Path) -> list[Path]:
    """Every queued file: upload queues first, then control envelopes."""
    return sorted(p for p in (privacy / "outbox").rglob("*") if p.is_file()) + sorted(
        p for p in (privacy / "control").glob("*") if p.is_file()
    )
