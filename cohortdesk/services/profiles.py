"""Connection profiles: which PostgreSQL server, database and login a workstation connects to.

Profiles live in ``connections.json`` in the platformdirs config folder (``paths.config_dir()``),
readable by the user only. They **never** hold a password: passwords go to the keyring
(``services.secrets``) under the profile's ``keyring_account``, or are asked for each session. A
password-like key found in a hand-edited file is ignored and dropped on the next save.

TLS: ``sslmode`` is one of libpq's modes; ``verify-full`` (the default for a new profile) checks the
server's certificate against a CA file (``sslrootcert``) and the host name, which is what stops a
machine on the network from posing as the database server.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import URL

from cohortdesk import paths
from cohortdesk.errors import NotFoundError, ValidationError

log = logging.getLogger(__name__)

FILE_NAME = "connections.json"
FORMAT_VERSION = 1
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
SSL_MODE_LABELS = {
    "verify-full": "Verify certificate and host name (recommended)",
    "verify-ca": "Verify certificate only",
    "require": "Encrypt, do not verify",
    "prefer": "Encrypt if the server offers it",
    "allow": "Encrypt only if the server insists",
    "disable": "Never encrypt (local testing only)",
}
_PASSWORD_KEYS = {"password", "passwd", "pass", "pwd", "secret"}


@dataclass(frozen=True)
class ConnectionProfile:
    name: str
    host: str
    database: str
    user: str
    port: int = 5432
    sslmode: str = "verify-full"
    sslrootcert: str | None = None

    @property
    def keyring_account(self) -> str:
        """Where this login's password is kept in the keyring."""
        return f"{self.user}@{self.host}:{self.port}/{self.database}"

    def describe(self) -> str:
        return f"{self.user}@{self.host}:{self.port}/{self.database} ({self.sslmode})"


def profiles_path() -> Path:
    return paths.config_dir() / FILE_NAME


def _read_file() -> dict[str, Any]:
    path = profiles_path()
    if not path.exists():
        return {"version": FORMAT_VERSION, "profiles": [], "last_used": None}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValidationError("connections.json", f"cannot be read ({exc}); fix or delete {path}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("profiles", []), list):
        raise ValidationError(
            "connections.json", f"is not a CohortDesk connection list; fix or delete {path}"
        )
    return data


def _from_dict(raw: dict[str, Any]) -> ConnectionProfile:
    if _PASSWORD_KEYS & {k.lower() for k in raw}:
        log.warning("Ignoring a password stored in %s: passwords belong in the keyring", FILE_NAME)
    return ConnectionProfile(
        name=str(raw.get("name", "")),
        host=str(raw.get("host", "")),
        database=str(raw.get("database", "")),
        user=str(raw.get("user", "")),
        port=int(raw.get("port", 5432) or 5432),
        sslmode=str(raw.get("sslmode", "verify-full")),
        sslrootcert=raw.get("sslrootcert") or None,
    )


def load_profiles() -> list[ConnectionProfile]:
    profiles = []
    for raw in _read_file().get("profiles", []):
        if isinstance(raw, dict):
            try:
                profiles.append(_from_dict(raw))
            except (TypeError, ValueError):
                log.warning("Skipping an unreadable connection profile in %s", FILE_NAME)
    return profiles


def last_used() -> str | None:
    value = _read_file().get("last_used")
    return value if isinstance(value, str) else None


def _write(profiles: list[ConnectionProfile], last: str | None) -> None:
    document = {
        "version": FORMAT_VERSION,
        "profiles": [asdict(p) for p in profiles],  # a dataclass without a password field: none leaks
        "last_used": last,
    }
    paths.write_private_text(profiles_path(), json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def validate_profile(profile: ConnectionProfile) -> ConnectionProfile:
    """The profile with its text trimmed, or a ``ValidationError`` naming the field."""
    name = profile.name.strip()
    host = profile.host.strip()
    database = profile.database.strip()
    user = profile.user.strip()
    if not name:
        raise ValidationError("name", "give the connection a name, e.g. 'Head office'")
    if not host:
        raise ValidationError("host", "is required (the database server's name or address)")
    if not database:
        raise ValidationError("database", "is required")
    if not user:
        raise ValidationError("user", "is required (your own database login)")
    if not 1 <= int(profile.port) <= 65535:
        raise ValidationError("port", "must be between 1 and 65535")
    if profile.sslmode not in SSL_MODES:
        raise ValidationError("sslmode", f"must be one of {', '.join(SSL_MODES)}")
    ca = (profile.sslrootcert or "").strip() or None
    if profile.sslmode in ("verify-ca", "verify-full"):
        if not ca:
            raise ValidationError(
                "sslrootcert", "choose the CA certificate file that signed the server's certificate"
            )
        if not Path(ca).expanduser().is_file():
            raise ValidationError("sslrootcert", f"{ca} is not a readable file")
        ca = str(Path(ca).expanduser())
    return replace(profile, name=name, host=host, database=database, user=user, sslrootcert=ca)


def save_profile(profile: ConnectionProfile, replaces: str | None = None) -> ConnectionProfile:
    """Add ``profile`` or replace the one named ``replaces`` (a rename); names are unique."""
    cleaned = validate_profile(profile)
    data = _read_file()
    profiles = load_profiles()
    old_name = replaces or cleaned.name
    if cleaned.name != old_name and any(p.name == cleaned.name for p in profiles):
        raise ValidationError("name", f"there is already a connection called {cleaned.name!r}")
    kept = [p for p in profiles if p.name != old_name]
    index = next((i for i, p in enumerate(profiles) if p.name == old_name), len(kept))
    kept.insert(min(index, len(kept)), cleaned)
    last = data.get("last_used")
    _write(kept, cleaned.name if last == old_name else last)
    return cleaned


def delete_profile(name: str) -> ConnectionProfile:
    profiles = load_profiles()
    found = next((p for p in profiles if p.name == name), None)
    if found is None:
        raise NotFoundError(f"There is no connection called {name!r}.")
    last = last_used()
    _write([p for p in profiles if p.name != name], None if last == name else last)
    return found


def mark_used(name: str) -> None:
    _write(load_profiles(), name)


def connection_url(profile: ConnectionProfile) -> str:
    """The database URL of ``profile``, without any password (pass that in ``connect_args``)."""
    query: dict[str, str] = {"sslmode": profile.sslmode}
    if profile.sslrootcert:
        query["sslrootcert"] = profile.sslrootcert
    url = URL.create(
        "postgresql+psycopg",
        username=profile.user,
        host=profile.host,
        port=profile.port,
        database=profile.database,
        query=query,
    )
    return url.render_as_string(hide_password=False)


def connect_args(password: str | None) -> dict[str, Any]:
    """Engine ``connect_args`` carrying the password in memory only (never in the URL or a log)."""
    return {"password": password} if password else {}
