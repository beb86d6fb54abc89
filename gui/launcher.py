"""The ``upsight`` command: the desktop app when no command is named, the agent's CLI otherwise."""

from __future__ import annotations

import sys
from collections.abc import Sequence

# Asking for help or the version goes to the CLI, whose help lists every command.
_CLI_FLAGS = frozenset({"-h", "--help", "--version"})


def wants_desktop(argv: Sequence[str]) -> bool:
    """True when ``argv`` names no CLI command, so the desktop app should start."""
    from upsight.agent.cli import command_names

    return not any(arg in _CLI_FLAGS or arg in command_names() for arg in argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``upsight`` command."""
    args = list(sys.argv[1:] if argv is None else argv)
    if wants_desktop(args):
        from upsight.gui.app import main as desktop

        return desktop(args)
    from upsight.agent.cli import main as cli

    return cli(args)


if __name__ == "__main__":
    sys.exit(main())
