"""Every path CohortDesk writes to, from platformdirs, in one place.

``COHORTDESK_HOME`` moves all of them under one folder (tests, portable installs). Folders that may
hold personal data are created readable by the user only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any

import platformdirs

APP_NAME = "CohortDesk"
APP_AUTHOR = "CohortDesk"


def _home_override() -> Path | None:
    value = os.environ.get("COHORTDESK_HOME")
    return Path(value).expanduser() if value else None


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    if os.name == "posix":
        path.chmod(0o700)
    return path


def data_dir() -> Path:
    """Holds the embedded SQLite store and the document storage of a standalone install."""
    home = _home_override()
    return _private_dir(home / "data" if home else Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR)))


def config_dir() -> Path:
    home = _home_override()
    return _private_dir(home / "config" if home else Path(platformdirs.user_config_dir(APP_NAME, APP_AUTHOR)))


def cache_dir() -> Path:
    home = _home_override()
    return _private_dir(home / "cache" if home else Path(platformdirs.user_cache_dir(APP_NAME, APP_AUTHOR)))


def log_dir() -> Path:
    home = _home_override()
    return _private_dir(home / "logs" if home else Path(platformdirs.user_log_dir(APP_NAME, APP_AUTHOR)))


def default_sqlite_path() -> Path:
    return data_dir() / "cohortdesk.sqlite3"


def default_storage_root() -> Path:
    """Root of the DocuSeal-style disk storage (``attachments/<k[0:2]>/<k[2:4]>/<key>`` below it)."""
    override = os.environ.get("COHORTDESK_STORAGE")
    return _private_dir(Path(override).expanduser() if override else data_dir() / "storage")


def resources_dir() -> Path:
    """Shipped icons and styles: inside a frozen bundle, an installed package, or a source checkout."""
    import sys

    package_dir = Path(__file__).resolve().parent
    candidates = [
        Path(getattr(sys, "_MEIPASS", "/nonexistent")) / "cohortdesk" / "resources",
        package_dir / "resources",
        package_dir.parent / "resources",
    ]
    for candidate in candidates:
        if (candidate / "icons").is_dir():
            return candidate
    return candidates[-1]


def open_private(path: Path | str, mode: str = "wb", **kwargs: object) -> IO[Any]:
    """Open ``path`` for writing, created readable and writable by the user only (``0600`` on POSIX).

    For every local file that may hold personal data: caches, exports in progress, profiles.
    """
    path = Path(path)
    if not any(flag in mode for flag in "wax"):
        raise ValueError("open_private is for writing")
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_BINARY", 0)
    flags |= os.O_EXCL if "x" in mode else (os.O_APPEND if "a" in mode else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    if os.name == "posix":
        os.fchmod(fd, 0o600)  # an existing file keeps its old mode otherwise
    return os.fdopen(fd, mode.replace("x", "w"), **kwargs)  # type: ignore[call-overload]


def write_private_text(path: Path | str, text: str) -> Path:
    """Replace ``path`` atomically with ``text`` (UTF-8), readable by the user only."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open_private(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return path
