"""HID paths to NUT variables, flags and commands: declarative rows, generic table, status logic."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from types import MappingProxyType
from typing import Final, NamedTuple

from upsight.drivers.hid.decode import logical_value, physical_value, scale_units
from upsight.drivers.hid.descriptor import Field, Report, ReportDescriptor, ReportType
from upsight.drivers.hid.sanity import Rejection, check
from upsight.drivers.hid.usages import USAGE_NAMES
from upsight.drivers.model import Status, UpsFlag, Value


class Poll(enum.Enum):
    """How often a row's fields are read (protocols.md 6.2)."""

    QUICK = "quick"
    """Every poll: the status booleans and the countdown timers."""
    SLOW = "slow"
    """The full walk: measurements and settings."""
    STATIC = "static"
    """Once per connection: ratings that never change."""


Convert = Callable[[float], Value | None]
"""Turns a decoded number into the variable's value; None means "no reading"."""


def _paths(path: str | tuple[str, ...]) -> tuple[str, ...]:
    return (path,) if isinstance(path, str) else path


@dataclass(frozen=True)
class HidVar:
    """One NUT variable read from the first of its paths the device has.

    Attributes:
        var: the NUT variable, e.g. ``battery.charge``.
        path: a dotted usage path, or alternatives tried in order.
        convert: turns the decoded number into the value; None keeps the number.
        poll: how often the variable is read.
    """

    var: str
    path: str | tuple[str, ...]
    convert: Convert | None = None
    poll: Poll = Poll.SLOW

    @property
    def paths(self) -> tuple[str, ...]:
        """The alternative paths, in order of preference."""
        return _paths(self.path)


@dataclass(frozen=True)
class HidFlag:
    """One status indication: a path whose value sets, or clears, a ``ups.status`` flag.

    Attributes:
        path: a dotted usage path, or alternatives tried in order.
        flag: the flag the row is about.
        when: the value that triggers the row; None means any non-zero value.
        clears: the row vetoes the flag instead of setting it (FullyCharged vetoes CHRG).
        poll: how often the path is read.
    """

    path: str | tuple[str, ...]
    flag: UpsFlag
    when: float | None = None
    clears: bool = False
    poll: Poll = Poll.QUICK

    @property
    def paths(self) -> tuple[str, ...]:
        """The alternative paths, in order of preference."""
        return _paths(self.path)

    def triggered(self, value: float) -> bool:
        """True when ``value`` triggers the row."""
        return value != 0 if self.when is None else value == self.when


@dataclass(frozen=True)
class HidCommand:
    """One NUT instant command: write ``value`` to the first of its paths the device has.

    Attributes:
        name: the NUT command, e.g. ``test.battery.start.quick``.
        path: a dotted usage path, or alternatives tried in order.
        value: the physical value to write.
    """

    name: str
    path: str | tuple[str, ...]
    value: float

    @property
    def paths(self) -> tuple[str, ...]:
        """The alternative paths, in order of preference."""
        return _paths(self.path)


Row = HidVar | HidFlag | HidCommand
DescriptorFix = Callable[[ReportDescriptor, int], ReportDescriptor]
"""Repairs a vendor's descriptor for one product ID; returns it unchanged when not needed."""
ValuesFix = Callable[[dict[str, Value], int], frozenset[str]]
"""Adjusts mapped values in place for one product ID; returns the names it estimated."""


def _claims_nothing(vid: int, pid: int) -> bool:
    return False


@dataclass(frozen=True)
class Vendor:
    """A vendor's additions to the generic table, as ``vendors/<name>.py`` declares them.

    Attributes:
        name: the vendor's name, e.g. ``APC``.
        claim: True for the (VID, PID) pairs the vendor's tables apply to.
        usages: names of the vendor's own usages (extended usage → name).
        rows: rows tried before the generic ones, so they override them.
        pid_rows: rows for particular product IDs, tried before ``rows``.
        suppress: variables whose generic rows misread this vendor's devices.
        fix_descriptor: repairs known descriptor bugs, guarded by product ID.
        fix_values: cross-variable corrections applied after mapping.
    """

    name: str
    claim: Callable[[int, int], bool] = _claims_nothing
    usages: Mapping[int, str] = field(default_factory=dict)
    rows: tuple[Row, ...] = ()
    pid_rows: Mapping[int, tuple[Row, ...]] = field(default_factory=dict)
    suppress: frozenset[str] = frozenset()
    fix_descriptor: DescriptorFix | None = None
    fix_values: ValuesFix | None = None

    @cached_property
    def names(self) -> Mapping[int, str]:
        """The generic usage names extended by the vendor's."""
        return MappingProxyType({**USAGE_NAMES, **self.usages})

    def table(self, pid: int) -> tuple[Row, ...]:
        """Every row that applies to a product, most specific first.

        Args:
            pid: the USB product ID.

        Returns:
            The product's rows, then the vendor's, then the generic rows minus
            the variables the vendor suppresses.
        """
        generic = tuple(
            row
            for row in GENERIC_TABLE
            if not (isinstance(row, HidVar) and row.var in self.suppress)
        )
        return self.pid_rows.get(pid, ()) + self.rows + generic

    def fixed(self, descriptor: ReportDescriptor, pid: int) -> ReportDescriptor:
        """The descriptor with this vendor's repairs for ``pid`` applied."""
        return descriptor if self.fix_descriptor is None else self.fix_descriptor(descriptor, pid)


GENERIC: Final = Vendor("generic")
"""The vendor of devices no vendor module claims: the generic table alone."""


# --- converters ------------------------------------------------------------

# Kelvin are told from Celsius by range (protocols.md 6.3): 273..373 can only be
# Kelvin for a device that works, anything else is already Celsius.
_KELVIN_RANGE: Final = (273.0, 373.0)
_ZERO_CELSIUS_K: Final = 273.15
# Countdown timers are 16- or 32-bit; Logical -1 read as unsigned is 0xffff or
# more, and means "no countdown" just as -1 does (Legrand, Minuteman).
_UNSIGNED_MINUS_ONE: Final = 0xFFFF


def kelvin_to_celsius(value: float) -> float:
    """Degrees Celsius from a HID temperature, which firmware sends in K or in °C."""
    if _KELVIN_RANGE[0] <= value <= _KELVIN_RANGE[1]:
        return round(value - _ZERO_CELSIUS_K, 2)
    return value


def hid_date(value: float) -> str | None:
    """A HID packed date, ``(year - 1980) * 512 + month * 32 + day``, as ``YYYY/MM/DD``.

    Returns:
        The date, or None for 0 (never set) and for impossible months or days.
    """
    packed = int(value)
    year, month, day = 1980 + (packed >> 9), (packed >> 5) & 0x0F, packed & 0x1F
    if packed <= 0 or not 1 <= month <= 12 or day == 0:
        return None
    return f"{year:04d}/{month:02d}/{day:02d}"


def idle_timer(value: float) -> float:
    """A countdown timer, with -1 read as unsigned turned back into -1 (no countdown)."""
    return -1.0 if value >= _UNSIGNED_MINUS_ONE else value


def lookup(table: Mapping[int, str]) -> Convert:
    """A converter from an enumerated code to its text; unknown codes give no reading.

    Args:
        table: code → text.

    Returns:
        The converter.
    """

    def convert(value: float) -> Value | None:
        return table.get(int(value)) if value.is_integer() else None

    return convert


def scaled(factor: float) -> Convert:
    """A converter multiplying by a fixed factor (vendor scale quirks).

    Args:
        factor: the multiplier.

    Returns:
        The converter.
    """

    def convert(value: float) -> Value | None:
        # Rounded so that 5990 x 0.01 prints as 59.9, not 59.900000000000006.
        return round(value * factor, 6)

    return convert


# Power Device Class 1.0 §4.1 AudibleAlarmControl and §4.1 Test, in NUT's words.
BEEPER: Final[Mapping[int, str]] = {1: "disabled", 2: "enabled", 3: "muted"}
TEST_RESULT: Final[Mapping[int, str]] = {
    1: "Done and passed",
    2: "Done and warning",
    3: "Done and error",
    4: "Aborted",
    5: "In progress",
    6: "No test initiated",
    7: "Test scheduled",
}

# NUT's defaults for the delay written by load.off.delay / load.on.delay.
DEFAULT_OFF_DELAY_S: Final = 20.0
DEFAULT_ON_DELAY_S: Final = 30.0


# --- the generic table ------------------------------------------------------

_PS = "UPS.PowerSummary"


def _status(usage: str) -> tuple[str, ...]:
    # Firmware puts the same status usage in up to four places: the spec's
    # PresentStatus, flat under PowerSummary (APC Back-UPS 8-bit copies, Liebert
    # GXT5), a top-level copy (APC, Powercom) and under the battery (Tripp Lite).
    return (
        f"{_PS}.PresentStatus.{usage}",
        f"{_PS}.{usage}",
        f"UPS.PresentStatus.{usage}",
        f"UPS.BatterySystem.Battery.PresentStatus.{usage}",
    )


# Paths shared by variable and command rows; vendor rows extend them.
TEST_PATHS: Final = (
    "UPS.Battery.Test",
    "UPS.BatterySystem.Battery.Test",
    "UPS.BatterySystem.Test",
    "UPS.Output.Test",
    f"{_PS}.Test",
)
BEEPER_PATHS: Final = (f"{_PS}.AudibleAlarmControl", "UPS.AudibleAlarmControl")
SHUTDOWN_PATHS: Final = (
    f"{_PS}.DelayBeforeShutdown",
    "UPS.Output.DelayBeforeShutdown",
    "UPS.OutletSystem.Outlet.DelayBeforeShutdown",
)
STARTUP_PATHS: Final = (
    f"{_PS}.DelayBeforeStartup",
    "UPS.Output.DelayBeforeStartup",
    "UPS.OutletSystem.Outlet.DelayBeforeStartup",
)
REBOOT_PATHS: Final = (
    f"{_PS}.DelayBeforeReboot",
    "UPS.Output.DelayBeforeReboot",
    "UPS.OutletSystem.Outlet.DelayBeforeReboot",
)

# The Power Device Class core (protocols.md 6.3), with the collection layouts
# seen in real descriptors as alternatives: the spec's UPS.Input/UPS.Output,
# Eaton/MGE's PowerConverter.Input.[1] and Flow.[n], and the Tripp-Lite-style
# PowerConverter/Flow/OutletSystem skeleton (Tripp Lite, Legrand, Minuteman).
GENERIC_TABLE: Final[tuple[Row, ...]] = (
    # Battery
    HidVar(
        "battery.charge",
        (
            f"{_PS}.RemainingCapacity",
            "UPS.Battery.RemainingCapacity",
            "UPS.BatterySystem.Battery.RemainingCapacity",
        ),
    ),
    HidVar("battery.charge.low", f"{_PS}.RemainingCapacityLimit"),
    HidVar("battery.charge.warning", f"{_PS}.WarningCapacityLimit"),
    HidVar(
        "battery.runtime",
        (
            f"{_PS}.RunTimeToEmpty",
            "UPS.Battery.RunTimeToEmpty",
            "UPS.BatterySystem.Battery.RunTimeToEmpty",
        ),
    ),
    HidVar("battery.runtime.low", (f"{_PS}.RemainingTimeLimit", "UPS.Battery.RemainingTimeLimit")),
    HidVar(
        "battery.voltage",
        (
            "UPS.Battery.Voltage",
            "UPS.BatterySystem.Battery.Voltage",
            "UPS.BatterySystem.Voltage",
            f"{_PS}.Voltage",
        ),
    ),
    HidVar(
        "battery.voltage.nominal",
        (
            "UPS.Battery.ConfigVoltage",
            "UPS.BatterySystem.Battery.ConfigVoltage",
            "UPS.BatterySystem.ConfigVoltage",
            f"{_PS}.ConfigVoltage",
        ),
        poll=Poll.STATIC,
    ),
    HidVar(
        "battery.temperature",
        (
            "UPS.Battery.Temperature",
            "UPS.BatterySystem.Battery.Temperature",
            "UPS.BatterySystem.Temperature",
        ),
        kelvin_to_celsius,
    ),
    HidVar(
        "battery.mfr.date",
        ("UPS.Battery.ManufacturerDate", "UPS.BatterySystem.Battery.ManufacturerDate"),
        hid_date,
        Poll.STATIC,
    ),
    # Input
    HidVar(
        "input.voltage",
        (
            "UPS.Input.Voltage",
            "UPS.PowerConverter.Input.[1].Voltage",
            "UPS.PowerConverter.Input.Voltage",
            f"{_PS}.Input.Voltage",
        ),
    ),
    HidVar(
        "input.voltage.nominal",
        ("UPS.Input.ConfigVoltage", f"{_PS}.Input.ConfigVoltage", "UPS.Flow.[1].ConfigVoltage"),
        poll=Poll.STATIC,
    ),
    HidVar(
        "input.frequency",
        (
            "UPS.Input.Frequency",
            "UPS.PowerConverter.Input.[1].Frequency",
            "UPS.PowerConverter.Input.Frequency",
        ),
    ),
    HidVar(
        "input.frequency.nominal",
        ("UPS.Input.ConfigFrequency", "UPS.Flow.[1].ConfigFrequency"),
        poll=Poll.STATIC,
    ),
    HidVar("input.current", ("UPS.Input.Current", "UPS.PowerConverter.Input.[1].Current")),
    HidVar(
        "input.transfer.low",
        (
            "UPS.Input.LowVoltageTransfer",
            "UPS.Output.LowVoltageTransfer",
            "UPS.PowerConverter.Output.LowVoltageTransfer",
        ),
    ),
    HidVar(
        "input.transfer.high",
        (
            "UPS.Input.HighVoltageTransfer",
            "UPS.Output.HighVoltageTransfer",
            "UPS.PowerConverter.Output.HighVoltageTransfer",
        ),
    ),
    # Output
    HidVar("output.voltage", ("UPS.Output.Voltage", "UPS.PowerConverter.Output.Voltage")),
    HidVar(
        "output.voltage.nominal",
        ("UPS.Output.ConfigVoltage", "UPS.Flow.[4].ConfigVoltage", "UPS.Flow.ConfigVoltage"),
        poll=Poll.STATIC,
    ),
    HidVar("output.frequency", ("UPS.Output.Frequency", "UPS.PowerConverter.Output.Frequency")),
    HidVar(
        "output.frequency.nominal",
        ("UPS.Output.ConfigFrequency", "UPS.Flow.[4].ConfigFrequency", "UPS.Flow.ConfigFrequency"),
        poll=Poll.STATIC,
    ),
    HidVar("output.current", ("UPS.Output.Current", "UPS.PowerConverter.Output.Current")),
    # UPS
    HidVar(
        "ups.load",
        (
            "UPS.Output.PercentLoad",
            "UPS.PowerConverter.PercentLoad",
            f"{_PS}.PercentLoad",
            "UPS.OutletSystem.Outlet.PercentLoad",
        ),
    ),
    HidVar(
        "ups.realpower",
        (
            "UPS.Output.ActivePower",
            "UPS.PowerConverter.Output.ActivePower",
            "UPS.OutletSystem.Outlet.ActivePower",
        ),
    ),
    HidVar(
        "ups.realpower.nominal",
        (
            "UPS.Output.ConfigActivePower",
            "UPS.PowerConverter.ConfigActivePower",
            "UPS.Flow.[4].ConfigActivePower",
        ),
        poll=Poll.STATIC,
    ),
    HidVar("ups.power", ("UPS.Output.ApparentPower", "UPS.PowerConverter.Output.ApparentPower")),
    HidVar(
        "ups.power.nominal",
        (
            "UPS.Output.ConfigApparentPower",
            "UPS.Flow.[4].ConfigApparentPower",
            "UPS.Flow.ConfigApparentPower",
        ),
        poll=Poll.STATIC,
    ),
    HidVar("ups.temperature", f"{_PS}.Temperature", kelvin_to_celsius),
    HidVar(
        "ups.beeper.status",
        (*BEEPER_PATHS, "UPS.BatterySystem.Battery.AudibleAlarmControl"),
        lookup(BEEPER),
    ),
    HidVar("ups.test.result", TEST_PATHS, lookup(TEST_RESULT)),
    HidVar(
        "ups.mfr.date", ("UPS.ManufacturerDate", f"{_PS}.ManufacturerDate"), hid_date, Poll.STATIC
    ),
    HidVar("ups.timer.shutdown", SHUTDOWN_PATHS, idle_timer, Poll.QUICK),
    HidVar("ups.timer.start", STARTUP_PATHS, idle_timer, Poll.QUICK),
    HidVar("ups.timer.reboot", REBOOT_PATHS, idle_timer, Poll.QUICK),
    # Status (protocols.md 6.3 and 6.4)
    HidFlag(_status("ACPresent"), UpsFlag.OL, when=1),
    HidFlag(_status("ACPresent"), UpsFlag.OB, when=0),
    HidFlag(_status("Discharging"), UpsFlag.DISCHRG),
    HidFlag(_status("Charging"), UpsFlag.CHRG),
    HidFlag(_status("FullyCharged"), UpsFlag.CHRG, clears=True),
    HidFlag(_status("BelowRemainingCapacityLimit"), UpsFlag.LB),
    HidFlag(_status("RemainingTimeLimitExpired"), UpsFlag.LB),
    HidFlag(_status("ShutdownImminent"), UpsFlag.LB),
    HidFlag(_status("NeedReplacement"), UpsFlag.RB, poll=Poll.SLOW),
    HidFlag(_status("BatteryPresent"), UpsFlag.RB, when=0, poll=Poll.SLOW),
    HidFlag(
        (*_status("Overload"), "UPS.Output.Overload", "UPS.PowerConverter.PresentStatus.Overload"),
        UpsFlag.OVER,
        poll=Poll.SLOW,
    ),
    HidFlag(
        (
            "UPS.Output.Boost",
            "UPS.PowerConverter.Input.[1].PresentStatus.Boost",
            "UPS.PowerConverter.PresentStatus.Boost",
            "UPS.PresentStatus.Boost",
        ),
        UpsFlag.BOOST,
        poll=Poll.SLOW,
    ),
    HidFlag(
        (
            "UPS.Output.Buck",
            "UPS.PowerConverter.Input.[1].PresentStatus.Buck",
            "UPS.PowerConverter.PresentStatus.Buck",
            "UPS.PresentStatus.Buck",
        ),
        UpsFlag.TRIM,
        poll=Poll.SLOW,
    ),
    HidFlag(f"{_PS}.PresentStatus.Good", UpsFlag.OFF, when=0, poll=Poll.SLOW),
    # Commands (protocols.md 6.3: Test writes 1 quick, 2 deep, 3 stop)
    HidCommand("test.battery.start.quick", TEST_PATHS, 1),
    HidCommand("test.battery.start.deep", TEST_PATHS, 2),
    HidCommand("test.battery.stop", TEST_PATHS, 3),
    HidCommand("beeper.disable", BEEPER_PATHS, 1),
    HidCommand("beeper.enable", BEEPER_PATHS, 2),
    HidCommand("beeper.mute", BEEPER_PATHS, 3),
    HidCommand("load.off.delay", SHUTDOWN_PATHS, DEFAULT_OFF_DELAY_S),
    HidCommand("load.on.delay", STARTUP_PATHS, DEFAULT_ON_DELAY_S),
    HidCommand("shutdown.stop", SHUTDOWN_PATHS, -1),
    HidCommand("shutdown.reboot", REBOOT_PATHS, 10),
)
"""The generic Power Device Class table every vendor starts from."""


# --- decoding reports ---------------------------------------------------------

_READABLE: Final = (ReportType.INPUT, ReportType.FEATURE)


def _layout(report: Report) -> tuple[tuple[int, int, int], ...]:
    return tuple((f.bit_offset, f.bit_size, f.usage) for f in report.fields)


def readable_reports(
    descriptor: ReportDescriptor, kind: ReportType, report_id: int
) -> tuple[Report, ...]:
    """The reports whose fields a report read as ``kind`` holds.

    A GET_REPORT of one type returns the bytes the device keeps for that report
    ID; NUT reads every ID as Feature, even IDs that declare only Input items.
    So the bytes also serve the other of Input/Feature when the descriptor
    declares no report of ``kind`` for the ID, or one with the same layout
    (Eaton 9PX report 0x03 is the exception that differs).

    Args:
        descriptor: the parsed descriptor.
        kind: the type the report was read as (Input or Feature).
        report_id: its report ID.

    Returns:
        The matching reports, ``kind``'s first; empty if the ID is unknown.
    """
    own = descriptor.report(kind, report_id)
    found = [own] if own is not None else []
    for other_kind in _READABLE:
        other = descriptor.report(other_kind, report_id)
        if other_kind is kind or other is None:
            continue
        if own is None or _layout(own) == _layout(other):
            found.append(other)
    return tuple(found)


def field_value(field: Field, report: bytes) -> float | None:
    """Decode one field in SI units, or None when its value is not a reading.

    HID 1.11 §6.2.2.5 lets a control send a value outside its logical range to
    mean "no data"; firmware also uses such values as sentinels without saying
    so (Liebert GXT5 Temperature 65535 with Logical Maximum 65534). Values that
    vendor firmware sends outside a wrongly declared range are repaired by the
    vendor's ``fix_descriptor`` before decoding.

    Args:
        field: the field.
        report: the report bytes, report ID first when the field has one.

    Returns:
        The value after logical → physical → unit-exponent scaling, or None.

    Raises:
        ReportError: the report does not hold the field.
    """
    logical = logical_value(field, report)
    if not field.logical_minimum <= logical <= field.logical_maximum:
        return None
    return scale_units(field, physical_value(field, logical))


def decode_reports(
    descriptor: ReportDescriptor, reports: Mapping[tuple[ReportType, int], bytes]
) -> dict[Field, float]:
    """Decode every field the given reports hold.

    Args:
        descriptor: the descriptor the reports follow (after vendor fixes).
        reports: (type read as, report ID) → bytes, report ID first when the
            descriptor uses IDs.

    Returns:
        Field → value in SI units, for every field holding a reading.

    Raises:
        ReportError: a report is shorter than its declared fields.
    """
    values: dict[Field, float] = {}
    for (kind, report_id), data in reports.items():
        for report in readable_reports(descriptor, kind, report_id):
            for f in report.fields:
                value = field_value(f, data)
                if value is not None:
                    values.setdefault(f, value)
    return values


# --- mapping ---------------------------------------------------------------------


class Mapped(NamedTuple):
    """What one set of decoded fields means in NUT's terms.

    Attributes:
        status: the ``ups.status`` flags.
        values: NUT variable → value, only plausible ones.
        estimated: names (``ups.status`` included) that Upsight inferred
            rather than read, e.g. OL assumed when no report says.
        rejected: variables the sanity table refused, with the reason.
    """

    status: Status
    values: dict[str, Value]
    estimated: frozenset[str]
    rejected: dict[str, Rejection]


# Input before Feature: the Input report is what the device pushes on change.
_TYPE_ORDER: Final = {ReportType.INPUT: 0, ReportType.FEATURE: 1, ReportType.OUTPUT: 2}
_WRITABLE: Final = (ReportType.FEATURE, ReportType.OUTPUT)
_FULL_CHARGE: Final = 100.0


class Mapper:
    """Applies one vendor's table to one descriptor; build once, map every poll.

    Args:
        descriptor: the device's descriptor, already through ``vendor.fixed()``.
        vendor: the vendor whose table applies (``vendor_for(vid, pid)``).
        pid: the USB product ID, for per-product rows.
    """

    def __init__(
        self, descriptor: ReportDescriptor, vendor: Vendor = GENERIC, pid: int = 0
    ) -> None:
        self.descriptor = descriptor
        self.vendor = vendor
        self.pid = pid
        self.rows = vendor.table(pid)
        by_path: dict[str, list[Field]] = {}
        for f in descriptor.fields:
            by_path.setdefault(f.path(vendor.names), []).append(f)
        self._by_path = {
            path: tuple(sorted(fields, key=lambda f: _TYPE_ORDER[f.report_type]))
            for path, fields in by_path.items()
        }

    def fields(self, row: Row) -> tuple[Field, ...]:
        """The descriptor's fields a row can read, in order of preference."""
        return tuple(f for path in row.paths for f in self._by_path.get(path, ()))

    def fields_for(self, poll: Poll) -> frozenset[Field]:
        """The fields the variable and flag rows of one poll class read.

        Args:
            poll: the poll class.

        Returns:
            The fields; a driver fetches the reports that hold them.
        """
        return frozenset(
            f
            for row in self.rows
            if isinstance(row, HidVar | HidFlag) and row.poll is poll
            for f in self.fields(row)
        )

    def commands(self) -> dict[str, tuple[Field, float]]:
        """The instant commands this device supports.

        Returns:
            Command name → (writable field, value to write), first row winning.
        """
        found: dict[str, tuple[Field, float]] = {}
        for row in self.rows:
            if isinstance(row, HidCommand) and row.name not in found:
                writable = [f for f in self.fields(row) if f.report_type in _WRITABLE]
                if writable:
                    found[row.name] = (writable[0], row.value)
        return found

    def targets(self, field: Field) -> tuple[str, ...]:
        """What a field feeds: variable names, status flags and ``cmd:`` commands."""
        out: list[str] = []
        for row in self.rows:
            if field not in self.fields(row):
                continue
            if isinstance(row, HidVar):
                target = row.var
            elif isinstance(row, HidFlag):
                target = f"{'!' if row.clears else ''}{row.flag.name}"
            else:
                target = f"cmd:{row.name}"
            if target not in out:
                out.append(target)
        return tuple(out)

    def unmapped(self, values: Mapping[Field, float]) -> dict[str, float]:
        """Decoded fields no row reads, as NUT's explore driver lists them.

        Args:
            values: field → decoded value.

        Returns:
            ``unmapped.<lower-case path>`` → value, first field of a path winning.
        """
        used = {f for row in self.rows for f in self.fields(row)}
        out: dict[str, float] = {}
        for f, value in values.items():
            if f not in used:
                out.setdefault(f"unmapped.{f.path(self.vendor.names).lower()}", value)
        return out

    def _first(self, row: Row, values: Mapping[Field, float]) -> float | None:
        return next((values[f] for f in self.fields(row) if f in values), None)

    def map(self, values: Mapping[Field, float]) -> Mapped:
        """Turn decoded fields into a status and NUT variables.

        Args:
            values: field → decoded value, as ``decode_reports`` returns them.

        Returns:
            The status, the plausible variables, what was estimated and what
            the sanity table rejected.
        """
        mapped: dict[str, Value] = {}
        flags: list[tuple[HidFlag, float]] = []
        for row in self.rows:
            if isinstance(row, HidVar) and row.var not in mapped:
                raw = self._first(row, values)
                value = raw if raw is None or row.convert is None else row.convert(raw)
                if value is not None:
                    mapped[row.var] = value
            elif isinstance(row, HidFlag):
                raw = self._first(row, values)
                if raw is not None:
                    flags.append((row, raw))
        charge = mapped.get("battery.charge")
        status, inferred = status_from(flags, charge if isinstance(charge, float) else None)
        estimated = {"ups.status"} if inferred else set()
        if self.vendor.fix_values is not None:
            estimated |= self.vendor.fix_values(mapped, self.pid)
        kept, rejected = check(mapped, status)
        return Mapped(status, kept, frozenset(estimated), rejected)


def status_from(
    indications: Iterable[tuple[HidFlag, float]], charge: float | None = None
) -> tuple[Status, bool]:
    """The ``ups.status`` flags from the flag rows a device answered (protocols.md 6.4).

    * OL/OB follow ACPresent; any row setting OB wins over OL, since the load
      then runs from the battery whatever the AC flag says (Eaton's battery
      input in use).
    * With no power-state row but other status rows, the UPS is OB if it
      reports discharging and OL otherwise; the status is then an inference.
      With no status row answered at all, the status is empty.
    * CHRG needs a Charging indication and no FullyCharged veto; a device that
      has no FullyCharged usage is charging only while the charge is below
      100 % (or unknown).
    * Every other flag is set when any of its rows is triggered: LB from any of
      BelowRemainingCapacityLimit, RemainingTimeLimitExpired, ShutdownImminent.
    * ``OL DISCHRG`` is left as the device says it. It means calibration on APC
      but a real power loss on CyberPower UT models; telling them apart needs a
      per-device choice (NUT's ``onlinedischarge_*`` options), not a guess here.

    Args:
        indications: (row, decoded value) for every flag row the device answered.
        charge: ``battery.charge`` in %, if known.

    Returns:
        The status, and True when OL/OB was inferred rather than read.
    """
    set_flags = UpsFlag.NONE
    vetoed = UpsFlag.NONE
    answered = UpsFlag.NONE
    veto_answered = UpsFlag.NONE
    for row, value in indications:
        if row.clears:
            veto_answered |= row.flag
            if row.triggered(value):
                vetoed |= row.flag
        else:
            answered |= row.flag
            if row.triggered(value):
                set_flags |= row.flag
    flags = set_flags & ~vetoed
    # Inferring OL/OB needs at least one answered status row: with none, the
    # device told us nothing and claiming "on line" would be invented data.
    inferred = bool(answered) and not (answered & (UpsFlag.OL | UpsFlag.OB))
    if inferred:
        flags |= UpsFlag.OB if UpsFlag.DISCHRG in flags else UpsFlag.OL
    if UpsFlag.OB in flags:
        flags &= ~UpsFlag.OL
    if (
        UpsFlag.CHRG in flags
        and UpsFlag.CHRG not in veto_answered
        and charge is not None
        and charge >= _FULL_CHARGE
    ):
        flags &= ~UpsFlag.CHRG
    return Status(flags), inferred


def map_fields(
    descriptor: ReportDescriptor,
    values: Mapping[Field, float],
    vendor: Vendor = GENERIC,
    pid: int = 0,
) -> Mapped:
    """Map decoded fields to NUT terms (a one-off ``Mapper(...).map(values)``).

    Args:
        descriptor: the descriptor the values were decoded with.
        values: field → decoded value.
        vendor: the vendor whose table applies.
        pid: the USB product ID.

    Returns:
        Status, variables, estimated names and rejections.
    """
    return Mapper(descriptor, vendor, pid).map(values)


def map_reports(
    descriptor: ReportDescriptor,
    reports: Mapping[tuple[ReportType, int], bytes],
    vendor: Vendor = GENERIC,
    pid: int = 0,
    *,
    fix: bool = True,
) -> Mapped:
    """Repair, decode and map in one step: what a poll does with raw reports.

    Args:
        descriptor: the descriptor as read from the device.
        reports: (type read as, report ID) → bytes.
        vendor: the vendor whose table applies.
        pid: the USB product ID.
        fix: apply the vendor's descriptor repairs; False is the opt-out for
            firmware that turns out not to need them.

    Returns:
        Status, variables, estimated names and rejections.

    Raises:
        ReportError: a report is shorter than its declared fields.
    """
    fixed = vendor.fixed(descriptor, pid) if fix else descriptor
    return map_fields(fixed, decode_reports(fixed, reports), vendor, pid)


def with_logical_ranges(
    descriptor: ReportDescriptor, ranges: Mapping[Field, tuple[int, int]]
) -> ReportDescriptor:
    """A copy of the descriptor with some fields' logical ranges replaced.

    Vendor ``fix_descriptor`` functions use it to correct firmware's ranges.

    Args:
        descriptor: the original descriptor.
        ranges: field → (Logical Minimum, Logical Maximum).

    Returns:
        The repaired descriptor; the original when there is nothing to repair.
    """
    if not ranges:
        return descriptor
    new = {
        f: replace(f, logical_minimum=low, logical_maximum=high)
        for f, (low, high) in ranges.items()
    }
    fields = tuple(new.get(f, f) for f in descriptor.fields)
    reports = tuple(
        replace(r, fields=tuple(new.get(f, f) for f in r.fields)) for r in descriptor.reports
    )
    return replace(descriptor, fields=fields, reports=reports)
