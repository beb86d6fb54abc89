"""Tests of the emulated UPSes: byte-exact replies, and round trips through the parsers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from upsight.drivers.errors import UnsupportedCommand
from upsight.drivers.model import Status, UpsFlag
from upsight.drivers.serial import apcsmart, megatec
from upsight.drivers.serial.apcsmart import Alert, ReplySplitter

from .emulators import (
    REALISTIC_CAPABILITIES,
    ApcSmartEmulator,
    MegatecEmulator,
    MegatecState,
    fixed,
    q1_reply,
)

FUZZ = settings(max_examples=200, deadline=timedelta(milliseconds=500))

# --- Megatec ---------------------------------------------------------------------------------

# test-peers.md 2a, byte for byte.
PEER_REPLIES = {
    b"Q1\r": b"(230.0 230.0 230.0 015 50.0 13.6 25.0 00001001\r",
    b"F\r": b"#230.0 004 12.00 50.0\r",
    b"I\r": b"#ACME            UPS-1000   V1.0      \r",
}


@pytest.mark.parametrize(("command", "reply"), PEER_REPLIES.items())
def test_megatec_default_replies_are_the_test_peer_bytes(command: bytes, reply: bytes) -> None:
    assert MegatecEmulator().handle(command) == reply


def test_megatec_reply_lengths_are_the_ones_nut_checks() -> None:
    emulator = MegatecEmulator()
    assert [len(emulator.handle(c)) for c in (b"Q1\r", b"F\r", b"I\r")] == [47, 22, 39]


def test_ob_lb_sets_the_first_two_bits_and_drops_the_input_voltage() -> None:
    emulator = MegatecEmulator(MegatecState(mains=False, low_battery=True))
    assert emulator.handle(b"Q1") == b"(000.0 230.0 230.0 015 50.0 13.6 25.0 11001001\r"


def test_per_cell_battery_voltage_uses_two_decimals() -> None:
    assert b" 2.27 " in q1_reply(MegatecState(battery_v=2.27))


def test_a_value_too_wide_for_its_field_is_a_test_error() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        q1_reply(MegatecState(load_pct=1000))
    assert fixed(5.0, 5, 1) == "005.0"


@pytest.mark.parametrize("command", [b"QGS\r", b"M\r", b"QS\r", b"D\r", b"QPI\r", b"FW?\r"])
def test_megatec_echoes_unknown_commands_like_real_units(command: bytes) -> None:
    emulator = MegatecEmulator()
    assert emulator.handle(command) == command
    emulator.update(echo_unknown=False)
    assert emulator.handle(command) == b""


@pytest.mark.parametrize(
    ("name", "kwargs", "field", "value"),
    [
        ("test.battery.start.quick", {}, "testing", True),
        ("test.battery.start.deep", {}, "testing", True),
        ("test.battery.start", {"duration_s": 120}, "testing", True),
        ("beeper.toggle", {}, "beeper", False),
        ("shutdown.return", {}, "shutdown_active", True),
        ("shutdown.stayoff", {}, "shutdown_active", True),
        ("load.off", {}, "shutdown_active", True),
    ],
)
def test_megatec_commands_are_accepted_and_act(
    name: str, kwargs: dict[str, int], field: str, value: bool
) -> None:
    emulator = MegatecEmulator()
    sent = megatec.build_command(name, **kwargs)
    assert megatec.command_result(sent, emulator.handle(sent)) is True
    assert getattr(emulator.state, field) is value


def test_megatec_cancel_commands_undo_test_and_shutdown() -> None:
    emulator = MegatecEmulator(MegatecState(testing=True, shutdown_active=True))
    emulator.handle(megatec.build_command("test.battery.stop"))
    still_shutting_down = UpsFlag.OL | UpsFlag.FSD | UpsFlag.ALARM
    assert megatec.parse_q1(emulator.handle(b"Q1")).status.flags == still_shutting_down
    emulator.handle(megatec.build_command("shutdown.stop"))
    reply = megatec.parse_q1(emulator.handle(b"Q1"))
    assert reply.status == Status.of(UpsFlag.OL)
    assert "ups.alarm" not in reply.values


def test_megatec_test_shows_as_cal_and_beeper_toggles() -> None:
    emulator = MegatecEmulator()
    emulator.handle(b"T\r")
    emulator.handle(b"Q\r")
    reply = megatec.parse_q1(emulator.handle(b"Q1\r"))
    assert UpsFlag.CAL in reply.status
    assert reply.values["ups.beeper.status"] == "disabled"


def test_megatec_ack_mode_answers_ack() -> None:
    emulator = MegatecEmulator(MegatecState(ack=True))
    assert emulator.handle(b"T\r") == b"ACK\r"
    assert megatec.command_result(b"T\r", b"ACK\r") is True


def test_a_unit_without_instant_commands_echoes_them_and_they_are_unsupported() -> None:
    emulator = MegatecEmulator(MegatecState(instant_commands=False))
    sent = megatec.build_command("shutdown.return")
    with pytest.raises(UnsupportedCommand):
        megatec.command_result(sent, emulator.handle(sent))
    assert emulator.state.shutdown_active is False


def test_megatec_feed_answers_commands_split_across_reads() -> None:
    emulator = MegatecEmulator()
    assert emulator.feed(b"Q") == b""
    assert emulator.feed(b"1\rF") == PEER_REPLIES[b"Q1\r"]
    assert emulator.feed(b"\rI\r") == PEER_REPLIES[b"F\r"] + PEER_REPLIES[b"I\r"]
    assert emulator.received == [b"Q1", b"F", b"I"]


@pytest.mark.parametrize(
    ("changes", "flags", "charge"),
    [
        ({}, UpsFlag.OL, 100.0),
        ({"mains": False, "battery_v": 11.7}, UpsFlag.OB, 50.0),
        ({"mains": False, "low_battery": True, "battery_v": 10.7}, UpsFlag.OB | UpsFlag.LB, 11.5),
        ({"mains": False, "low_battery": True, "battery_v": 10.0}, UpsFlag.OB | UpsFlag.LB, 0.0),
    ],
)
def test_megatec_round_trip(changes: dict[str, object], flags: UpsFlag, charge: float) -> None:
    emulator = MegatecEmulator()
    emulator.update(**changes)
    rating = megatec.parse_rating(emulator.handle(b"F\r"))
    first = megatec.parse_q1(emulator.handle(b"Q1\r"))
    battery = megatec.Battery.detect(
        float(first.values["battery.voltage"]), rating["battery.voltage.nominal"]
    )
    assert battery is not None
    reply = battery.apply(first)
    assert reply.status.flags == flags
    assert reply.values["battery.charge"] == charge
    assert "battery.charge" in reply.estimated
    assert reply.values["input.voltage"] == (230.0 if emulator.state.mains else 0.0)
    info = megatec.parse_info(emulator.handle(b"I\r"))
    assert (info.mfr, info.model, info.firmware) == ("ACME", "UPS-1000", "V1.0")


def test_per_cell_emulator_round_trip() -> None:
    emulator = MegatecEmulator(MegatecState(battery_v=2.27))
    raw = megatec.parse_q1(emulator.handle(b"Q1\r"))
    battery = megatec.Battery.detect(float(raw.values["battery.voltage"]), 12.0)
    assert battery is not None
    assert battery.packs == 6
    assert battery.apply(raw).values["battery.voltage"] == 13.62


@FUZZ
@given(
    st.builds(
        MegatecState,
        mains=st.booleans(),
        input_v=st.integers(0, 9999).map(lambda n: n / 10),
        output_v=st.integers(0, 9999).map(lambda n: n / 10),
        load_pct=st.integers(0, 999),
        frequency_hz=st.integers(0, 999).map(lambda n: n / 10),
        battery_v=st.one_of(
            st.integers(0, 999).map(lambda n: n / 100), st.integers(100, 999).map(lambda n: n / 10)
        ),
        temperature_c=st.integers(0, 999).map(lambda n: n / 10),
        low_battery=st.booleans(),
        regulating=st.booleans(),
        failed=st.booleans(),
        standby=st.booleans(),
        testing=st.booleans(),
        shutdown_active=st.booleans(),
        beeper=st.booleans(),
    )
)
def test_any_emulated_state_parses_back(state: MegatecState) -> None:
    reply = megatec.parse_q1(q1_reply(state))
    assert reply.values["input.voltage"] == (state.input_v if state.mains else 0.0)
    assert reply.values["output.voltage"] == state.output_v
    assert reply.values["ups.load"] == state.load_pct
    assert reply.values["input.frequency"] == state.frequency_hz
    assert reply.values["battery.voltage"] == state.battery_v
    assert reply.values["ups.temperature"] == state.temperature_c
    assert (UpsFlag.OB in reply.status) is not state.mains
    assert (UpsFlag.LB in reply.status) is state.low_battery
    assert (UpsFlag.CAL in reply.status) is state.testing
    assert (UpsFlag.FSD in reply.status) is state.shutdown_active
    assert ("ups.alarm" in reply.values) is (state.failed or state.shutdown_active)
    assert reply.values["ups.beeper.status"] == ("enabled" if state.beeper else "disabled")


# --- APC Smart ------------------------------------------------------------------------------

# test-peers.md 2b, byte for byte.
APC_PEER_REPLIES = {
    b"Y": b"SM\r\n",
    b"\x01": b"Smart-UPS 1000\r\n",
    b"f": b"100.0\r\n",
    b"L": b"230.0\r\n",
    b"O": b"230.0\r\n",
    b"Q": b"08\r\n",
    b"P": b"015.0\r\n",
    b"B": b"27.00\r\n",
    b"C": b"025.0\r\n",
    b"V": b"GWD\r\n",
    b"b": b"50.9.D\r\n",
    b"n": b"AS0123456789\r\n",
    b"j": b"0030:\r\n",
    b"F": b"50.00\r\n",
    b"a": REALISTIC_CAPABILITIES.encode("latin-1") + b"\r\n",
}


def smart() -> ApcSmartEmulator:
    """An emulator already switched to smart mode."""
    emulator = ApcSmartEmulator()
    assert emulator.handle(b"Y") == b"SM\r\n"
    return emulator


@pytest.mark.parametrize(("command", "reply"), APC_PEER_REPLIES.items())
def test_apc_default_replies_are_the_test_peer_bytes(command: bytes, reply: bytes) -> None:
    assert smart().handle(command) == reply


@pytest.mark.parametrize("command", [b"9", b"\x1a", b"E", b"G", b"K", b"~"])
def test_apc_answers_na_to_everything_else(command: bytes) -> None:
    assert smart().handle(command) == b"NA\r\n"


def test_apc_ignores_commands_until_the_handshake() -> None:
    emulator = ApcSmartEmulator()
    assert emulator.handle(b"Q") == b""
    assert emulator.handle(b"Y") == b"SM\r\n"
    assert emulator.handle(b"Q") == b"08\r\n"
    assert emulator.handle(b"R") == b"BYE\r\n"
    assert emulator.handle(b"Q") == b""
    assert emulator.received == [b"Q", b"Y", b"Q", b"R", b"Q"]


def test_apc_handles_single_bytes_only() -> None:
    with pytest.raises(ValueError, match="single bytes"):
        smart().handle(b"YQ")
    assert smart().feed(b"QB") == b"08\r\n27.00\r\n"


@pytest.mark.parametrize(
    ("changes", "wire"),
    [
        ({}, b"08"),
        ({"mains": False}, b"10"),
        ({"mains": False, "low_battery": True}, b"50"),
        ({"overload": True, "replace_battery": True}, b"A8"),
        ({"status_ready": False}, b"SM"),
    ],
)
def test_apc_status_byte(changes: dict[str, object], wire: bytes) -> None:
    emulator = smart()
    emulator.update(send_alerts=False, **changes)
    assert emulator.handle(b"Q") == wire + b"\r\n"


@pytest.mark.parametrize(
    ("at", "wire"),
    [
        (0, b"!27.00\r\n"),
        (2, b"27!.00\r\n"),
        (6, b"27.00\r!\n"),
        (99, b"27.00\r\n!"),
    ],
)
def test_injected_alerts_land_inside_the_reply_and_are_split_out(at: int, wire: bytes) -> None:
    emulator = smart()
    emulator.inject("!", at=at)
    data = emulator.handle(b"B")
    assert data == wire
    items = ReplySplitter().feed(data)
    assert [i for i in items if isinstance(i, str)] == ["27.00"]
    assert Alert.LINE_FAIL in items
    assert apcsmart.decode(b"B", "27.00") == 27.0


def test_alerts_queued_at_one_offset_keep_their_order() -> None:
    emulator = smart()
    emulator.inject("!", at=1)
    emulator.inject("%", at=1)
    emulator.inject("#", at=3)
    assert emulator.handle(b"Q") == b"0!%8\r#\n"


def test_unsolicited_drains_queued_alerts() -> None:
    emulator = smart()
    emulator.update(mains=False)
    assert emulator.unsolicited() == b"!"
    assert emulator.unsolicited() == b""
    assert emulator.handle(b"Q") == b"10\r\n"


def test_apc_power_cut_round_trip_through_alerts_and_status() -> None:
    emulator = smart()
    splitter = ReplySplitter()
    status = Status.of(UpsFlag.OL)
    seen: list[Status] = []

    def poll() -> None:
        nonlocal status
        for item in splitter.feed(emulator.handle(b"Q")):
            if isinstance(item, Alert):
                status = apcsmart.apply_alert(status, item)
                seen.append(status)
            else:
                parsed = apcsmart.parse_status(item)
                assert parsed is not None
                status = parsed

    poll()
    assert status == Status.of(UpsFlag.OL)
    emulator.update(mains=False)
    poll()
    assert seen[-1] == Status.of(UpsFlag.OB)  # the alert told us before Q did
    assert status == Status.of(UpsFlag.OB)
    emulator.update(low_battery=True, charge_pct=9.0)
    poll()
    assert seen[-1] == Status.of(UpsFlag.OB, UpsFlag.LB)
    assert status == Status.of(UpsFlag.OB, UpsFlag.LB)
    emulator.update(mains=True, low_battery=False)
    poll()
    assert seen[-2:] == [Status.of(UpsFlag.OL, UpsFlag.LB), Status.of(UpsFlag.OL)]
    assert status == Status.of(UpsFlag.OL)


def test_apc_poll_round_trip_like_nuts_apcsmart() -> None:
    # The bytes NUT's apcsmart sent to the test peer (test-peers.md 2b).
    emulator = ApcSmartEmulator()
    emulator.update(mains=False, low_battery=True, charge_pct=9.0, runtime_min=3)
    splitter = ReplySplitter()
    values: dict[str, object] = {}
    alerts: list[Alert] = []
    status: Status | None = None
    for char in b"YVaCPLOfB\x01n/bQ":
        command = bytes([char])
        items = splitter.feed(emulator.handle(command), verbatim=command == b"a")
        alerts += [i for i in items if isinstance(i, Alert)]
        (line,) = [i for i in items if isinstance(i, str)]
        if command == b"Y":
            apcsmart.check_handshake(line)
        elif command == b"a":
            assert apcsmart.parse_capabilities(line).protocol == "3"
        elif command == b"Q":
            status = apcsmart.parse_status(line)
        elif command == b"/":
            with pytest.raises(UnsupportedCommand):
                apcsmart.decode(command, line)
        else:
            values[apcsmart.QUERIES[command].var] = apcsmart.decode(command, line)
    assert alerts == [Alert.LINE_FAIL, Alert.LOW_BATTERY]
    assert status == Status.of(UpsFlag.OB, UpsFlag.LB)
    assert values == {
        "ups.firmware": "50.9.D",
        "ups.temperature": 25.0,
        "ups.load": 15.0,
        "input.voltage": 0.0,
        "output.voltage": 230.0,
        "battery.charge": 9.0,
        "battery.voltage": 27.0,
        "ups.model": "Smart-UPS 1000",
        "ups.serial": "AS0123456789",
    }
    runtime = splitter.feed(emulator.handle(b"j"))
    assert apcsmart.decode(b"j", str(runtime[0])) == 180.0
