"""Test doubles for the NUT session tests: a scripted Backend and cheaply hashed users."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from upsight.agent.nut_server.backend import NutError, NutServerError, Writable
from upsight.agent.nut_server.users import Action, PasswordHash, Upsmon, User, Users
from upsight.drivers.base import VarKind


@dataclass
class FakeDevice:
    """One served UPS: its data, what may change, and what clients did to it."""

    description: str = "Unavailable"
    values: dict[str, str] = field(default_factory=dict)
    writable: dict[str, Writable] = field(default_factory=dict)
    commands: set[str] = field(default_factory=set)
    link: str = "ok"  # or "connecting" (no reading yet) or "stale"
    fail_commands_with: NutError | None = None
    fsd_by: list[str] = field(default_factory=list)
    ran: list[tuple[str, str | None]] = field(default_factory=list)
    sets: list[tuple[str, str]] = field(default_factory=list)


class FakeBackend:
    """Serves ``FakeDevice`` objects under their names, with upsd's FSD latch on ups.status."""

    def __init__(self, devices: Mapping[str, FakeDevice]) -> None:
        self.devices = dict(devices)
        self._version = object()

    def changed(self) -> None:
        """Say that answers may differ now (writes and FSD say so themselves)."""
        self._version = object()

    def version(self) -> object:
        return self._version

    def _device(self, ups: str) -> FakeDevice:
        if ups not in self.devices:
            raise NutServerError(NutError.UNKNOWN_UPS)
        return self.devices[ups]

    def _fresh(self, ups: str) -> FakeDevice:
        device = self._device(ups)
        if device.link == "connecting":
            raise NutServerError(NutError.DRIVER_NOT_CONNECTED)
        if device.link == "stale":
            raise NutServerError(NutError.DATA_STALE)
        return device

    def names(self) -> Sequence[str]:
        return list(self.devices)

    def description(self, ups: str) -> str:
        return self._device(ups).description

    def variables(self, ups: str) -> Mapping[str, str]:
        device = self._fresh(ups)
        values = dict(device.values)
        if device.fsd_by and "ups.status" in values:
            values["ups.status"] = f"FSD {values['ups.status']}"
        return values

    def writable(self, ups: str) -> Mapping[str, Writable]:
        return dict(self._fresh(ups).writable)

    def commands(self, ups: str) -> frozenset[str]:
        return frozenset(self._fresh(ups).commands)

    def run_command(self, ups: str, name: str, value: str | None) -> None:
        device = self._fresh(ups)
        if device.fail_commands_with is not None:
            raise NutServerError(device.fail_commands_with)
        device.ran.append((name, value))

    def set_variable(self, ups: str, name: str, value: str) -> None:
        device = self._fresh(ups)
        device.sets.append((name, value))
        device.values[name] = value
        self.changed()

    def set_fsd(self, ups: str, by: str) -> None:
        self._device(ups).fsd_by.append(by)
        self.changed()


def sample_backend() -> FakeBackend:
    """Three UPSes: ``ups`` with data, ``starting`` before its first reading, ``stale``."""
    ups = FakeDevice(
        description='Rack "A" #1 \\ main',
        values={
            "ups.status": "OL",
            "battery.charge": "100",
            "ups.mfr": "Acme Power",
            "ups.id": "rack-a",
            "input.sensitivity": "medium",
            "ups.delay.shutdown": "20",
            "battery.charge.low": "10",
            "device.model": 'Back "Pro" 650\\2',
        },
        writable={
            "ups.id": Writable("rack-a", VarKind.STRING, max_length=12),
            "input.sensitivity": Writable(
                "medium", VarKind.ENUM, choices=("low", "medium", "high")
            ),
            "ups.delay.shutdown": Writable(
                "20", VarKind.RANGE, ranges=(("0", "60"), ("90", "120"))
            ),
            "battery.charge.low": Writable("10", VarKind.NUMBER),
        },
        commands={"beeper.disable", "load.off", "test.battery.start.quick"},
    )
    return FakeBackend(
        {
            "ups": ups,
            "starting": FakeDevice(link="connecting"),
            "stale": FakeDevice(values={"ups.status": "OB"}, link="stale", commands={"load.off"}),
        }
    )


def cheap_user(
    name: str,
    password: str,
    *,
    upsmon: Upsmon | None = None,
    actions: frozenset[Action] = frozenset(),
    instcmds: frozenset[str] = frozenset(),
) -> User:
    """A user whose password hash is quick to check; real costs are tested in test_users."""
    salt = b"0123456789abcdef"
    key = hashlib.scrypt(password.encode(), salt=salt, n=16, r=1, p=1, dklen=32)
    return User(name, upsmon, actions, instcmds, PasswordHash(16, 1, 1, salt, key))


PASSWORD = "secret word"

USERS = Users(
    users={
        "secondary": cheap_user("secondary", PASSWORD, upsmon=Upsmon.SECONDARY),
        "primary": cheap_user("primary", PASSWORD, upsmon=Upsmon.PRIMARY),
        "admin": cheap_user(
            "admin", PASSWORD, actions=frozenset(Action), instcmds=frozenset({"all"})
        ),
        "operator": cheap_user("operator", PASSWORD, instcmds=frozenset({"beeper.disable"})),
    }
)
