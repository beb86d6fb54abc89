"""``upsight nut-server``: add users of the NUT server, and show how it is set up."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from upsight.agent import config as config_file
from upsight.agent.nut_server.agent_backend import users_file
from upsight.agent.nut_server.users import ALL_COMMANDS, User, Users, UsersFileError, add_user

if TYPE_CHECKING:
    from upsight.agent.paths import AppPaths


def build_parser() -> argparse.ArgumentParser:
    """The parser of the arguments after ``upsight nut-server``."""
    parser = argparse.ArgumentParser(
        prog="upsight nut-server",
        description="Users of the NUT server (upsc, upsmon, Home Assistant) and its settings.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    user = actions.add_parser("user", help="manage users")
    user_actions = user.add_subparsers(dest="user_action", metavar="ACTION", required=True)
    add = user_actions.add_parser(
        "add",
        help="add a user, or replace one of that name; the password is read from stdin "
        "or asked for without echo",
    )
    add.add_argument("name", help="letters, digits and . _ @ -")
    add.add_argument(
        "--upsmon",
        choices=("primary", "secondary"),
        help="let upsmon log in as this user (a secondary only watches; a primary may set FSD)",
    )
    add.add_argument(
        "--actions", metavar="SET,FSD", default="", help="privileged actions: SET, FSD or both"
    )
    add.add_argument(
        "--instcmds",
        metavar="all|a,b",
        default="",
        help="instant commands the user may run: all, or names such as beeper.mute,load.off",
    )
    actions.add_parser(
        "show", help="print the listen address, the users and their rights, and anonymous reads"
    )
    return parser


def _listed(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def read_password(stdin: TextIO) -> str:
    """The new password: one line of a pipe, or typed twice at a terminal without echo.

    Raises:
        UsersFileError: the two typed passwords differ, or nothing was given.
    """
    if not stdin.isatty():
        password = stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Password again: ") != password:
            raise UsersFileError("the passwords differ; nothing changed")
    if not password:
        raise UsersFileError("no password given; nothing changed")
    return password


def rights(user: User) -> str:
    """A user's rights on one line, e.g. ``upsmon secondary; actions SET; instcmds all``."""
    parts = []
    if user.upsmon is not None:
        parts.append(f"upsmon {user.upsmon}")
    if user.actions:
        parts.append("actions " + ",".join(sorted(user.actions)))
    if user.instcmds:
        parts.append("instcmds " + ",".join(sorted(user.instcmds)))
    return "; ".join(parts) or "read only"


def show(paths: AppPaths, config: config_file.Config) -> list[str]:
    """The lines ``upsight nut-server show`` prints; never a password or its hash.

    Raises:
        UsersFileError: the users file is invalid.
    """
    path = users_file(paths, config)
    users = Users.load(path)
    listen = config.nut_listen or "off (set nut_server.listen or run --nut-listen HOST:PORT)"
    lines = [f"listen: {listen}", f"users file: {path}"]
    anonymous = "on (GET and LIST without a login)" if users.anonymous_read else "off"
    lines.append(f"anonymous reads: {anonymous}")
    if config.nut_listen:
        from upsight.agent.nut_server.server import parse_listen

        host, _ = parse_listen(config.nut_listen)
        if users.anonymous_read_exposed(host):
            lines.append("warning: anonymous reads are open to the network on this address")
    lines.append("users:" if users.users else "users: none")
    lines += [f"  {name}: {rights(user)}" for name, user in sorted(users.users.items())]
    return lines


def main(argv: Sequence[str], paths: AppPaths, stdin: TextIO | None = None) -> int:
    """Run ``upsight nut-server`` with the arguments after ``nut-server``.

    Returns:
        0, or 2 when the users file or an argument is invalid.
    """
    args = build_parser().parse_args(argv)
    loaded = config_file.load(paths.config_file)
    try:
        if args.action == "show":
            print("\n".join(show(paths, loaded.config)))
            return 0
        path = users_file(paths, loaded.config)
        instcmds = _listed(args.instcmds)
        if any(item.lower() == ALL_COMMANDS for item in instcmds):
            instcmds = [ALL_COMMANDS]
        add_user(
            path,
            args.name,
            read_password(stdin or sys.stdin),
            upsmon=args.upsmon,
            actions=_listed(args.actions),
            instcmds=instcmds,
        )
    except UsersFileError as exc:
        print(f"upsight nut-server: {exc}", file=sys.stderr)
        return 2
    print(f"user {args.name} saved in {path}; the NUT server uses it from the next connection")
    return 0
