"""Crash-safe file replacement: a file is either its old or its new content, never half."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def fsync_dir(directory: Path) -> None:
    """Make a rename or delete in ``directory`` durable (POSIX; a no-op elsewhere)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_file(path: Path, data: bytes, tmp: Path | None = None) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync it, rename it over ``path``.

    Args:
        path: The file to create or replace.
        data: Its new content.
        tmp: The temporary name to use (it must not exist); by default a unique hidden
            name ending in ``.tmp`` in the same directory.
    """
    if tmp is None:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        handle = os.fdopen(fd, "wb")
        tmp = Path(name)
    else:
        handle = open(tmp, "xb")  # noqa: SIM115 - closed below, before the rename
    try:
        with handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


SQLITE_FILES: tuple[str, ...] = ("", "-wal", "-shm")
"""A SQLite database's own suffixes: its WAL and shared memory belong with it."""


def keep_aside(path: Path, stamp: str, suffixes: tuple[str, ...] = ("",)) -> Path:
    """Rename a damaged file to ``<name>.corrupt-<stamp>`` so a fresh one can start.

    Never overwrites an earlier copy (``-2``, ``-3``... are appended). Each of
    ``suffixes`` names a companion file (``path`` plus the suffix) moved along with it
    when it exists; for SQLite pass :data:`SQLITE_FILES`, since a WAL left behind would
    be replayed into the new database.

    Returns:
        The new name of ``path``.
    """
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    serial = 1
    while aside.exists():
        serial += 1
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{serial}")
    for suffix in suffixes:
        source = Path(f"{path}{suffix}")
        if source.exists():
            os.replace(source, Path(f"{aside}{suffix}"))
    return aside
