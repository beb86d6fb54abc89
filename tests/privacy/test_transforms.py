"""The upload transforms: rounding, coarsening of versions and locales, pseudonyms, scrubbing."""

from __future__ import annotations

import hashlib
import hmac
import json
import math

import pytest

from upsight.agent.privacy import transforms
from upsight.agent.privacy.transforms import (
    OTHER,
    aggregate_15min,
    daily_count,
    enum_count,
    language_tag,
    major_minor,
    numbers_only,
    pseudonym,
    round_to_step,
    scrub_stack,
    sum_15min,
    utc_events,
    utc_offset_minutes,
)

SECRET = bytes(range(32))


@pytest.mark.parametrize(
    ("value", "step", "expected"),
    [
        (87.4, 1, 87),
        (87.5, 1, 88),
        (86.5, 1, 87),  # halves go up, not to the even neighbour
        (-0.5, 1, -1),  # and away from zero below it
        (1312, 30, 1320),
        (1305, 30, 1320),
        (1304.9, 30, 1290),
        (13.65, 0.1, 13.7),  # the binary float is just below 13.65; the decimal text decides
        (13.64, 0.1, 13.6),
        (12.05, 0.1, 12.1),
        (51.55, 0.1, 51.6),
        (-33.85, 0.1, -33.9),
        (0.0, 0.1, 0.0),
    ],
)
def test_round_to_step(value: float, step: float, expected: float) -> None:
    assert round_to_step(value, step) == expected


def test_whole_steps_give_ints_and_fractional_steps_give_exact_floats() -> None:
    assert type(round_to_step(87.4, 1.0)) is int
    assert json.dumps(round_to_step(13.65, 0.1)) == "13.7"
    assert json.dumps(round_to_step(0.30000000000000004, 0.1)) == "0.3"


def test_a_tiny_negative_value_rounds_to_plain_zero() -> None:
    assert json.dumps(round_to_step(-0.04, 0.1)) == "0.0"
    assert json.dumps(round_to_step(-0.4, 1)) == "0"


@pytest.mark.parametrize(("value", "step"), [(math.nan, 1), (math.inf, 1), (1.0, 0), (1.0, -1)])
def test_rounding_refuses_non_finite_values_and_non_positive_steps(
    value: float, step: float
) -> None:
    with pytest.raises(ValueError, match="round"):
        round_to_step(value, step)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("6.1.0-18-amd64", "6.1"),
        ("10.0.22631", "10.0"),
        ("14", "14.0"),
        ("Darwin 23.4.0", "23.4"),
        ("5.15.0-1051-azure", "5.15"),
        ("007.02", "7.2"),
        ("3.x", "3.0"),
        ("v2.6.32.el6", "2.6"),
        ("", None),
        ("unknown", None),
    ],
)
def test_major_minor(raw: str, expected: str | None) -> None:
    assert major_minor(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("en_US.UTF-8", "en-US"),
        ("zh_CN.UTF-8", "zh-CN"),
        ("de_DE@euro", "de-DE"),
        ("sr_RS@latin", "sr-Latn-RS"),
        ("uz_UZ.UTF-8@cyrillic", "uz-Cyrl-UZ"),
        ("es_419", "es-419"),
        ("fr", "fr"),
        ("pt-br", "pt-BR"),
        ("zh-Hant-TW", "zh-Hant-TW"),
        ("C", "und"),
        ("C.UTF-8", "und"),
        ("POSIX", "und"),
        ("English_United States.1252", None),
        ("", None),
    ],
)
def test_language_tag_from_posix_locales(raw: str, expected: str | None) -> None:
    assert language_tag(raw) == expected


@pytest.mark.parametrize(
    ("offset_s", "minutes"),
    [(0, 0), (3600, 60), (-18000, -300), (20700, 345), (-9000, -150), (50400, 840), (89, 1)],
)
def test_utc_offset_minutes(offset_s: int, minutes: int) -> None:
    assert utc_offset_minutes(offset_s) == minutes


def test_half_a_minute_of_offset_rounds_away_from_zero() -> None:
    assert utc_offset_minutes(-29) == 0
    assert utc_offset_minutes(-30) == -1
    assert utc_offset_minutes(30) == 1


def test_pseudonym_is_hmac_sha256_of_the_value_keyed_by_the_install_secret() -> None:
    expected = hmac.new(SECRET, b"QB0540131574", hashlib.sha256).hexdigest()
    assert pseudonym(SECRET, "QB0540131574") == expected


def test_pseudonym_is_keyed_and_never_a_plain_hash() -> None:
    serial = "QB0540131574"
    other = bytes(reversed(SECRET))
    assert pseudonym(SECRET, serial) != pseudonym(other, serial)
    assert pseudonym(SECRET, serial) != hashlib.sha256(serial.encode()).hexdigest()
    assert pseudonym(SECRET, serial) == pseudonym(SECRET, serial)


def test_pseudonym_refuses_a_short_or_empty_key() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        pseudonym(b"", "QB0540131574")
    with pytest.raises(ValueError, match="at least 16 bytes"):
        pseudonym(b"k" * 15, "QB0540131574")
    assert len(pseudonym(b"k" * transforms.MIN_SECRET_BYTES, "x")) == 64


def test_events_get_whole_utc_seconds_oldest_first() -> None:
    events = [("restore", 1_700_000_300.9), ("power-fail", 1_700_000_000.2), ("x", math.nan)]
    assert utc_events(events) == [
        {"kind": "power-fail", "at": 1_700_000_000},
        {"kind": "restore", "at": 1_700_000_300},
    ]


def test_aggregates_are_sorted_and_rounded_with_the_step() -> None:
    buckets = [(1800, 13.44, 13.55, 13.65), (900, 13.1, 13.2, 13.3)]
    assert aggregate_15min(buckets, 0.1) == [
        {"t": 900, "min": 13.1, "avg": 13.2, "max": 13.3},
        {"t": 1800, "min": 13.4, "avg": 13.6, "max": 13.7},
    ]


def test_aggregates_without_a_step_are_sent_as_they_are_and_non_finite_buckets_go() -> None:
    buckets = [(900, 229.25, 230.125, 231.0), (1800, math.nan, 1.0, 2.0)]
    assert aggregate_15min(buckets, None) == [
        {"t": 900, "min": 229.25, "avg": 230.125, "max": 231.0}
    ]


def test_energy_is_summed_per_bucket_in_kwh_to_the_watt_hour() -> None:
    amounts = [(1800, 40.0), (900, 12.3456), (1000, 1.0), (2699, 0.5), (2700, math.inf)]
    assert sum_15min(amounts) == [{"t": 900, "kwh": 0.013}, {"t": 1800, "kwh": 0.041}]


def test_numbers_only_drops_everything_that_is_not_a_finite_number() -> None:
    values: dict[str, object] = {
        "charge_pct": 20,
        "runtime_s": 300.0,
        "script": "/home/alice/shutdown.sh",
        "armed": True,
        "delay_s": math.nan,
        "levels": [1, 2],
    }
    assert numbers_only(values) == {"charge_pct": 20, "runtime_s": 300.0}


def test_daily_count_is_whole() -> None:
    assert daily_count(3) == 3
    assert daily_count(59.9) == 59
    with pytest.raises(ValueError, match="not a count"):
        daily_count(math.inf)


def test_enum_count_leaves_out_codes_that_did_not_occur() -> None:
    assert enum_count({"TransportTimeout": 3, "Disconnected": 0}) == {"TransportTimeout": 3}


def test_scrub_stack_keeps_module_function_and_line_of_known_code_only() -> None:
    frames = [
        ("__main__", "main", 3),
        ("upsight.agent.poller", "run", 120),
        ("requests.adapters", "send", 501),
        ("alice_tools.backup", "nightly", 7),
        ("upsight.drivers.hid.transport_usb", "<lambda>", 88),
        ("/home/alice/x.py", "go", 1),
        ("upsight.agent.service", "bad name!", 9),
    ]
    report = scrub_stack("upsight.drivers.errors.Disconnected", frames, max_bytes=65536)
    assert report == {
        "type": "upsight.drivers.errors.Disconnected",
        "frames": [
            {"module": OTHER, "function": OTHER, "line": 0},
            {"module": "upsight.agent.poller", "function": "run", "line": 120},
            {"module": "requests.adapters", "function": "send", "line": 501},
            {"module": OTHER, "function": OTHER, "line": 0},
            {"module": "upsight.drivers.hid.transport_usb", "function": "<lambda>", "line": 88},
            {"module": OTHER, "function": OTHER, "line": 0},
            {"module": "upsight.agent.service", "function": OTHER, "line": 9},
        ],
        "frames_omitted": 0,
    }
    assert "alice" not in json.dumps(report)


@pytest.mark.parametrize(
    ("exc_type", "shown"),
    [
        ("ValueError", "ValueError"),
        ("json.decoder.JSONDecodeError", "json.decoder.JSONDecodeError"),
        ("alice_tools.Oops", OTHER),
        ("C:\\Users\\alice\\Oops", OTHER),
    ],
)
def test_scrub_stack_names_only_builtin_or_known_exception_types(exc_type: str, shown: str) -> None:
    assert scrub_stack(exc_type, [], max_bytes=1024)["type"] == shown


def test_scrub_stack_drops_the_outermost_frames_to_fit_the_cap() -> None:
    frames = [("upsight.agent.poller", f"step_{i}", i) for i in range(500)]
    full = scrub_stack("RecursionError", frames, max_bytes=1_000_000)
    capped = scrub_stack("RecursionError", frames, max_bytes=4096)
    encoded = json.dumps(capped, separators=(",", ":")).encode()
    assert len(encoded) <= 4096
    kept = len(capped["frames"])
    assert capped["frames_omitted"] == 500 - kept
    assert capped["frames"] == full["frames"][500 - kept :]
    # One more frame would not have fitted.
    larger = {**capped, "frames": full["frames"][499 - kept :], "frames_omitted": 499 - kept}
    assert len(json.dumps(larger, separators=(",", ":")).encode()) > 4096
