"""Fault campaign: every file the agent reads is corrupted in every way, again and again.

Each injection corrupts one file (truncated, random bytes, valid syntax of the wrong
shape, empty, a directory in its place) and opens it with the real loader. Recovered
means a clear message naming the file and safe values: defaults for the config, nothing
granted for consent, uploads blocked and every setting still locked for managed policy,
a fresh history database with the bad one kept aside. data_lost counts user files
destroyed without a copy; false_actions counts uploads that became possible or locks
that were lifted.
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
import random
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes import FakeClock
from tests.faults.campaign import Campaign
from tests.faults.kill_helpers import agent_env, app_paths, write_config
from tests.faults.sandbox import POLICIES, Sandbox, SandboxedAgent
from tests.keyrings import DIR_ENV, DirectoryKeyring, MemoryKeyring
from tests.peers.cloud import CloudServer
from upsight.agent import config as config_file
from upsight.agent.api.client import ApiClient
from upsight.agent.config import Config
from upsight.agent.events import Event, EventKind
from upsight.agent.history.store import HistoryStore
from upsight.agent.privacy.admin_policy import load_policy
from upsight.agent.privacy.center import PrivacyCenter
from upsight.agent.privacy.consent import LocalUser, Surface
from upsight.agent.privacy.effective import PolicyDecision
from upsight.agent.privacy.purposes import UPLOAD_PURPOSES, Purpose
from upsight.agent.privacy.secrets import Secrets
from upsight.agent.settings_policy import apply_policy

Corrupt = Callable[[Path, bytes], None]


def _truncated(path: Path, good: bytes) -> None:
    path.write_bytes(good[: len(good) // 2])


def _random(path: Path, good: bytes) -> None:
    path.write_bytes(random.Random(len(good)).randbytes(max(len(good), 64)))


def _empty(path: Path, good: bytes) -> None:
    path.write_bytes(b"")


def _directory(path: Path, good: bytes) -> None:
    path.unlink(missing_ok=True)
    path.mkdir()


KINDS: dict[str, Corrupt] = {
    "truncated": _truncated,
    "random bytes": _random,
    "empty": _empty,
    "a directory": _directory,
}
"""Corruptions every file gets; each test adds its own "wrong shape"."""


def injections(scale: int, shapes: dict[str, bytes]) -> list[tuple[str, Corrupt]]:
    """Every corruption kind, plus each wrong-shape document, ``scale`` times over."""
    kinds = list(KINDS.items()) + [
        (f"wrong shape {name}", lambda path, good, data=data: path.write_bytes(data))
        for name, data in shapes.items()
    ]
    return kinds * scale


def kept(path: Path, good: bytes) -> bool:
    """The user's file is still there, unchanged, or was moved aside intact."""
    if path.is_file() and path.read_bytes() == good:
        return True
    return any(p.read_bytes() == good for p in path.parent.glob(f"{path.name}.corrupt-*"))


# --- The config file -----------------------------------------------------------------------

GOOD_CONFIG = b'version = 1\n[agent]\npoll_interval_s = 2.0\n[cloud]\nendpoint = ""\n'
CONFIG_SHAPES = {
    "(table as value)": b'version = 1\nagent = "sim://normal"\n',
    "(wrong types)": b'version = "one"\n[agent]\npoll_interval_s = "fast"\ndevices = 5\n',
}


def test_a_corrupt_config_file_falls_back_to_defaults_and_names_the_file(
    tmp_path: Path, campaign: Campaign, scale: int
) -> None:
    plan = injections(scale, CONFIG_SHAPES)
    recovered = 0
    for i, (kind, corrupt) in enumerate(plan):
        path = tmp_path / f"c{i}" / "config.toml"
        path.parent.mkdir()
        corrupt(path, GOOD_CONFIG)
        result = config_file.load(path)
        named = all(p.startswith(f"{path}: ") for p in result.problems)
        safe = result.config.cloud_endpoint == "" and result.config.poll_interval_s == 1.0
        # An empty file is a valid (if versionless) config; every other kind must be reported.
        reported = bool(result.problems)
        recovered += named and safe and reported
        if kind == "a directory":
            assert result.problems == (f"{path}: cannot be read (Is a directory); using defaults",)
    campaign.check("file: config.toml corrupt", injections=len(plan), recovered=recovered)


# --- The consent store ---------------------------------------------------------------------

CONSENT_SHAPES = {
    "(a list)": b"[]\n",
    "(wrong types)": json.dumps(
        {"schema": 1, "install_id": 5, "purposes": {"cloud_alerts": "granted"}}
    ).encode(),
}


def test_a_corrupt_consent_store_grants_nothing_and_keeps_the_file(
    tmp_path: Path, campaign: Campaign, scale: int
) -> None:
    plan = injections(scale, CONSENT_SHAPES)
    empty_root = tmp_path / "no-policy"
    empty_root.mkdir()
    recovered = lost = leaks = 0
    for i, (_kind, corrupt) in enumerate(plan):
        directory = tmp_path / f"p{i}"
        secrets = Secrets(MemoryKeyring())
        center = PrivacyCenter(directory, secrets=secrets, policy=lambda: load_policy(empty_root))
        center.grant(Purpose.CLOUD_ALERTS, actor=LocalUser(0), surface=Surface.CLI)
        center.close()
        path = directory / "consent.json"
        good = path.read_bytes()
        corrupt(path, good)
        damaged = path.read_bytes() if path.is_file() else None
        center = PrivacyCenter(directory, secrets=secrets, policy=lambda: load_policy(empty_root))
        try:
            leaks += sum(v.effective.on for v in center.views())
            error = center.store.error
            named = error is not None and str(error).startswith(f"{path}: ")
            told = any(p.startswith(f"{path}: ") for p in center.problems())
            recovered += named and told
            # The damaged file stays for the user to inspect or restore from a backup.
            still = path.read_bytes() if path.is_file() else None
            lost += still != damaged
        finally:
            center.close()
    campaign.check(
        "file: consent.json corrupt",
        injections=len(plan),
        recovered=recovered,
        data_lost=lost,
        false_actions=leaks,
    )


# --- Admin policy: managed, recommended, and the agent settings it carries ----------------

LOCKING = {
    "schema_version": 1,
    "policies": {
        "Purposes": {"cloud_alerts": {"Value": "granted"}},
        "Settings": {"agent.poll_interval_s": 4, "protection.action": "shutdown"},
    },
}
POLICY_SHAPES = {
    "(a list)": b"[1, 2]",
    "(policies is text)": b'{"schema_version": 1, "policies": "all on"}',
}
SETTINGS_SHAPES = {
    "(Settings is a list)": json.dumps(
        {"schema_version": 1, "policies": {"Settings": ["agent.poll_interval_s", 4]}}
    ).encode(),
}


def _policy_file(root: Path, level: str) -> Path:
    path = root / "etc" / "upsight" / "policies" / level / "10-corp.json"
    path.parent.mkdir(parents=True)
    return path


@pytest.mark.parametrize("level", ["managed", "recommended"])
def test_a_corrupt_policy_file_fails_closed_and_unlocks_nothing(
    tmp_path: Path, campaign: Campaign, scale: int, level: str
) -> None:
    """Uploads are blocked whatever the level; a broken managed file locks every setting."""
    good = json.dumps(LOCKING).encode()
    plan = injections(scale, POLICY_SHAPES)
    recovered = false_actions = 0
    for i, (_kind, corrupt) in enumerate(plan):
        root = tmp_path / f"r{i}"
        path = _policy_file(root, level)
        corrupt(path, good)
        policy = load_policy(root, "linux")
        blocked = all(
            policy.decision(p).decision is PolicyDecision.INVALID for p in UPLOAD_PURPOSES
        )
        named = any(e.source == str(path) and e.key in ("", "policies") for e in policy.errors)
        config, locks = apply_policy(Config(poll_interval_s=2.0), policy)
        false_actions += not blocked or policy.network_blocked != str(path)
        if level == "managed":
            false_actions += any(locks.source(s.key) is None for s in config_file.SETTINGS)
        else:
            false_actions += bool(locks.sources)
        recovered += named and config.poll_interval_s == 2.0
    campaign.check(
        f"file: {level} policy corrupt",
        injections=len(plan),
        recovered=recovered,
        false_actions=false_actions,
    )


def test_a_corrupt_managed_settings_policy_keeps_every_setting_locked(
    tmp_path: Path, campaign: Campaign, scale: int
) -> None:
    plan = [(name, data) for name, data in SETTINGS_SHAPES.items()] * (3 * scale)
    recovered = unlocked = 0
    for i, (_name, data) in enumerate(plan):
        root = tmp_path / f"s{i}"
        path = _policy_file(root, "managed")
        path.write_bytes(data)
        policy = load_policy(root, "linux")
        config, locks = apply_policy(Config(poll_interval_s=2.0), policy)
        unlocked += sum(locks.source(s.key) != str(path) for s in config_file.SETTINGS)
        named = any(e.source == str(path) and e.key == "policies.Settings" for e in policy.errors)
        recovered += named and config.poll_interval_s == 2.0
    campaign.check(
        "file: managed Settings policy of the wrong shape",
        injections=len(plan),
        recovered=recovered,
        false_actions=unlocked,
    )


# --- The history database ------------------------------------------------------------------


def _good_history(path: Path, clock: FakeClock) -> bytes:
    store = HistoryStore(path, clock=clock)
    store.record_event(Event(clock.time(), "ups", EventKind.ONBATT, "On battery"))
    store.flush()
    store.close()
    return path.read_bytes()


def _wrong_schema(path: Path, good: bytes) -> None:
    path.unlink()
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE device (name TEXT)")
    db.close()


def test_a_corrupt_history_database_is_kept_aside_and_history_goes_on(
    tmp_path: Path, campaign: Campaign, scale: int, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    plan = [*KINDS.items(), ("wrong schema", _wrong_schema)] * scale
    recovered = lost = 0
    for i, (kind, corrupt) in enumerate(plan):
        path = tmp_path / f"h{i}" / "history.sqlite3"
        good = _good_history(path, clock)
        corrupt(path, good)
        damaged = path.read_bytes() if path.is_file() else None
        caplog.clear()
        store = HistoryStore(path, clock=clock)
        try:
            clock.advance(1.0)
            store.record_event(Event(clock.time(), "ups", EventKind.ONLINE, "Power restored"))
            store.flush()
            works = [e.kind for e in store.events()][-1:] == [EventKind.ONLINE]
        finally:
            store.close()
        asides = list(path.parent.glob("history.sqlite3.corrupt-*"))
        if damaged is not None and damaged:
            lost += not (
                any(a.read_bytes() == damaged for a in asides)
                or (path.is_file() and path.read_bytes().startswith(damaged[:16]))
            )
        told = str(path) in caplog.text or kind == "empty"
        recovered += works and told
    campaign.check(
        "file: history database corrupt",
        injections=len(plan),
        recovered=recovered,
        data_lost=lost,
    )


BAD_SETTINGS: dict[str, object] = {
    "agent.poll_interval_s": "fast",
    "history.raw_hours": 0,
    "protection.action": "reboot",
    "agent.devices": "sim://normal",
}
"""One managed value per key that fails the policy schema (wrong type, out of range, enum)."""


def test_a_managed_setting_that_fails_the_schema_stays_locked_at_the_users_value(
    tmp_path: Path, campaign: Campaign, scale: int
) -> None:
    plan = list(BAD_SETTINGS.items()) * (2 * scale)
    user = Config(poll_interval_s=2.0)
    recovered = unlocked = 0
    for i, (key, bad) in enumerate(plan):
        root = tmp_path / f"v{i}"
        path = _policy_file(root, "managed")
        path.write_text(
            json.dumps({"schema_version": 1, "policies": {"Settings": {key: bad}}}), "utf-8"
        )
        config, locks = apply_policy(user, load_policy(root, "linux"))
        unlocked += locks.source(key) != str(path)
        [problem] = load_policy(root, "linux").errors
        named = (problem.source, problem.key) == (str(path), f"policies.Settings.{key}")
        told = problem.problem.endswith("the user's value stays, locked until the source is fixed")
        recovered += named and told and config_file.as_table(config) == config_file.as_table(user)
    campaign.check(
        "file: managed Settings value fails the schema",
        injections=len(plan),
        recovered=recovered,
        false_actions=unlocked,
    )


def test_a_recommended_setting_that_fails_the_schema_locks_nothing(tmp_path: Path) -> None:
    path = _policy_file(tmp_path, "recommended")
    path.write_text(
        json.dumps({"schema_version": 1, "policies": {"Settings": {"history.raw_hours": 0}}}),
        "utf-8",
    )
    policy = load_policy(tmp_path, "linux")
    config, locks = apply_policy(Config(), policy)
    assert locks.sources == {}
    assert config == Config()
    assert [e.problem for e in policy.errors] == [
        "0 is out of range (minimum 1); this setting is ignored"
    ]


# --- The real agent: it starts, keeps monitoring, says what is wrong, uploads nothing unsafe -


class File(enum.Enum):
    """Each file a real ``upsight run`` reads at start."""

    CONFIG = "config.toml"
    CONSENT = "consent.json"
    MANAGED = "managed policy"
    RECOMMENDED = "recommended policy"
    HISTORY = "history database"


@dataclass(frozen=True)
class Case:
    """One injection against a real agent.

    Attributes:
        row: The campaign row it scores under.
        file: The file damaged.
        damage: How; ``None`` makes it unreadable (mode 000, run without root's file access).
        says: What the agent must say after the file's path, in its log and in the CLI.
        uploads: The cloud may receive envelopes (the damaged file forbade nothing).
        managed: The managed policy document, for Settings cases, instead of ``LOCKING``.
    """

    row: str
    file: File
    damage: Corrupt | None
    says: str
    uploads: bool = False
    managed: bytes | None = None


@dataclass
class Outcome:
    """What one agent run showed."""

    readings: int = 0
    log: str = ""
    cli: str = ""
    kept: bool = True
    locked: str = ""
    stopped: int | None = None


WINDOW_S = 3.0
"""How long each run watches the cloud; the baseline proves uploads arrive well within it."""
UNREADABLE = "file: unreadable (permission denied)"
NO_TOML = "not valid TOML"
NO_JSON = "is not valid JSON"
A_DIRECTORY = "cannot be read (Is a directory)"
DENIED = "cannot be read (Permission denied)"
NOT_DB = "file is not a database"


VIEWS: dict[File, tuple[tuple[str, ...], ...]] = {
    File.CONFIG: (("config", "show"),),
    File.CONSENT: (("privacy", "show"),),
    File.MANAGED: (("policy", "show"), ("config", "show")),
    File.RECOMMENDED: (("policy", "show"),),
    File.HISTORY: (),
}
"""The commands that show each file's state to the user."""


def _cases(scale: int) -> list[Case]:
    settings_list = SETTINGS_SHAPES["(Settings is a list)"]
    bad_value = json.dumps(
        {"schema_version": 1, "policies": {"Settings": {"agent.poll_interval_s": "fast"}}}
    ).encode()
    once = [
        Case("file: config.toml corrupt", File.CONFIG, _truncated, NO_TOML),
        Case("file: config.toml corrupt", File.CONFIG, _directory, A_DIRECTORY),
        Case("file: consent.json corrupt", File.CONSENT, _random, "is not valid JSON"),
        Case("file: consent.json corrupt", File.CONSENT, _empty, "is empty"),
        Case("file: managed policy corrupt", File.MANAGED, _truncated, NO_JSON),
        Case("file: managed policy corrupt", File.MANAGED, _directory, A_DIRECTORY),
        Case("file: recommended policy corrupt", File.RECOMMENDED, _random, "is not UTF-8 text"),
        Case("file: recommended policy corrupt", File.RECOMMENDED, _directory, A_DIRECTORY),
        Case(
            "file: managed Settings policy of the wrong shape",
            File.MANAGED,
            _good,
            "policies.Settings: expected object",
            uploads=True,
            managed=settings_list,
        ),
        Case(
            "file: managed Settings value fails the schema",
            File.MANAGED,
            _good,
            "policies.Settings.agent.poll_interval_s: expected number",
            uploads=True,
            managed=bad_value,
        ),
        Case("file: history database corrupt", File.HISTORY, _random, NOT_DB, uploads=True),
        Case(
            "file: history database corrupt",
            File.HISTORY,
            _truncated,
            "is corrupt: database disk image is malformed",
            uploads=True,
        ),
        Case(UNREADABLE, File.CONFIG, None, DENIED),
        Case(UNREADABLE, File.CONSENT, None, DENIED),
        Case(UNREADABLE, File.MANAGED, None, DENIED),
        Case(UNREADABLE, File.HISTORY, None, "unable to open database file", uploads=True),
    ]
    return once * scale


def _good(path: Path, good: bytes) -> None:
    """Leave the file as written: the document itself is the fault."""


class Rig:
    """One isolated agent home: consent granted, signed in, the cloud configured."""

    def __init__(self, root: Path, cloud: CloudServer, case: Case | None) -> None:
        self.case = case
        self.cloud = cloud
        self.env = agent_env(root)
        self.sandbox = Sandbox(root, no_file_access=case is not None and case.damage is None)
        self.paths = app_paths(self.env)
        privacy = self.paths.data_dir / "privacy"
        no_policy = root / "no-policy"
        no_policy.mkdir()
        secrets = Secrets(DirectoryKeyring())
        secrets.set_token("device-token")
        center = PrivacyCenter(privacy, secrets=secrets, policy=lambda: load_policy(no_policy))
        try:
            center.grant(Purpose.CLOUD_ALERTS, actor=LocalUser(os.getuid()), surface=Surface.CLI)
        finally:
            center.close()
        write_config(
            self.env,
            f'[agent]\npoll_interval_s = 0.5\n[cloud]\nendpoint = "{cloud.url}"\n'
            f'ca_bundle = "{cloud.ca_pem}"\nmax_requests_per_minute = 600\n',
        )

    def damage(self) -> Path:
        """Damage the case's file; returns its path as the agent sees it."""
        assert self.case is not None
        case = self.case
        if case.file is File.CONFIG:
            path = shown = self.paths.config_file
        elif case.file is File.CONSENT:
            path = shown = self.paths.data_dir / "privacy" / "consent.json"
        elif case.file is File.HISTORY:
            path = shown = self.paths.history_db
            _good_history(path, FakeClock())
        else:
            level = "managed" if case.file is File.MANAGED else "recommended"
            path = self.sandbox.policy_file(level)
            shown = Path("/") / POLICIES / level / path.name
            path.write_bytes(case.managed or json.dumps(LOCKING).encode())
        if case.damage is None:
            path.chmod(0)
        else:
            case.damage(path, path.read_bytes())
        return shown

    def run(self) -> tuple[Outcome, Path | None]:
        """Start the agent, watch it for :data:`WINDOW_S`, ask the CLI, stop it."""
        shown = self.damage() if self.case is not None else None
        before = self.paths.history_db.read_bytes() if shown == self.paths.history_db else None
        log = self.sandbox.root / "agent.log"
        agent = SandboxedAgent(self.sandbox, self.env, log, ["run", "--device", "sim://normal"])
        outcome = Outcome()
        try:
            agent.wait_for_api()
            start = time.time()
            seen: set[float] = set()
            deadline = time.monotonic() + WINDOW_S
            while time.monotonic() < deadline:
                seen |= set(_fresh_readings(agent, start))
                time.sleep(0.1)
            outcome.readings = len(seen)
            for command in VIEWS[self.case.file if self.case else File.CONFIG]:
                done = agent.cli(*command)
                outcome.cli += done.stdout + done.stderr
            if self.case is not None and self.case.file is File.MANAGED:
                refused = agent.cli("config", "set", "agent.poll_interval_s", "3")
                outcome.locked = refused.stderr if refused.returncode else ""
        finally:
            outcome.stopped = agent.stop()
            outcome.log = agent.log_text()
        if before:
            outcome.kept = kept(self.paths.history_db, before)
        return outcome, shown


def _fresh_readings(agent: SandboxedAgent, since: float) -> list[float]:
    with ApiClient(agent.paths.api_socket) as client:
        devices = client.call("status")["devices"]
    return [d["reading"]["at"] for d in devices if d["reading"] and d["reading"]["at"] >= since]


def _paths(cloud: CloudServer) -> list[str]:
    return [r.path for r in cloud.received]


def _told(case: Case, shown: Path, outcome: Outcome) -> bool:
    """The log, and the CLI where it has a view of that file, name the file and the fault."""
    said = f"{shown}: " if case.file is not File.HISTORY else f"{shown}"
    logged = [line for line in outcome.log.splitlines() if said in line]
    in_log = any(case.says in line for line in logged)
    if case.file is File.HISTORY:
        return in_log
    return in_log and any(case.says in line and said in line for line in outcome.cli.splitlines())


def _safe(case: Case, shown: Path, outcome: Outcome) -> bool:
    """Safe values: defaults for a lost config; every managed setting still locked."""
    if case.file is File.CONFIG:
        return 'cloud.endpoint = ""' in outcome.cli and "agent.poll_interval_s = 1.0" in outcome.cli
    if case.file is File.MANAGED:
        return f"'agent.poll_interval_s' is managed by your organization ({shown})" in (
            outcome.locked
        )
    return True


def test_a_real_agent_keeps_monitoring_with_each_file_corrupt_and_uploads_nothing_unsafe(
    tmp_path: Path, campaign: Campaign, scale: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases: list[Case | None] = [None, *_cases(scale)]
    with contextlib.ExitStack() as stack, ThreadPoolExecutor(max_workers=6) as pool:
        clouds: list[CloudServer] = []
        futures = []
        for i, case in enumerate(cases):
            root = tmp_path / f"a{i}"
            root.mkdir()
            clouds.append(stack.enter_context(CloudServer(root / "cloud")))
            # Homes are prepared one at a time, here: the keychain double is named by an
            # environment variable of this process.
            monkeypatch.setenv(DIR_ENV, str(root / "keyring"))
            futures.append(pool.submit(Rig(root, clouds[-1], case).run))
        runs = [(*f.result(), _paths(c)) for f, c in zip(futures, clouds, strict=True)]
    (baseline, _, uploaded), *runs = runs
    assert baseline.readings >= 2, baseline.log
    assert uploaded, "the rig never uploads, so 'nothing uploaded' would prove nothing"
    scores: dict[str, list[int]] = {}
    failures: list[str] = []
    for case, (outcome, shown, received) in zip(cases[1:], runs, strict=True):
        assert case is not None
        assert shown is not None
        row = scores.setdefault(case.row, [0, 0, 0, 0])
        good = (
            outcome.readings >= 2
            and outcome.stopped == 0
            and _told(case, shown, outcome)
            and _safe(case, shown, outcome)
        )
        row[0] += 1
        row[1] += good
        row[2] += not outcome.kept
        row[3] += len(received) if not case.uploads else 0
        if not good or not outcome.kept or (received and not case.uploads):
            failures.append(
                f"{case.row}, {case.file.value} ({case.says}): readings {outcome.readings}, "
                f"exit {outcome.stopped}, told {_told(case, shown, outcome)}, safe "
                f"{_safe(case, shown, outcome)}, kept {outcome.kept}, uploads {received}"
            )
    for name, (injected, recovered, lost, leaked) in scores.items():
        campaign.record(
            name,
            injections=injected,
            recovered=recovered,
            data_lost=lost,
            false_actions=leaked,
        )
    assert failures == [], "\n".join(failures)
