"""Simulator scenarios: declarative timelines of mains, load and faults, in simulated seconds.

=================  =================  ==================================================
Scenario           Simulated time     What happens
=================  =================  ==================================================
normal             0 -                on line, battery full, 30 % load, forever
outage             0 - 10             on line, charging; the battery starts 3 min (at
                                      30 % load) above its low-battery point
                   10 - LB            mains lost: on battery, discharging until LB
                   LB - LB+60         still on battery, low battery
                   LB+60 -            mains back: on line, recharging (LB clears once
                                      the charge is above the limit again)
flicker            0 - 10             on line, battery full, 10 % load
                   10 - 11            mains lost for 1 s
                   30 - 32            mains lost for 2 s
                   50 - 53            mains lost for 3 s
                   53 -               the 60 s cycle from 10 s repeats: blips at 70 (1 s),
                                      90 (2 s), 110 (3 s), 130 (1 s), ...
overload           0 - 10             on line, 30 % load
                   10 - 40            load 115 %
                   40 -               30 % load again
replace-battery    0 - 5              on line, 30 % load
                   5 - 10             self-test: CAL, ups.test.result "In progress"
                   10 -               the test failed: RB for good
commloss           0 - 10             on line, answering
                   10 - 30            no answers (read() raises Disconnected)
                   30 -               answering 40 s, then silent 20 s, repeating:
                                      lost again at 70 - 90, 130 - 150, ...
=================  =================  ==================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

IN_PROGRESS: Final = "In progress"
PASSED: Final = "Done and passed"
FAILED: Final = "Done and error: battery capacity too low, replace the battery"

BASE_LOAD_PCT: Final = 30.0


@dataclass(frozen=True)
class Phase:
    """One stretch of a timeline; the defaults describe a quiet UPS on line.

    Attributes:
        duration_s: how long the phase lasts; None for a phase that lasts until
            low battery (with ``until_low_battery``) or forever (the last phase).
        until_low_battery: the phase ends when the UPS first raises LB, or turns
            its output off (after which the battery no longer drains).
        mains: whether mains power is present.
        load_pct: the load the phase sets; None keeps the scenario's base load.
        comm: whether the UPS answers; when False, reads fail.
        self_test: a battery self-test runs (CAL).
        replace_battery: the UPS asks for a new battery (RB).
        test_result: ``ups.test.result`` from the start of the phase, if it changes.
    """

    duration_s: float | None = None
    until_low_battery: bool = False
    mains: bool = True
    load_pct: float | None = None
    comm: bool = True
    self_test: bool = False
    replace_battery: bool = False
    test_result: str | None = None


@dataclass(frozen=True)
class Scenario:
    """A named timeline.

    Attributes:
        name: the SCENARIO in ``sim://SCENARIO``.
        summary: one line for listings.
        phases: the timeline, played in order from simulated time 0.
        repeat_from: after the last phase, play again from this index; None
            when the last phase lasts forever.
        base_load_pct: the load phases get unless they set their own.
        start_s_above_low: start with the battery charged just enough to last this
            long at the base load before low battery; None starts it full.
    """

    name: str
    summary: str
    phases: tuple[Phase, ...]
    repeat_from: int | None = None
    base_load_pct: float = BASE_LOAD_PCT
    start_s_above_low: float | None = None

    def __post_init__(self) -> None:
        # A bad table would make Timeline loop forever or run off its end.
        for index, phase in enumerate(self.phases):
            if phase.duration_s is None and not phase.until_low_battery:
                if index < len(self.phases) - 1 or self.repeat_from is not None:
                    raise ValueError(f"{self.name}: only an unrepeated last phase lasts forever")
            elif phase.duration_s is not None and phase.duration_s <= 0:
                raise ValueError(f"{self.name}: phase {index} must last longer than 0 s")
        last = self.phases[-1]
        if self.repeat_from is None:
            if last.duration_s is not None or last.until_low_battery:
                raise ValueError(f"{self.name}: the last phase ends, so the timeline must repeat")
        elif not 0 <= self.repeat_from < len(self.phases):
            raise ValueError(f"{self.name}: repeat_from is not a phase index")
        elif any(p.until_low_battery for p in self.phases[self.repeat_from :]):
            raise ValueError(f"{self.name}: a repeated phase cannot wait for low battery")


SCENARIOS: Final[Mapping[str, Scenario]] = MappingProxyType(
    {
        s.name: s
        for s in (
            Scenario("normal", "on line, battery full, forever", (Phase(),)),
            Scenario(
                "outage",
                "mains lost at 10 s until 60 s after low battery, then recharging",
                (
                    Phase(10.0),
                    Phase(mains=False, until_low_battery=True),
                    Phase(60.0, mains=False),
                    Phase(),
                ),
                start_s_above_low=180.0,
            ),
            Scenario(
                "flicker",
                "mains blips of 1-3 s at 10, 30 and 50 s, then every 20 s",
                (
                    Phase(10.0),
                    Phase(1.0, mains=False),
                    Phase(19.0),
                    Phase(2.0, mains=False),
                    Phase(18.0),
                    Phase(3.0, mains=False),
                    Phase(17.0),
                ),
                repeat_from=1,
                # A light load (an idling PC) keeps the first blips from draining the
                # battery below 99.5 %, where the charger shows CHRG again.
                base_load_pct=10.0,
            ),
            Scenario(
                "overload",
                "load 115 % from 10 s to 40 s",
                (Phase(10.0), Phase(30.0, load_pct=115.0), Phase()),
            ),
            Scenario(
                "replace-battery",
                "a self-test at 5 s fails and the battery needs replacing",
                (
                    Phase(5.0),
                    Phase(5.0, self_test=True, test_result=IN_PROGRESS),
                    Phase(replace_battery=True, test_result=FAILED),
                ),
            ),
            Scenario(
                "commloss",
                "no answers from 10 s to 30 s, then for 20 s of every 60 s",
                (Phase(10.0), Phase(20.0, comm=False), Phase(40.0)),
                repeat_from=1,
            ),
        )
    }
)


class Timeline:
    """Walks a scenario's phases as simulated time passes."""

    def __init__(self, scenario: Scenario) -> None:
        self._scenario = scenario
        self._index = 0
        self._start_s = 0.0

    @property
    def phase(self) -> Phase:
        """The phase in force."""
        return self._scenario.phases[self._index]

    @property
    def end_s(self) -> float | None:
        """When the current phase ends; None if it waits for low battery or lasts forever."""
        duration = self.phase.duration_s
        return None if duration is None else self._start_s + duration

    def advance(self, now_s: float, low_battery: bool) -> list[Phase]:
        """Move to the phase in force at ``now_s``.

        Args:
            now_s: simulated time; never less than in the previous call.
            low_battery: whether the UPS shows LB (or has cut its output) at ``now_s``.

        Returns:
            The phases entered, in order (usually none).
        """
        entered: list[Phase] = []
        while True:
            end = self.end_s
            if end is not None and end <= now_s:
                self._enter(end)
            elif self.phase.until_low_battery and low_battery:
                self._enter(now_s)
            else:
                return entered
            entered.append(self.phase)

    def _enter(self, start_s: float) -> None:
        self._index += 1
        if self._index == len(self._scenario.phases):
            # Validation guarantees repeat_from is set when the last phase can end.
            self._index = self._scenario.repeat_from or 0
        self._start_s = start_s
