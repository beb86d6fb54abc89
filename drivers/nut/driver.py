"""The ``nut://[user[:pass]@]host[:port]/ups`` driver: one UPS served by a NUT upsd."""

from __future__ import annotations

from upsight.drivers.base import Driver
from upsight.drivers.clock import Clock
from upsight.drivers.errors import DataStale, ProtocolError, UnsupportedCommand
from upsight.drivers.model import Reading, Status, UpsInfo, Value, clean_serial
from upsight.drivers.nut.connection import Connection
from upsight.drivers.nut.protocol import quote, split_words
from upsight.drivers.spec import DeviceSpec
from upsight.drivers.variables import parse_value

# Each request must come back within this long, so a poller can stop promptly.
TIMEOUT_S = 1.5


def _hex_id(text: str | None) -> int | None:
    try:
        return int(text, 16) if text else None
    except ValueError:
        return None


class NutDriver(Driver):
    """Reads one UPS from upsd with ``LIST VAR`` on every poll."""

    def __init__(self, spec: DeviceSpec, clock: Clock) -> None:
        self._ups = spec.params["ups"]
        self._user = spec.params.get("user")
        self._password = spec.params.get("password")
        self._clock = clock
        self._conn = Connection(spec.params["host"], int(spec.params["port"]), TIMEOUT_S)
        try:
            self._logged_in = False
            texts = self._list_vars()
            self._commands = frozenset(self._list_commands())
        except BaseException:
            self._conn.close()
            raise
        self._info = UpsInfo(
            mfr=texts.get("device.mfr") or texts.get("ups.mfr"),
            model=texts.get("device.model") or texts.get("ups.model"),
            serial=clean_serial(texts.get("device.serial") or texts.get("ups.serial")),
            firmware=texts.get("ups.firmware"),
            vid=_hex_id(texts.get("ups.vendorid")),
            pid=_hex_id(texts.get("ups.productid")),
            driver="nut",
        )

    def info(self) -> UpsInfo:
        return self._info

    def commands(self) -> frozenset[str]:
        return self._commands

    def read(self) -> Reading:
        texts = self._list_vars()
        status_text = texts.pop("ups.status", "")
        status = Status.parse(status_text)
        if "WAIT" in status.unknown:
            # upsd has not had its driver's first full dump yet.
            raise DataStale(f"{self._ups}: upsd is still waiting for its driver's data")
        values: dict[str, Value] = {}
        for name, text in texts.items():
            value = parse_value(name, text)
            if value is not None:
                values[name] = value
        return Reading(self._clock.time(), status, values)

    def run(self, name: str, value: str | None = None) -> None:
        if name not in self._commands:
            raise UnsupportedCommand(f"{name} is not offered by {self._ups}")
        self._login()
        # Send: INSTCMD myups load.off [value]
        request = f"INSTCMD {self._ups} {name}" + (f" {quote(value)}" if value else "")
        self._conn.request(request)

    def close(self) -> None:
        self._conn.close()

    def _login(self) -> None:
        if self._logged_in or self._user is None:
            return
        self._conn.request(f"USERNAME {self._user}")
        if self._password is not None:
            self._conn.request(f"PASSWORD {self._password}")
        self._logged_in = True

    def _list_vars(self) -> dict[str, str]:
        texts: dict[str, str] = {}
        for line in self._conn.request_list(f"LIST VAR {self._ups}"):
            words = split_words(line)
            if len(words) != 4 or words[0] != "VAR" or words[1] != self._ups:
                raise ProtocolError(f"{self._ups}: unexpected line in LIST VAR: {line[:80]!r}")
            texts[words[2]] = words[3]
        return texts

    def _list_commands(self) -> list[str]:
        # Recv: CMD myups load.off
        names: list[str] = []
        for line in self._conn.request_list(f"LIST CMD {self._ups}"):
            words = split_words(line)
            if len(words) != 3 or words[0] != "CMD" or words[1] != self._ups:
                raise ProtocolError(f"{self._ups}: unexpected line in LIST CMD: {line[:80]!r}")
            names.append(words[2])
        return names


def open_nut(spec: DeviceSpec, clock: Clock) -> NutDriver:
    """Connect to the UPS a ``nut://`` spec names.

    Raises:
        NotFound: upsd is not reachable, or does not know the UPS.
        Disconnected: upsd has no driver for the UPS.
    """
    return NutDriver(spec, clock)
