"""GUI tests run offscreen, with a real agent in a private directory."""

from __future__ import annotations

import os

# Qt reads this when the first QGuiApplication is made, which pytest-qt does later.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gui.dumps import ON_LINE, write_dump
from upsight.agent.paths import AppPaths


@pytest.fixture
def paths() -> Iterator[AppPaths]:
    # Short and under /tmp: a Unix socket path must fit in about 100 bytes.
    root = Path(tempfile.mkdtemp(dir="/tmp", prefix="upsight-gui-"))
    yield AppPaths(root / "config", root / "data", root / "run")
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def dump(paths: AppPaths) -> Path:
    """A dummy-ups file of a UPS on line, which tests rewrite to drive a real agent."""
    path = paths.config_dir.parent / "ups.dev"
    write_dump(path, ON_LINE)
    return path
