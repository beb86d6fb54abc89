"""The fuzz watchdog turns a hang into a failure and leaves pytest-timeout's alarm armed."""

from __future__ import annotations

import signal

import pytest

from tests.fuzz.targets import Hang, watchdog


def _spin() -> None:
    with watchdog(0.05):
        while True:
            pass


def test_a_hang_is_interrupted() -> None:
    with pytest.raises(Hang, match=r"no result within 0\.05 s"):
        _spin()


def test_an_outer_alarm_is_rearmed_with_its_remaining_time() -> None:
    previous = signal.signal(signal.SIGALRM, signal.SIG_IGN)
    signal.setitimer(signal.ITIMER_REAL, 60)
    try:
        with watchdog(1):
            pass
        left, _ = signal.getitimer(signal.ITIMER_REAL)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert 50 < left <= 60
