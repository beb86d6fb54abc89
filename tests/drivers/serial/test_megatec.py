"""Tests of the Megatec/Q1 parsers, the battery estimate and the command builder."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from upsight.drivers.errors import ProtocolError, UnsupportedCommand
from upsight.drivers.model import Status, UpsFlag
from upsight.drivers.nutdump import parse_dump
from upsight.drivers.serial.megatec import (
    COMMANDS,
    PACKS,
    Battery,
    Dialect,
    ReplyError,
    StatusReply,
    build_command,
    command_result,
    detect_packs,
    parse_info,
    parse_q1,
    parse_qs,
    parse_rating,
    parse_status,
    regulation_flag,
)
from upsight.drivers.variables import parse_value

# protocols.md 1.4, 1.5, 1.6.
DOC_Q1 = b"(226.0 195.0 226.0 014 49.0 27.5 30.0 00001000\r"
DOC_F = b"#220.0 000 024.0 50.0\r"
DOC_I = b"#NOT_A_LIVE_UPS  TESTING    TESTING   \r"
# test-peers.md 2a: the replies nutdrv_qx accepts.
PEER_Q1 = b"(230.0 230.0 230.0 015 50.0 13.6 25.0 00001001\r"
PEER_F = b"#230.0 004 12.00 50.0\r"
PEER_I = b"#ACME            UPS-1000   V1.0      \r"
# The Ippon Back Basic 850 Euro's values (tests/fixtures/ddl) as Q1 and F replies.
IPPON_Q1 = b"(222.0 221.4 221.4 013 50.3 13.6 25.0 00001001\r"
IPPON_F = b"#220.0 003 12.00 50.0\r"
IPPON_DUMP = (
    Path(__file__).parents[2] / "fixtures/ddl/Ippon__Back_Basic_850_Euro__blazer_usb__2.7.4__01.dev"
)

FUZZ = settings(max_examples=300, deadline=timedelta(milliseconds=500))


def q1(bits: str, *, vin: str = "230.0", vout: str = "230.0", battery: str = "13.6") -> bytes:
    """A Q1 reply with the given status bits and voltages."""
    return f"({vin} 230.0 {vout} 015 50.0 {battery} 25.0 {bits}\r".encode("ascii")


# --- Q1 / QS ------------------------------------------------------------------------


def test_the_protocol_reference_sample_parses_field_by_field() -> None:
    reply = parse_q1(DOC_Q1)
    assert reply.status == Status.of(UpsFlag.OL)
    assert dict(reply.values) == {
        "input.voltage": 226.0,
        "input.voltage.fault": 195.0,
        "output.voltage": 226.0,
        "ups.load": 14.0,
        "input.frequency": 49.0,
        "battery.voltage": 27.5,
        "ups.temperature": 30.0,
        "ups.type": "offline / line interactive",
        "ups.beeper.status": "disabled",
    }
    assert reply.estimated == frozenset()


def test_the_test_peer_sample_parses_as_nut_shows_it() -> None:
    reply = parse_q1(PEER_Q1)
    assert str(reply.status) == "OL"
    assert reply.values["input.voltage"] == 230.0
    assert reply.values["ups.load"] == 15.0
    assert reply.values["battery.voltage"] == 13.6
    assert reply.values["ups.temperature"] == 25.0
    assert reply.values["ups.beeper.status"] == "enabled"


def test_the_final_cr_is_optional() -> None:
    assert parse_q1(PEER_Q1[:-1]) == parse_q1(PEER_Q1)


def test_qs_reports_the_fifth_field_as_output_frequency() -> None:
    reply = parse_qs(PEER_Q1)
    assert reply.values["output.frequency"] == 50.0
    assert "input.frequency" not in reply.values
    assert parse_status(PEER_Q1, dialect=Dialect.QS) == reply
    assert Dialect.QS.value == b"QS\r"
    assert Dialect.Q1.value == b"Q1\r"


@pytest.mark.parametrize(
    ("bits", "flags", "ups_type", "beeper", "alarm"),
    [
        ("00000000", UpsFlag.OL, "online", "disabled", None),
        ("10000000", UpsFlag.OB, "online", "disabled", None),
        ("01000000", UpsFlag.OL | UpsFlag.LB, "online", "disabled", None),
        ("00100000", UpsFlag.OL | UpsFlag.BYPASS, "online", "disabled", None),
        ("00010000", UpsFlag.OL | UpsFlag.ALARM, "online", "disabled", "UPS failed"),
        ("00001000", UpsFlag.OL, "offline / line interactive", "disabled", None),
        ("00000100", UpsFlag.OL | UpsFlag.CAL, "online", "disabled", None),
        (
            "00000010",
            UpsFlag.OL | UpsFlag.FSD | UpsFlag.ALARM,
            "online",
            "disabled",
            "Shutdown imminent",
        ),
        ("00000001", UpsFlag.OL, "online", "enabled", None),
        # test-peers.md 2a: OB LB on a line-interactive unit with the beeper on.
        ("11001001", UpsFlag.OB | UpsFlag.LB, "offline / line interactive", "enabled", None),
    ],
)
def test_each_status_bit_maps_to_its_nut_meaning(
    bits: str, flags: UpsFlag, ups_type: str, beeper: str, alarm: str | None
) -> None:
    reply = parse_q1(q1(bits))
    assert reply.status.flags == flags
    assert reply.values["ups.type"] == ups_type
    assert reply.values["ups.beeper.status"] == beeper
    assert reply.values.get("ups.alarm") == alarm


def test_b7_is_the_first_status_character() -> None:
    assert UpsFlag.OB in parse_q1(q1("10000000")).status
    assert UpsFlag.OB not in parse_q1(q1("00000001")).status


def test_two_alarms_are_both_reported() -> None:
    reply = parse_q1(q1("00010010"))
    assert reply.values["ups.alarm"] == "UPS failed; Shutdown imminent"


def test_ignore_sab_drops_the_shutdown_active_bit() -> None:
    reply = parse_q1(q1("00000010"), ignore_sab=True)
    assert reply.status.flags == UpsFlag.OL
    assert "ups.alarm" not in reply.values


@pytest.mark.parametrize(
    ("vout", "flag"),
    [
        (99.9, UpsFlag.NONE),  # below 0.5 x input: implausible, bit ignored
        (100.0, UpsFlag.TRIM),
        (189.9, UpsFlag.TRIM),
        (190.0, UpsFlag.BYPASS),  # 0.95 x 200
        (209.9, UpsFlag.BYPASS),
        (210.0, UpsFlag.BOOST),  # 1.05 x 200
        (299.9, UpsFlag.BOOST),
        (300.0, UpsFlag.NONE),  # 1.5 x 200 and above: implausible
    ],
)
def test_bypass_boost_buck_is_decided_by_the_voltage_ratio(vout: float, flag: UpsFlag) -> None:
    assert regulation_flag(200.0, vout) == flag
    reply = parse_q1(q1("00100000", vin="200.0", vout=f"{vout:05.1f}"))
    assert reply.status.flags == UpsFlag.OL | flag


def test_regulation_is_ignored_without_both_voltages() -> None:
    assert regulation_flag(None, 230.0) == UpsFlag.NONE
    assert regulation_flag(230.0, None) == UpsFlag.NONE
    assert regulation_flag(0.0, 230.0) == UpsFlag.NONE
    assert parse_q1(q1("00100000", vin="---.-")).status.flags == UpsFlag.OL


def test_non_numeric_fields_are_absent_not_zero() -> None:
    reply = parse_q1(b"(---.- 230.0 230.0 015 --.- 13.6 --.- 00001001\r")
    assert "input.voltage" not in reply.values
    assert "input.frequency" not in reply.values
    assert "ups.temperature" not in reply.values
    assert reply.values["output.voltage"] == 230.0
    assert reply.values["battery.voltage"] == 13.6


def test_a_negative_temperature_is_a_number() -> None:
    reply = parse_q1(b"(230.0 230.0 230.0 015 50.0 13.6 -5.0 00001001\r")
    assert reply.values["ups.temperature"] == -5.0


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (b"", "expected 47 bytes including CR, got 0"),
        (b"(230.0 230.0\r", "expected 47 bytes including CR, got 13"),
        (PEER_Q1[:-1] + b"0\r", "expected 47 bytes including CR, got 48"),
        (b"#" + PEER_Q1[1:], "expected start byte b'(', got b'#'"),
        (PEER_Q1.replace(b"0 230.0 230.0", b"0_230.0 230.0", 1), "expected a space at column 6"),
        (PEER_Q1.replace(b"25.0 ", b"25.0_"), "expected a space at column 37"),
        (q1("0000100x"), "status must be 8 characters of 0 and 1, got '0000100x'"),
        (q1("0000 001"), "status must be 8 characters of 0 and 1"),
    ],
)
def test_malformed_replies_are_rejected_with_the_reason_and_the_reply(
    reply: bytes, reason: str
) -> None:
    with pytest.raises(ReplyError) as caught:
        parse_q1(reply)
    assert isinstance(caught.value, ProtocolError)
    assert caught.value.command == "Q1"
    assert reason in caught.value.reason
    assert caught.value.reply == reply
    assert repr(reply[:20])[:-1] in str(caught.value)


def test_long_garbage_is_shown_truncated() -> None:
    reply = b"x" * 500
    with pytest.raises(ReplyError) as caught:
        parse_q1(reply)
    message = str(caught.value)
    assert "(500 bytes)" in message
    assert len(message) < 200


# --- F / I ----------------------------------------------------------------------------


def test_rating_samples_parse() -> None:
    assert dict(parse_rating(DOC_F)) == {
        "input.voltage.nominal": 220.0,
        "input.current.nominal": 0.0,
        "battery.voltage.nominal": 24.0,
        "input.frequency.nominal": 50.0,
    }
    assert dict(parse_rating(PEER_F)) == {
        "input.voltage.nominal": 230.0,
        "input.current.nominal": 4.0,
        "battery.voltage.nominal": 12.0,
        "input.frequency.nominal": 50.0,
    }


def test_qs_units_rate_their_output() -> None:
    assert dict(parse_rating(PEER_F, dialect=Dialect.QS)) == {
        "output.voltage.nominal": 230.0,
        "output.current.nominal": 4.0,
        "battery.voltage.nominal": 12.0,
        "output.frequency.nominal": 50.0,
    }


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (PEER_F[:-2] + b"\r", "expected 22 bytes including CR, got 21"),
        (b"(" + PEER_F[1:], "expected start byte b'#', got b'('"),
        (PEER_F.replace(b" 004", b"_004"), "expected a space at column 6"),
    ],
)
def test_malformed_ratings_are_rejected(reply: bytes, reason: str) -> None:
    with pytest.raises(ReplyError, match=r"^F reply: ") as caught:
        parse_rating(reply)
    assert reason in caught.value.reason


def test_info_samples_parse_into_identity() -> None:
    peer = parse_info(PEER_I)
    assert (peer.mfr, peer.model, peer.firmware) == ("ACME", "UPS-1000", "V1.0")
    doc = parse_info(DOC_I)
    assert (doc.mfr, doc.model, doc.firmware) == ("NOT_A_LIVE_UPS", "TESTING", "TESTING")
    assert doc.serial is None


def test_an_all_blank_info_reply_has_no_identity() -> None:
    info = parse_info(b"#" + b" " * 37 + b"\r")
    assert (info.mfr, info.model, info.firmware) == (None, None, None)


def test_info_fields_are_fixed_width_not_space_separated() -> None:
    reply = b"#%-15s %-10s %-10s\r" % (b"Power Company", b"Model X 1", b"ver 2.1")
    info = parse_info(reply)
    assert (info.mfr, info.model, info.firmware) == ("Power Company", "Model X 1", "ver 2.1")


def test_a_short_info_reply_is_rejected() -> None:
    with pytest.raises(ReplyError, match="expected 39 bytes including CR, got 6"):
        parse_info(b"#ACME\r")


# --- Battery --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reported_v", "nominal_v", "packs"),
    [
        (13.6, 12.0, 1),  # total, as the Ippon reports it
        (27.5, 24.0, 1),  # protocols.md sample: 27.5 V on a 24 V battery
        (2.27, 12.0, 6),  # per cell: 6 cells make 13.62 V
        (2.25, 24.0, 12),
        (2.25, 240.0, 120),
        (2.10, 36.0, 18),
        (27.0, 12.0, 0.5),  # a 12 V unit reporting twice the voltage
        (8.0, 10.0, 1),  # exactly 0.8 x nominal
        (15.0, 12.0, 1),  # exactly 1.25 x nominal
        (9.5, 12.0, None),  # 1 pack too low, 2 packs too high
        (40.0, 12.0, None),  # even half is too high
        (0.0, 12.0, None),
        (13.6, 0.0, None),
    ],
)
def test_pack_autodetection(reported_v: float, nominal_v: float, packs: float | None) -> None:
    assert detect_packs(reported_v, nominal_v) == packs


def test_the_pack_table_is_nuts_largest_first() -> None:
    assert PACKS == (120, 100, 80, 60, 48, 36, 30, 24, 18, 12, 8, 6, 4, 3, 2, 1, 0.5)


def test_the_ippon_dump_is_reproduced_from_its_replies() -> None:
    rating = parse_rating(IPPON_F)
    reply = parse_q1(IPPON_Q1)
    battery = Battery.detect(
        float(reply.values["battery.voltage"]), rating["battery.voltage.nominal"]
    )
    assert battery is not None
    full = battery.apply(reply)
    dump = parse_dump(IPPON_DUMP.read_text(encoding="utf-8")).final_state()

    ours = {**full.values, **rating}
    assert len(ours) == 16
    for var, value in ours.items():
        assert parse_value(var, dump[var]) == value, var
    assert str(full.status) == dump["ups.status"]
    # The dump's charge is NUT's guess too; the GUI must be able to say so.
    assert full.estimated == {"battery.charge", "battery.voltage.low", "battery.voltage.high"}


@pytest.mark.parametrize(
    ("total_v", "charge"),
    [(13.6, 100.0), (13.0, 100.0), (12.35, 75.0), (11.7, 50.0), (10.4, 0.0), (9.0, 0.0)],
)
def test_charge_is_linear_between_the_derived_voltages(total_v: float, charge: float) -> None:
    battery = Battery.detect(13.6, 12.0)
    assert battery is not None
    assert (battery.low_v, battery.high_v) == pytest.approx((10.40, 13.00))
    assert battery.charge(total_v) == charge


def test_per_cell_voltage_is_scaled_before_the_estimate() -> None:
    battery = Battery.detect(2.10, 24.0)
    assert battery is not None
    assert battery.packs == 12
    reply = battery.apply(parse_q1(q1("00001001", battery="2.10")))
    assert reply.values["battery.voltage"] == 25.2
    # (25.2 - 20.8) / (26.0 - 20.8) of the range
    assert reply.values["battery.charge"] == 84.6
    assert reply.values["battery.voltage.low"] == 20.8
    assert reply.values["battery.voltage.high"] == 26.0


def test_given_voltages_are_used_and_not_marked_estimated() -> None:
    battery = Battery.detect(13.6, 12.0, low_v=11.0)
    assert battery is not None
    assert (battery.low_v, battery.high_v) == pytest.approx((11.0, 13.0))
    reply = battery.apply(parse_q1(q1("00001001", battery="12.0")))
    assert reply.values["battery.charge"] == 50.0
    assert reply.estimated == {"battery.charge", "battery.voltage.high"}


def test_given_packs_skip_detection() -> None:
    battery = Battery.detect(9.0, 12.0, packs=2)
    assert battery is not None
    assert battery.packs == 2
    assert detect_packs(9.0, 12.0) is None
    assert Battery.detect(9.0, 12.0) is None


@pytest.mark.parametrize(
    "kwargs",
    [{"low_v": 13.0, "high_v": 13.0}, {"low_v": 14.0}, {"high_v": 10.0}, {"packs": 0.0}],
)
def test_impossible_battery_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        Battery.detect(13.6, 12.0, **kwargs)


def test_a_blank_battery_field_gives_no_charge() -> None:
    battery = Battery.detect(13.6, 12.0)
    assert battery is not None
    reply = battery.apply(parse_q1(q1("00001001", battery="--.-")))
    assert "battery.voltage" not in reply.values
    assert "battery.charge" not in reply.values
    assert reply.values["battery.voltage.low"] == 10.4
    assert "battery.charge" not in reply.estimated


# --- Commands ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kwargs", "wire"),
    [
        ("test.battery.start.quick", {}, b"T\r"),
        ("test.battery.start.deep", {}, b"TL\r"),
        ("test.battery.stop", {}, b"CT\r"),
        ("beeper.toggle", {}, b"Q\r"),
        ("shutdown.stop", {}, b"C\r"),
        ("load.on", {}, b"C\r"),
        ("load.off", {}, b"S00R0000\r"),
        # test-peers.md 2a: what upscmd shutdown.return sends with NUT's defaults.
        ("shutdown.return", {}, b"S.5R0003\r"),
        ("shutdown.return", {"offdelay_s": 12}, b"S.2R0003\r"),
        ("shutdown.return", {"offdelay_s": 59}, b"S.9R0003\r"),
        ("shutdown.return", {"offdelay_s": 60}, b"S01R0003\r"),
        ("shutdown.return", {"offdelay_s": 119}, b"S01R0003\r"),
        ("shutdown.return", {"offdelay_s": 600}, b"S10R0003\r"),
        ("shutdown.return", {"ondelay_s": 0}, b"S.5\r"),
        ("shutdown.return", {"ondelay_s": 59}, b"S.5\r"),
        ("shutdown.return", {"ondelay_s": 60}, b"S.5R0001\r"),
        ("shutdown.return", {"ondelay_s": 599940}, b"S.5R9999\r"),
        ("shutdown.stayoff", {}, b"S.5R0000\r"),
        ("shutdown.stayoff", {"offdelay_s": 120, "ondelay_s": 600}, b"S02R0000\r"),
        ("test.battery.start", {"duration_s": 60}, b"T01\r"),
        ("test.battery.start", {"duration_s": 119}, b"T01\r"),
        ("test.battery.start", {"duration_s": 300}, b"T05\r"),
        ("test.battery.start", {"duration_s": 5940}, b"T99\r"),
    ],
)
def test_command_strings(name: str, kwargs: dict[str, int], wire: bytes) -> None:
    assert build_command(name, **kwargs) == wire


def test_every_command_is_one_cr_terminated_ascii_line() -> None:
    assert {
        "test.battery.start",
        "test.battery.start.quick",
        "test.battery.start.deep",
        "test.battery.stop",
        "beeper.toggle",
        "shutdown.return",
        "shutdown.stayoff",
        "shutdown.stop",
        "load.on",
        "load.off",
    } == COMMANDS
    for name in COMMANDS:
        wire = build_command(name, duration_s=600)
        assert wire.endswith(b"\r")
        assert wire.count(b"\r") == 1
        assert wire.isascii()


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("shutdown.return", {"offdelay_s": 11}),
        ("shutdown.return", {"offdelay_s": 601}),
        ("shutdown.stayoff", {"offdelay_s": 0}),
        ("shutdown.return", {"ondelay_s": -1}),
        ("shutdown.return", {"ondelay_s": 599941}),
        ("test.battery.start", {"duration_s": 59}),
        ("test.battery.start", {"duration_s": 5941}),
        ("test.battery.start", {}),
    ],
)
def test_out_of_range_arguments_are_refused(name: str, kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match=r"must be|needs"):
        build_command(name, **kwargs)


def test_unknown_commands_are_unsupported() -> None:
    with pytest.raises(UnsupportedCommand, match=r"beeper\.enable"):
        build_command("beeper.enable")


@pytest.mark.parametrize(("reply", "accepted"), [(b"", True), (b"ACK\r", True), (b"NAK\r", False)])
def test_silence_and_ack_mean_accepted(reply: bytes, accepted: bool) -> None:
    assert command_result(b"T\r", reply) is accepted


@pytest.mark.parametrize("sent", [b"T\r", b"S.5R0003\r", b"CT\r"])
def test_an_echo_means_unsupported(sent: bytes) -> None:
    with pytest.raises(UnsupportedCommand, match="echoed"):
        command_result(sent, sent)


# --- Properties -------------------------------------------------------------------------


def mutations(template: bytes) -> st.SearchStrategy[bytes]:
    """The template with one slice replaced by random bytes: near misses, not noise."""

    @st.composite
    def mutate(draw: st.DrawFn) -> bytes:
        start = draw(st.integers(0, len(template)))
        end = draw(st.integers(start, len(template)))
        return template[:start] + draw(st.binary(max_size=8)) + template[end:]

    return mutate()


ANY_REPLY = st.one_of(st.binary(max_size=120), mutations(PEER_Q1), mutations(DOC_Q1))


@FUZZ
@given(ANY_REPLY, st.sampled_from(Dialect), st.booleans())
def test_status_parsing_only_ever_raises_reply_errors(
    reply: bytes, dialect: Dialect, ignore_sab: bool
) -> None:
    parsed: StatusReply | None = None
    with contextlib.suppress(ReplyError):
        parsed = parse_status(reply, dialect=dialect, ignore_sab=ignore_sab)
    if parsed is None:
        return
    assert len(reply.removesuffix(b"\r")) == 46
    assert (UpsFlag.OL in parsed.status) != (UpsFlag.OB in parsed.status)
    for var, value in parsed.values.items():
        is_text = var in {"ups.type", "ups.beeper.status", "ups.alarm"}
        assert isinstance(value, str) == is_text, var


@FUZZ
@given(st.one_of(st.binary(max_size=60), mutations(PEER_F), mutations(PEER_I)))
def test_rating_and_info_parsing_only_ever_raise_reply_errors(reply: bytes) -> None:
    for parse in (parse_rating, parse_info):
        with contextlib.suppress(ReplyError):
            parse(reply)


@FUZZ
@given(st.binary(max_size=20), st.binary(max_size=20))
def test_command_results_are_a_bool_or_unsupported(sent: bytes, reply: bytes) -> None:
    try:
        accepted = command_result(sent, reply)
    except UnsupportedCommand:
        assert reply.strip() == sent.strip() != b""
    else:
        assert accepted == (reply.strip() in (b"", b"ACK"))


@FUZZ
@given(
    st.floats(0.01, 500.0, allow_nan=False),
    st.sampled_from([6.0, 12.0, 24.0, 36.0, 48.0, 96.0, 192.0, 240.0]),
)
def test_detected_packs_put_the_total_near_nominal(reported_v: float, nominal_v: float) -> None:
    packs = detect_packs(reported_v, nominal_v)
    if packs is None:
        assert all(not 0.8 * nominal_v <= p * reported_v <= 1.25 * nominal_v for p in PACKS)
    else:
        assert 0.8 * nominal_v <= packs * reported_v <= 1.25 * nominal_v
        battery = Battery.detect(reported_v, nominal_v)
        assert battery is not None
        assert 0.0 <= battery.charge(packs * reported_v) <= 100.0
