"""Fixtures for the local API tests: short socket paths, a fake bus, started servers."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.agent.api.support import ROUTES, FakeBus
from upsight.agent.api.server import ApiServer


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    """A short, world-traversable directory: AF_UNIX paths are limited to ~107 bytes."""
    path = Path(tempfile.mkdtemp(dir="/tmp", prefix="upsight-api-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def sock_path(sock_dir: Path) -> Path:
    return sock_dir / "api.sock"


@pytest.fixture
def bus() -> FakeBus:
    return FakeBus()


@pytest.fixture
def make_server(sock_path: Path, bus: FakeBus) -> Iterator[Callable[..., ApiServer]]:
    """Build and start servers on ``sock_path``; all are stopped at teardown."""
    servers: list[ApiServer] = []

    def make(**kwargs: Any) -> ApiServer:
        kwargs.setdefault("routes", ROUTES)
        kwargs.setdefault("subscribe", bus.subscribe)
        server = ApiServer(kwargs.pop("path", sock_path), **kwargs)
        servers.append(server)
        server.start()
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def server(make_server: Callable[..., ApiServer]) -> ApiServer:
    return make_server()
