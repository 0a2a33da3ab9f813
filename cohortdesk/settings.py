"""Application settings: one typed, versioned declaration with defaults, stored as JSON in the
platformdirs config folder. (Window and splitter geometry live in ``QSettings``; passwords live only
in the OS keyring, never here.)
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from cohortdesk import paths

log = logging.getLogger(__name__)

SETTINGS_VERSION = 1
THEMES = ("system", "light", "dark")


@dataclass(frozen=True)
class AppSettings:
    version: int = SETTINGS_VERSION
    theme: str = "system"
    #: False until the welcome screen has been answered once on this machine.
    first_run_done: bool = False
    #: "embedded" for the local SQLite store, or the name of a connection profile.
    database_choice: str = "embedded"
    queue_page_size: int = 200
    idle_lock_minutes: int = 10

    def with_changes(self, **changes: Any) -> AppSettings:
        return replace(self, **changes)


def settings_path() -> Path:
    return paths.config_dir() / "settings.json"


def load_settings(path: Path | None = None) -> AppSettings:
    """Read settings, keeping defaults for anything missing or invalid (a bad file never blocks start-up)."""
    path = path or settings_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return AppSettings()
    except (OSError, ValueError) as exc:
        log.warning("Ignoring unreadable settings file %s: %s", path, exc)
        return AppSettings()
    known = {f.name: f for f in fields(AppSettings)}
    values: dict[str, Any] = {}
    for name, value in raw.items() if isinstance(raw, dict) else ():
        default = getattr(AppSettings(), name, None)
        if name in known and isinstance(value, type(default)):
            values[name] = value
    settings = AppSettings(**values)
    if settings.theme not in THEMES:
        settings = settings.with_changes(theme="system")
    return settings.with_changes(version=SETTINGS_VERSION)


def save_settings(settings: AppSettings, path: Path | None = None) -> None:
    path = path or settings_path()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(settings), indent=2, sort_keys=True), encoding="utf-8")
    if os.name == "posix":
        tmp.chmod(0o600)
    os.replace(tmp, path)
