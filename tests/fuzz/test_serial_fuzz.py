"""Fuzzing the Megatec Q1 and APC Smart parsers with raw, mutated and near-valid replies."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.seeds import SEEDS
from tests.fuzz.strategies import FUZZ, mutated, run
from tests.fuzz.targets import apc_smart, megatec_q1
from upsight.drivers.serial import apcsmart, megatec

MEGATEC_SEEDS = SEEDS["megatec"]()
APC_SEEDS = SEEDS["apcsmart"]()
NUMBERISH = "0123456789.-+ "


def _column(width: int) -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(st.sampled_from(NUMBERISH), min_size=width, max_size=width),
        st.just("-" * width),
        st.integers(0, 10**width - 1).map(lambda n: str(n).zfill(width)),
    )


@st.composite
def near_q1(draw: st.DrawFn) -> bytes:
    """A Q1 reply whose columns are in place but whose numbers and bits are not."""
    widths = (5, 5, 5, 3, 4, 4, 4)
    fields = [draw(_column(w)) for w in widths]
    fields.append(draw(st.text(st.sampled_from("01"), min_size=8, max_size=8) | _column(8)))
    line = "(" + " ".join(fields)
    rating = "#" + " ".join(draw(_column(w)) for w in (5, 3, 5, 4))
    return (line + "\r" + rating + "\r").encode("ascii")


@st.composite
def apc_stream(draw: st.DrawFn) -> bytes:
    """Smart-mode reply lines with alert characters, CRs and junk interleaved."""
    pieces = st.one_of(
        st.sampled_from(APC_SEEDS),
        st.sampled_from([b"NA", b"SM", b"OK", b"*", b"!", b"$", b"%", b"+", b"?", b"=", b"#"]),
        st.text(st.sampled_from("0123456789.:-+ABCDEFOFN"), max_size=12).map(str.encode),
        st.binary(max_size=8),
        st.just(b"9" * 600),
    )
    return b"".join(draw(p) + draw(st.sampled_from([b"\r\n", b"\n", b""])) for p in [pieces] * 6)


@FUZZ
@given(st.binary(max_size=120))
def test_megatec_random_bytes(data: bytes) -> None:
    run(megatec_q1, data)


@FUZZ
@given(mutated(MEGATEC_SEEDS))
def test_megatec_mutated_replies(data: bytes) -> None:
    run(megatec_q1, data)


@FUZZ
@given(near_q1())
def test_megatec_near_valid_q1_and_f(data: bytes) -> None:
    run(megatec_q1, data)


@FUZZ
@given(st.binary(max_size=600))
def test_apc_random_bytes(data: bytes) -> None:
    run(apc_smart, data)


@FUZZ
@given(apc_stream())
def test_apc_reply_streams(data: bytes) -> None:
    run(apc_smart, data)


def test_apc_number_too_long_for_a_float_is_no_reading() -> None:
    # Finding: 400 digits made float() return inf, which reached the reading as a value.
    line = "9" * 400
    assert apcsmart.decode(b"B", line) is None
    assert apcsmart.decode(b"j", line + ":") is None
    assert apcsmart.decode(b"B", "027.5") == 27.5


def test_megatec_blank_columns_are_absent_not_errors() -> None:
    reply = megatec.parse_q1(b"(---.- ---.- 230.0 015 50.0 ---- 25.0 00001001\r")
    assert "input.voltage" not in reply.values
    assert "battery.voltage" not in reply.values
    assert reply.values["output.voltage"] == 230.0
