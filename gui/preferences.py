"""Desktop-only preferences (start minimized, close to tray), kept beside the agent's config."""

from __future__ import annotations

import logging
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Final

from upsight.agent.durable import replace_file
from upsight.agent.paths import AppPaths

log = logging.getLogger(__name__)

FILE_NAME: Final = "desktop.toml"


@dataclass(frozen=True)
class Preferences:
    """How the desktop app behaves; the agent never reads these."""

    start_minimized: bool = False
    close_to_tray: bool = True


def preferences_file(paths: AppPaths) -> Path:
    return paths.config_dir / FILE_NAME


def load(path: Path) -> Preferences:
    """Read preferences; a missing or unreadable file, or a bad value, gives the default."""
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Preferences()
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        log.warning("%s: cannot be read (%s); using the defaults", path, exc)
        return Preferences()
    values: dict[str, bool] = {}
    for item in fields(Preferences):
        value = table.get(item.name)
        if isinstance(value, bool):
            values[item.name] = value
        elif value is not None:
            log.warning("%s: %s must be true or false; using the default", path, item.name)
    return Preferences(**values)


def save(path: Path, preferences: Preferences) -> None:
    """Write preferences atomically."""
    import tomli_w

    path.parent.mkdir(parents=True, exist_ok=True)
    replace_file(path, tomli_w.dumps(asdict(preferences)).encode("utf-8"))
