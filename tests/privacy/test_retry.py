"""Retry rules: which statuses retry, Retry-After parsing, full-jitter backoff, the rate limit."""

from __future__ import annotations

import random
from email.utils import formatdate

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fakes import FakeClock
from upsight.agent.privacy.retry import (
    MAX_RETRY_AFTER_S,
    Backoff,
    Outcome,
    RateLimiter,
    classify,
    parse_retry_after,
)

NOW = 1_700_000_000.0


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_2xx_is_sent(status: int) -> None:
    assert classify(status) is Outcome.SENT


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_only_the_listed_statuses_are_retried(status: int) -> None:
    assert classify(status) is Outcome.RETRY


def test_401_asks_for_a_new_token() -> None:
    assert classify(401) is Outcome.AUTH


@pytest.mark.parametrize(
    "status",
    # The spec's "never retry" list, every other 4xx, 5xx that mean "never" (501, 505),
    # redirects (never followed) and nonsense.
    [400, 403, 404, 409, 413, 422, 402, 418, 431, 499, 501, 505, 599, 301, 302, 307, 100],
)
def test_everything_else_is_rejected(status: int) -> None:
    assert classify(status) is Outcome.REJECTED


@pytest.mark.parametrize(
    ("header", "delay"),
    [("120", 120.0), (" 7 ", 7.0), ("0", 0.0), ("+30", 30.0), ("-5", 0.0)],
)
def test_retry_after_seconds(header: str, delay: float) -> None:
    assert parse_retry_after(header, NOW) == delay


def test_retry_after_is_capped_at_a_day() -> None:
    assert parse_retry_after("86401", NOW) == MAX_RETRY_AFTER_S
    assert parse_retry_after("9" * 400, NOW) == MAX_RETRY_AFTER_S
    assert parse_retry_after(formatdate(NOW + 5 * 86400, usegmt=True), NOW) == MAX_RETRY_AFTER_S


def test_retry_after_http_date_counts_from_now() -> None:
    assert parse_retry_after(formatdate(NOW + 300, usegmt=True), NOW) == 300.0
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:20 GMT", NOW) == 0.0
    assert parse_retry_after("Tue, 14 Nov 2023 22:18:20 GMT", NOW) == 300.0


def test_retry_after_date_without_zone_is_gmt() -> None:
    assert parse_retry_after("Tue, 14 Nov 2023 22:18:20 -0000", NOW) == 300.0


def test_retry_after_date_in_the_past_means_now() -> None:
    assert parse_retry_after(formatdate(NOW - 60, usegmt=True), NOW) == 0.0


@pytest.mark.parametrize("header", [None, "", "soon", "1.5", "1_000", "12abc", "Tue, 99 Foo"])
def test_unreadable_retry_after_is_none(header: str | None) -> None:
    assert parse_retry_after(header, NOW) is None


def test_backoff_is_full_jitter_doubling_from_5_s_to_30_min() -> None:
    backoff = Backoff(rng=random.Random(7))
    twin = random.Random(7)
    ceilings = [5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0, 640.0, 1280.0, 1800.0, 1800.0]
    for number, ceiling in enumerate(ceilings, start=1):
        assert backoff.ceiling_s == ceiling
        delay = backoff.next_delay()
        assert delay == twin.uniform(0.0, ceiling)
        assert 0.0 <= delay <= ceiling
        assert backoff.failures == number


def test_backoff_reset_starts_again_from_the_base() -> None:
    backoff = Backoff(rng=random.Random(1))
    for _ in range(6):
        backoff.next_delay()
    backoff.reset()
    assert backoff.failures == 0
    assert backoff.ceiling_s == 5.0
    assert backoff.next_delay() <= 5.0


def test_backoff_survives_endless_failure() -> None:
    backoff = Backoff(rng=random.Random(2))
    delays = [backoff.next_delay() for _ in range(5000)]
    assert max(delays) <= 1800.0
    assert backoff.ceiling_s == 1800.0


@given(seed=st.integers(0, 2**32), failures=st.integers(0, 60))
def test_backoff_never_exceeds_its_ceiling(seed: int, failures: int) -> None:
    backoff = Backoff(rng=random.Random(seed))
    for _ in range(failures):
        backoff.next_delay()
    assert 0.0 <= backoff.next_delay() <= min(1800.0, 5.0 * 2.0**failures)


@pytest.mark.parametrize(
    ("base_s", "factor", "cap_s"),
    [(0.0, 2.0, 1800.0), (-1.0, 2.0, 1800.0), (5.0, 0.5, 1800.0), (5.0, 2.0, 1.0)],
)
def test_backoff_rejects_a_curve_that_does_not_grow(
    base_s: float, factor: float, cap_s: float
) -> None:
    with pytest.raises(ValueError, match="backoff"):
        Backoff(base_s=base_s, factor=factor, cap_s=cap_s)


def test_rate_limit_allows_15_per_minute() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock.monotonic)
    for _ in range(15):
        assert limiter.delay() == 0.0
        limiter.record()
    assert limiter.delay() == 60.0
    clock.advance(59.0)
    assert limiter.delay() == pytest.approx(1.0)
    clock.advance(1.0)
    assert limiter.delay() == 0.0


def test_rate_limit_window_slides() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock.monotonic)
    for _ in range(15):
        limiter.record()
        clock.advance(2.0)
    # The first request was 30 s ago; it leaves the window 30 s from now.
    assert limiter.delay() == pytest.approx(30.0)
    clock.advance(30.0)
    assert limiter.delay() == 0.0
    limiter.record()
    assert limiter.delay() == pytest.approx(2.0)


def test_rate_limit_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="rate limit"):
        RateLimiter(max_requests=0)
    with pytest.raises(ValueError, match="rate limit"):
        RateLimiter(window_s=0.0)
