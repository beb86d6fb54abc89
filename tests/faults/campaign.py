"""The fault campaign's scoreboard: injections, recoveries, data lost, false actions per fault."""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class FaultTally:
    """What one kind of fault did over all its injections in this run."""

    fault: str
    injections: int = 0
    recovered: int = 0
    data_lost: int = 0
    false_actions: int = 0


class Campaign:
    """Collects tallies from the fault tests; the summary is printed at the end of the run."""

    def __init__(self) -> None:
        self._tallies: dict[str, FaultTally] = {}
        self._lock = threading.Lock()

    def record(
        self,
        fault: str,
        *,
        injections: int,
        recovered: int,
        data_lost: int = 0,
        false_actions: int = 0,
    ) -> FaultTally:
        """Add one test's counts to ``fault``'s row and return the row so far."""
        with self._lock:
            tally = self._tallies.setdefault(fault, FaultTally(fault))
            tally.injections += injections
            tally.recovered += recovered
            tally.data_lost += data_lost
            tally.false_actions += false_actions
            return FaultTally(**asdict(tally))

    def check(
        self,
        fault: str,
        *,
        injections: int,
        recovered: int,
        data_lost: int = 0,
        false_actions: int = 0,
    ) -> None:
        """Record one test's counts, then fail unless each injection recovered cleanly."""
        self.record(
            fault,
            injections=injections,
            recovered=recovered,
            data_lost=data_lost,
            false_actions=false_actions,
        )
        assert recovered == injections, f"{fault}: {recovered} of {injections} recovered"
        assert data_lost == 0, f"{fault}: {data_lost} lost"
        assert false_actions == 0, f"{fault}: {false_actions} false actions"

    def tallies(self) -> list[FaultTally]:
        with self._lock:
            return [FaultTally(**asdict(t)) for t in self._tallies.values()]

    def table(self) -> str:
        """The summary as a Markdown table, one row per fault in the order first seen."""
        lines = [
            "| fault | injections | recovered | data lost | false actions |",
            "|---|---:|---:|---:|---:|",
        ]
        for t in self.tallies():
            counts = (t.injections, t.recovered, t.data_lost, t.false_actions)
            lines.append(f"| {t.fault} | " + " | ".join(str(n) for n in counts) + " |")
        return "\n".join(lines)

    def write_json(self, path: Path) -> None:
        path.write_text(json.dumps([asdict(t) for t in self.tallies()], indent=2) + "\n")
