"""GUI tests run offscreen, with a real agent in a private directory."""

from __future__ import annotations

import os

# Qt reads this when the first QGuiApplication is made, which pytest-qt does later.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The agents these tests run put UPSes on battery; protection must only log what it would do.

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from upsight.agent.paths import AppPaths


@pytest.fixture
def paths() -> Iterator[AppPaths]:
    # Short and under /tmp: a Unix socket path must fit in about 100 bytes.
    root = Path(tempfile.mkdtemp(dir="/tmp", prefix="upsight-gui-"))
    yield AppPaths(root / "config", root / "data", root / "run")
    shutil.rmtree(root, ignore_errors=True)
