"""Tests of the APC Smart query table, status byte, alert splitting and command plans."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import partial

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from upsight.drivers.errors import ProtocolError, UnsupportedCommand
from upsight.drivers.model import Status, UpsFlag, Value
from upsight.drivers.serial.apcsmart import (
    ALERT_EFFECTS,
    COMMANDS,
    MAX_LINE,
    QUERIES,
    REPEAT_GAP_S,
    STATUS_BITS,
    Alert,
    CommandPlan,
    ReplyError,
    ReplySplitter,
    apply_alert,
    build_command,
    check_handshake,
    command_result,
    decode,
    parse_capabilities,
    parse_status,
)
from upsight.drivers.variables import is_numeric

FUZZ = settings(max_examples=300, deadline=timedelta(milliseconds=500))
ALERT_CHARS = "!$%+#?=*&|"


def test_the_handshake_wants_sm() -> None:
    check_handshake("SM")
    with pytest.raises(ReplyError, match="expected 'SM'"):
        check_handshake("NA")
    with pytest.raises(ReplyError):
        check_handshake("")


# Examples from protocols.md 2.2 (apcupsd's smartprotocol.rst) and test-peers.md 2b.
@pytest.mark.parametrize(
    ("char", "reply", "var", "value"),
    [
        (b"\x01", "SMART-UPS 700", "ups.model", "SMART-UPS 700"),
        (b"\x01", "Smart-UPS 1000", "ups.model", "Smart-UPS 1000"),
        (b"B", "27.87", "battery.voltage", 27.87),
        (b"C", "036.0", "ups.temperature", 36.0),
        (b"F", "60.00", "input.frequency", 60.0),
        (b"L", "118.3", "input.voltage", 118.3),
        (b"M", "118.9", "input.voltage.maximum", 118.9),
        (b"N", "117.0", "input.voltage.minimum", 117.0),
        (b"O", "118.3", "output.voltage", 118.3),
        (b"P", "023.5", "ups.load", 23.5),
        (b"f", "099.0", "battery.charge", 99.0),
        (b"j", "0327:", "battery.runtime", 19620.0),
        (b"j", "0030:", "battery.runtime", 1800.0),
        (b"n", "WS9643050926", "ups.serial", "WS9643050926"),
        (b"n", "000000000000", "ups.serial", None),
        (b"b", "50.9.D", "ups.firmware", "50.9.D"),
        (b"V", "GWD", "ups.firmware", "GWD"),
        (b"g", "024", "battery.voltage.nominal", 24.0),
        (b"G", "O", "input.transfer.reason", "no transfer since power-on"),
        (b"G", "L", "input.transfer.reason", "low input voltage"),
        (b"X", "OK", "ups.test.result", "passed"),
        (b"X", "BT", "ups.test.result", "failed: battery capacity"),
        (b"X", "NO", "ups.test.result", "no result"),
        (b"l", "103", "input.transfer.low", 103.0),
        (b"u", "132", "input.transfer.high", 132.0),
        (b"o", "115", "output.voltage.nominal", 115.0),
        (b"p", "020", "ups.delay.shutdown", 20.0),
        (b"r", "000", "ups.delay.start", 0.0),
        (b"q", "02", "battery.runtime.low", 120.0),
        (b"e", "00", "battery.charge.restart", 0.0),
        (b"e", "01", "battery.charge.restart", 15.0),
        (b"e", "02", "battery.charge.restart", 25.0),
        (b"e", "03", "battery.charge.restart", 90.0),
        (b"e", "04", "battery.charge.restart", None),
        (b"E", "336", "ups.test.interval", 1209600.0),
        (b"E", "168", "ups.test.interval", 604800.0),
        (b"E", "OFF", "ups.test.interval", 0.0),
        (b"E", "ON ", "ups.test.interval", None),
        (b"x", "11/29/96", "battery.date", "11/29/96"),
        (b"m", "11/29/96", "ups.mfr.date", "11/29/96"),
        (b"s", "H", "input.sensitivity", "high"),
        (b"s", "A", "input.sensitivity", "auto"),
        (b"9", "FF", "input.quality", "acceptable"),
        (b"9", "00", "input.quality", "unacceptable"),
        (b"/", "01.25", "output.current", 1.25),
    ],
)
def test_queries_convert_to_nut_names_and_units(
    char: bytes, reply: str, var: str, value: Value | None
) -> None:
    assert QUERIES[char].var == var
    assert QUERIES[char].char == char
    assert decode(char, reply) == value
    if value is not None:
        assert isinstance(value, float) == is_numeric(var)


def test_every_query_is_one_byte_and_not_an_alert() -> None:
    for char in QUERIES:
        assert len(char) == 1
        assert char.decode("latin-1") not in ALERT_CHARS


@pytest.mark.parametrize("char", sorted(QUERIES))
def test_na_means_unsupported_for_every_query(char: bytes) -> None:
    with pytest.raises(UnsupportedCommand, match="NA"):
        decode(char, "NA")


@pytest.mark.parametrize(
    ("char", "reply"), [(b"B", "--.--"), (b"j", ":"), (b"P", ""), (b"C", "nan")]
)
def test_non_numbers_are_absent_not_zero(char: bytes, reply: str) -> None:
    assert decode(char, reply) is None


# --- Status ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "flags"),
    [
        ("08", UpsFlag.OL),
        ("10", UpsFlag.OB),
        ("50", UpsFlag.OB | UpsFlag.LB),
        ("01", UpsFlag.CAL),
        ("0A", UpsFlag.OL | UpsFlag.TRIM),
        ("0C", UpsFlag.OL | UpsFlag.BOOST),
        ("28", UpsFlag.OL | UpsFlag.OVER),
        ("88", UpsFlag.OL | UpsFlag.RB),
        ("d0", UpsFlag.OB | UpsFlag.LB | UpsFlag.RB),
        ("8", UpsFlag.OL),
        ("00", UpsFlag.OFF),
    ],
)
def test_status_byte_bits(reply: str, flags: UpsFlag) -> None:
    assert parse_status(reply) == Status(flags)


def test_status_bits_are_the_documented_table() -> None:
    assert {mask: flag.name for mask, flag in STATUS_BITS.items()} == {
        0x01: "CAL",
        0x02: "TRIM",
        0x04: "BOOST",
        0x08: "OL",
        0x10: "OB",
        0x20: "OVER",
        0x40: "LB",
        0x80: "RB",
    }


def test_sm_means_no_status_yet() -> None:
    assert parse_status("SM") is None


def test_na_means_no_status_at_all() -> None:
    with pytest.raises(UnsupportedCommand):
        parse_status("NA")


@pytest.mark.parametrize("reply", ["", "0x08", "GG", "108", "OK", "8 8"])
def test_a_status_that_is_not_a_hex_byte_is_rejected(reply: str) -> None:
    with pytest.raises(ReplyError, match="expected two hex digits") as caught:
        parse_status(reply)
    assert caught.value.query == b"Q"
    assert repr(reply) in str(caught.value)


# --- Alerts and framing ------------------------------------------------------------------


def test_every_alert_character_is_recognised() -> None:
    assert {a.value for a in Alert} == set(ALERT_CHARS)
    items = ReplySplitter().feed(ALERT_CHARS.encode())
    assert [item.value for item in items if isinstance(item, Alert)] == list(ALERT_CHARS)


@pytest.mark.parametrize(
    ("data", "items"),
    [
        (b"08\r\n", ["08"]),
        (b"!08\r\n$", [Alert.LINE_FAIL, "08", Alert.LINE_RESTORED]),
        # Inside a reply: the alert comes out first, the value stays whole.
        (b"27!.00\r\n", [Alert.LINE_FAIL, "27.00"]),
        (b"0%03#0:\r\n", [Alert.LOW_BATTERY, Alert.REPLACE_BATTERY, "0030:"]),
        (b"08\r%\n", [Alert.LOW_BATTERY, "08"]),
        (b"OK\r\n*", ["OK", Alert.TURNING_OFF]),
        (b"\r\n", [""]),
        (b"NA\r\nSM\r\n", ["NA", "SM"]),
    ],
)
def test_alerts_are_split_from_replies(data: bytes, items: list[object]) -> None:
    assert ReplySplitter().feed(data) == items


def test_a_line_waits_for_its_lf() -> None:
    splitter = ReplySplitter()
    assert splitter.feed(b"27.") == []
    assert splitter.feed(b"00\r") == []
    assert splitter.pending == b"27.00"
    assert splitter.feed(b"\n") == ["27.00"]
    assert splitter.pending == b""


def test_reset_drops_a_partial_line() -> None:
    splitter = ReplySplitter()
    splitter.feed(b"27.")
    splitter.reset()
    assert splitter.feed(b"08\r\n") == ["08"]


def test_verbatim_keeps_alert_characters_in_the_capability_reply() -> None:
    wire = b"3.!$%+?=#|.\x01\x0e\x1aABCQ\r\n"
    assert ReplySplitter().feed(wire, verbatim=True) == ["3.!$%+?=#|.\x01\x0e\x1aABCQ"]
    # Without it the alert list is taken apart.
    assert ReplySplitter().feed(wire)[-1] == "3..\x01\x0e\x1aABCQ"


def test_garbage_without_lf_is_cut_into_bounded_lines() -> None:
    items = ReplySplitter().feed(b"x" * (2 * MAX_LINE + 5))
    assert items == ["x" * MAX_LINE, "x" * MAX_LINE]


def test_non_ascii_bytes_are_replaced_not_fatal() -> None:
    assert ReplySplitter().feed(b"\xff8\r\n") == ["\ufffd8"]


@pytest.mark.parametrize(
    ("before", "alert", "after"),
    [
        (UpsFlag.OL, Alert.LINE_FAIL, UpsFlag.OB),
        (UpsFlag.OB | UpsFlag.LB, Alert.LINE_RESTORED, UpsFlag.OL | UpsFlag.LB),
        (UpsFlag.OB, Alert.LOW_BATTERY, UpsFlag.OB | UpsFlag.LB),
        (UpsFlag.OB | UpsFlag.LB, Alert.LOW_BATTERY_CLEARED, UpsFlag.OB),
        (UpsFlag.OL, Alert.ABNORMAL, UpsFlag.OL | UpsFlag.OVER),
        (UpsFlag.OL | UpsFlag.OVER, Alert.ABNORMAL_CLEARED, UpsFlag.OL),
        (UpsFlag.OL, Alert.REPLACE_BATTERY, UpsFlag.OL | UpsFlag.RB),
        (UpsFlag.OL, Alert.TURNING_OFF, UpsFlag.OL),
        (UpsFlag.OL, Alert.CHECK_ALARMS, UpsFlag.OL),
        (UpsFlag.OL, Alert.EEPROM_CHANGED, UpsFlag.OL),
    ],
)
def test_alerts_change_the_status(before: UpsFlag, alert: Alert, after: UpsFlag) -> None:
    assert apply_alert(Status(before, ("X",)), alert) == Status(after, ("X",))


def test_only_the_ignored_alerts_lack_an_effect() -> None:
    assert set(Alert) - set(ALERT_EFFECTS) == {
        Alert.TURNING_OFF,
        Alert.CHECK_ALARMS,
        Alert.EEPROM_CHANGED,
    }


def test_the_capability_reply_parses() -> None:
    caps = parse_capabilities("3.!$%+?=#|.\x01\x0e\x1a'()*+-789:<>@ABCQ.~")
    assert caps.protocol == "3"
    assert caps.alerts == set("!$%+?=#|")
    assert {b"\x01", b"\x0e", b"Q", b".", b"~"} <= caps.commands
    with pytest.raises(ReplyError, match=r"version\.alerts\.commands"):
        parse_capabilities("3")
    with pytest.raises(UnsupportedCommand):
        parse_capabilities("NA")


# --- Commands -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "repeats"),
    [
        ("test.panel.start", b"A", False),
        ("test.battery.start", b"W", False),
        ("calibrate.start", b"D", False),
        ("calibrate.stop", b"D", False),
        ("test.failure.start", b"U", False),
        ("shutdown.return", b"S", False),
        ("shutdown.stayoff", b"K", True),
        ("load.off", b"Z", True),
        ("load.on", b"\x0e", True),
        ("shutdown.stop", b"\x7f", False),
    ],
)
def test_command_plans(name: str, data: bytes, repeats: bool) -> None:
    plan = build_command(name)
    assert plan.data == data
    assert (plan.repeat_after_s is not None) == repeats
    assert name in COMMANDS


def test_commands_that_need_two_sends_wait_more_than_one_and_a_half_seconds() -> None:
    for name in ("shutdown.stayoff", "load.off", "load.on"):
        gap = build_command(name).repeat_after_s
        assert gap is not None
        assert gap > 1.5
    assert REPEAT_GAP_S > 1.5


@pytest.mark.parametrize(
    ("return_after_s", "data"),
    [(0, b"@000"), (359, b"@000"), (360, b"@001"), (6480, b"@018"), (359999, b"@999")],
)
def test_shutdown_return_counts_six_minute_units(return_after_s: int, data: bytes) -> None:
    plan = build_command("shutdown.return", return_after_s=return_after_s)
    assert plan == CommandPlan(data, char_gap_s=plan.char_gap_s)
    assert plan.char_gap_s > 0
    assert plan.repeat_after_s is None


@pytest.mark.parametrize("return_after_s", [-1, 360000])
def test_shutdown_return_delay_out_of_range(return_after_s: int) -> None:
    with pytest.raises(ValueError, match="return_after_s"):
        build_command("shutdown.return", return_after_s=return_after_s)


def test_unknown_commands_are_unsupported() -> None:
    with pytest.raises(UnsupportedCommand, match=r"beeper\.toggle"):
        build_command("beeper.toggle")


@pytest.mark.parametrize(
    ("reply", "result"),
    [
        ("OK", True),
        (Alert.TURNING_OFF, True),
        ("XX", False),
        ("", False),
        (Alert.LINE_FAIL, None),
        (Alert.EEPROM_CHANGED, None),
    ],
)
def test_command_results(reply: str | Alert, result: bool | None) -> None:
    assert command_result(b"W", reply) is result


def test_na_to_a_command_means_unsupported() -> None:
    with pytest.raises(UnsupportedCommand, match="b'W'"):
        command_result(b"W", "NA")


# --- Properties ----------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=3 * MAX_LINE), st.data())
def test_splitting_does_not_depend_on_how_bytes_are_chunked(
    data: bytes, draw: st.DataObject
) -> None:
    cuts = sorted(draw.draw(st.lists(st.integers(0, len(data)), max_size=10)))
    whole = ReplySplitter()
    expected = whole.feed(data)
    chunked = ReplySplitter()
    items = []
    for start, end in zip([0, *cuts], [*cuts, len(data)], strict=True):
        items += chunked.feed(data[start:end])
    assert items == expected
    assert chunked.pending == whole.pending
    for item in items:
        if isinstance(item, str):
            assert len(item) <= MAX_LINE
            assert not set(item) & set(ALERT_CHARS + "\r\n")


@FUZZ
@given(st.text(max_size=40))
def test_reply_parsers_raise_only_protocol_errors_or_na(reply: str) -> None:
    calls: list[Callable[[], object]] = [
        partial(parse_status, reply),
        partial(parse_capabilities, reply),
    ]
    calls += [partial(decode, char, reply) for char in QUERIES]
    for call in calls:
        try:
            call()
        except ProtocolError:
            pass
        except UnsupportedCommand:
            assert reply.strip() == "NA"


@FUZZ
@given(st.integers(0, 255))
def test_every_status_byte_parses(byte: int) -> None:
    status = parse_status(f"{byte:02x}")
    assert status is not None
    expected = UpsFlag.NONE
    for mask, flag in STATUS_BITS.items():
        if byte & mask:
            expected |= flag
    assert status.flags == (expected or UpsFlag.OFF)
