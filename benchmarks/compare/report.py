"""The comparison table: each figure for Upsight and both NUT set-ups, ratios and targets."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """One figure for the three stacks; ``target`` is the largest Upsight / NUT-default ratio met.

    For the network server both NUT columns hold the same upsd.
    """

    metric: str
    unit: str
    upsight: float
    nut_default: float
    nut_fastest: float
    command: str
    target: float | None = None
    missed: int = 0  # Upsight trials with no notice at all

    def ratio(self, nut: float) -> float:
        return self.upsight / nut if nut else math.nan

    def verdict(self) -> str:
        if self.target is None:
            return "reported"
        # A notice that never came has no latency: the target is not met whatever the rest say.
        met = self.ratio(self.nut_default) <= self.target and not self.missed
        missed = f", Upsight silent in {self.missed} trials" if self.missed else ""
        return f"{'met' if met else 'MISSED'} (<= {self.target:g}x NUT default{missed})"


HEADER = ("Metric", "Upsight", "NUT default", "NUT fastest", "U/default", "U/fastest", "Target")


def _cells(row: Row) -> tuple[str, ...]:
    return (
        row.metric,
        f"{row.upsight:.3g} {row.unit}",
        f"{row.nut_default:.3g} {row.unit}",
        f"{row.nut_fastest:.3g} {row.unit}",
        f"{row.ratio(row.nut_default):.2f}",
        f"{row.ratio(row.nut_fastest):.2f}",
        row.verdict(),
    )


def markdown(rows: Sequence[Row]) -> str:
    """A Markdown table, with the command that reproduces each row."""
    lines = [
        "| " + " | ".join((*HEADER, "Reproduce")) + " |",
        "|" + "---|" * (len(HEADER) + 1),
    ]
    lines += ["| " + " | ".join((*_cells(r), f"`{r.command}`")) + " |" for r in rows]
    return "\n".join(lines)


def plain(rows: Sequence[Row]) -> str:
    """A fixed-width table for the terminal, the commands listed after it."""
    table = [HEADER, *(_cells(r) for r in rows)]
    widths = [max(len(cells[i]) for cells in table) for i in range(len(HEADER))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
        for cells in table
    ]
    lines.append("")
    lines += [f"{r.metric}: {r.command}" for r in rows]
    return "\n".join(lines)
