"""Where Upsight keeps its files: per-user platform directories, overridable by environment."""

from __future__ import annotations

import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

APP = "upsight"


def _from_env(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def _runtime_dir() -> Path:
    import platformdirs

    with warnings.catch_warnings():
        # Without XDG_RUNTIME_DIR (root shells, containers) platformdirs warns and falls
        # back to /tmp/runtime-<uid>, which is the right answer for us; no need to shout.
        warnings.simplefilter("ignore")
        return Path(platformdirs.user_runtime_dir(APP))


@dataclass(frozen=True)
class AppPaths:
    """The three directories the agent uses.

    Attributes:
        config_dir: the config file (``config.toml``).
        data_dir: history database and other state that must survive restarts.
        runtime_dir: the local API socket; may be wiped at reboot.
    """

    config_dir: Path
    data_dir: Path
    runtime_dir: Path

    @classmethod
    def default(cls) -> AppPaths:
        """Platform directories for this user; ``UPSIGHT_{CONFIG,DATA,RUNTIME}_DIR`` override."""
        import platformdirs

        return cls(
            config_dir=_from_env("UPSIGHT_CONFIG_DIR") or Path(platformdirs.user_config_dir(APP)),
            data_dir=_from_env("UPSIGHT_DATA_DIR") or Path(platformdirs.user_data_dir(APP)),
            runtime_dir=_from_env("UPSIGHT_RUNTIME_DIR") or _runtime_dir(),
        )

    @classmethod
    def system(cls, platform: str = sys.platform) -> AppPaths:
        """Machine-wide directories of the agent run as a service (``upsight run --system``).

        Linux: ``/etc/upsight``, ``/var/lib/upsight`` and ``/run/upsight`` (the last two
        made by the systemd unit's StateDirectory= and RuntimeDirectory=). Windows: under
        ``%ProgramData%\\Upsight``. macOS: ``/Library/Application Support/Upsight`` and
        ``/var/run/upsight``. The socket's directory is world-readable so that every
        user's app reaches the service.
        """
        if platform == "win32":
            base = Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / "Upsight"
            return cls(base, base / "data", base / "run")
        if platform == "darwin":
            base = Path("/Library/Application Support/Upsight")
            return cls(base, base / "data", Path("/var/run/upsight"))
        return cls(Path("/etc/upsight"), Path("/var/lib/upsight"), Path("/run/upsight"))

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def nut_users_file(self) -> Path:
        """The NUT server's users file, unless ``nut_server.users_file`` names another."""
        return self.config_dir / "nut-users.toml"

    @property
    def history_db(self) -> Path:
        return self.data_dir / "history.sqlite3"

    @property
    def api_socket(self) -> Path:
        return self.runtime_dir / "agent.sock"
