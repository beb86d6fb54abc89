"""What protection can do to this computer, and the Executor interface that does it.

The engine decides *when*; an Executor decides *how* on this platform. Every
executor works in two steps, ``plan`` then ``run``, so that the guard can
announce exactly what will run (and any fallback) before it runs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol


class ActionKind(enum.Enum):
    """The ``protection.action`` setting: what happens when protection acts."""

    SHUTDOWN = "shutdown"
    HIBERNATE = "hibernate"
    COMMAND = "command"
    NOTIFY = "notify"  # only tell the user to shut down
    NONE = "none"  # monitor only: warn, never act

    @property
    def touches_computer(self) -> bool:
        """Whether an executor has work to do for this kind."""
        return self in {ActionKind.SHUTDOWN, ActionKind.HIBERNATE, ActionKind.COMMAND}


@dataclass(frozen=True)
class Action:
    """One request to an executor.

    Attributes:
        kind: shutdown, hibernate or command.
        argv: the program and its arguments, for a command; passed on verbatim, no shell.
        timeout_s: how long a command may run before its process group is killed.
    """

    kind: ActionKind
    argv: tuple[str, ...] = ()
    timeout_s: float = 120.0


@dataclass(frozen=True)
class Plan:
    """What an executor will do for an action, decided before doing it.

    Attributes:
        action: the action asked for.
        kind: what will really happen (SHUTDOWN when hibernation is not available).
        argv: the program to run; empty when the platform is asked directly (Windows hibernate).
        description: one line for events and logs, e.g. ``systemctl poweroff``.
        note: why the plan differs from the action, if it does.
    """

    action: Action
    kind: ActionKind
    argv: tuple[str, ...]
    description: str
    note: str = ""


@dataclass(frozen=True)
class Outcome:
    """How running a plan went.

    Attributes:
        ok: the action was started (for a command: it ended with exit status 0).
        detail: one line saying what happened, e.g. "exit status 1" or "killed after 120 s".
    """

    ok: bool
    detail: str


class Executor(Protocol):
    """Runs protection actions on one platform."""

    @property
    def dry_run(self) -> bool:
        """True when nothing is really run (a dry run, or tests)."""
        ...

    def plan(self, action: Action) -> Plan:
        """Decide what to run for ``action``; may probe the system but changes nothing."""
        ...

    def run(self, plan: Plan) -> Outcome:
        """Do it. Blocks until a command ends or the platform accepted the request."""
        ...
