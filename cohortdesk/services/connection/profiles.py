"""Connection profiles: which PostgreSQL server, database and login a workstation connects to.

Profiles live in ``connections.json`` in the platformdirs config folder (``paths.config_dir()``),
readable by the user only. They **never** hold a password: passwords go to the keyring
(``services.connection.secrets``) under the profile's ``keyring_account``, or are asked for each session. A
password-like key found in a hand-edited file is ignored and dropped on the next save.

TLS: ``sslmode`` is one of libpq's modes; ``verify-full`` (the default for a new profile) checks the
server's certificate against a CA file (``sslrootcert``) and the host name, which is what stops a
machine on the network from posing as the database server. ``sslcert``/``sslkey`` name a client
certificate and its key when the server asks for one.

Beyond one server (docs/deployment.md):

* ``host`` may list several servers, ``db1.example, db2.example:5433``: libpq tries them in turn and
  keeps the one that accepts writes (``target_session_attrs=read-write``), so a failover needs no
  change on the workstations.
* ``pooler`` says the address is a connection pooler (PgBouncer) in ``transaction`` or ``session``
  mode; ``listen_host`` then names the primary itself (``host[:port]``) for the live-refresh
  listener's one session connection, or is empty to refresh by polling (shown in the status bar).
* ``report_host`` names a read-only standby (or several) that exports and report viewers read from.
* ``document_storage`` is the folder (or share) where the server's uploaded documents are found.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

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
POOLER_LABELS = {
    "none": "None (straight to PostgreSQL)",
    "transaction": "PgBouncer, transaction mode",
    "session": "PgBouncer, session mode",
}


@dataclass(frozen=True)
class ConnectionProfile:
    name: str
    host: str
    database: str
    user: str
    port: int = 5432
    sslmode: str = "verify-full"
    sslrootcert: str | None = None
    sslcert: str | None = None
    sslkey: str | None = None
    pooler: str = "none"
    listen_host: str | None = None
    report_host: str | None = None
    document_storage: str | None = None

    @property
    def keyring_account(self) -> str:
        """Where this login's password is kept in the keyring."""
        return f"{self.user}@{self.host}:{self.port}/{self.database}"

    def describe(self) -> str:
        return f"{self.user}@{self.host}:{self.port}/{self.database} ({self.sslmode})"

    def servers(self) -> list[tuple[str, int]]:
        return parse_hosts(self.host, self.port)


def parse_hosts(text: str, default_port: int = 5432) -> list[tuple[str, int]]:
    """``"a, b:5433"`` → ``[("a", default_port), ("b", 5433)]``; a ``ValidationError`` for a bad port."""
    servers: list[tuple[str, int]] = []
    for part in (p.strip() for p in (text or "").split(",")):
        if not part:
            continue
        host, _, port = part.rpartition(":") if part.count(":") == 1 else (part, "", "")
        if not port:
            servers.append((part, default_port))
            continue
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValidationError("host", f"{part!r}: the port after ':' must be a number from 1 to 65535")
        servers.append((host, int(port)))
    return servers


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
        sslcert=raw.get("sslcert") or None,
        sslkey=raw.get("sslkey") or None,
        pooler=str(raw.get("pooler") or "none"),
        listen_host=raw.get("listen_host") or None,
        report_host=raw.get("report_host") or None,
        document_storage=raw.get("document_storage") or None,
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
    parse_hosts(host, int(profile.port))
    if profile.pooler not in POOLER_LABELS:
        raise ValidationError("pooler", f"must be one of {', '.join(POOLER_LABELS)}")
    listen = (profile.listen_host or "").strip() or None
    if listen is not None and len(parse_hosts(listen)) != 1:
        raise ValidationError("listen_host", "name one server (the primary), as host or host:port")
    report = (profile.report_host or "").strip() or None
    if report is not None:
        parse_hosts(report, int(profile.port))
    storage = (profile.document_storage or "").strip() or None
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
            raise ValidationError(
                "sslrootcert",
                f"the CA certificate file {ca} does not exist on this computer (or cannot be read); "
                "choose the CA file your IT department gave you",
            )
        ca = str(Path(ca).expanduser())
    client_files: dict[str, str | None] = {}
    for field_name in ("sslcert", "sslkey"):
        value = (getattr(profile, field_name) or "").strip() or None
        if value is not None:
            if not Path(value).expanduser().is_file():
                raise ValidationError(field_name, f"{value} is not a readable file")
            value = str(Path(value).expanduser())
        client_files[field_name] = value
    if bool(client_files["sslcert"]) != bool(client_files["sslkey"]):
        raise ValidationError("sslkey", "a client certificate needs its key file, and a key its certificate")
    return replace(
        profile,
        name=name,
        host=host,
        database=database,
        user=user,
        sslrootcert=ca,
        listen_host=listen,
        report_host=report,
        document_storage=storage,
        sslcert=client_files["sslcert"],
        sslkey=client_files["sslkey"],
    )


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


def _url(profile: ConnectionProfile, servers: list[tuple[str, int]], target_session_attrs: str | None) -> str:
    query: dict[str, Any] = {"sslmode": profile.sslmode}
    for key in ("sslrootcert", "sslcert", "sslkey"):
        if getattr(profile, key):
            query[key] = getattr(profile, key)
    if len(servers) == 1:
        (host, port), many = servers[0], None
    else:
        host, port, many = None, None, [f"{h}:{p}" for h, p in servers]
        query["host"] = many
    if target_session_attrs and many:
        query["target_session_attrs"] = target_session_attrs
    from sqlalchemy import URL  # with the engine it is for (the embedded store starts without it)

    url = URL.create(
        "postgresql+psycopg",
        username=profile.user,
        host=host,
        port=port,
        database=profile.database,
        query=query,
    )
    return url.render_as_string(hide_password=False)


def connection_url(profile: ConnectionProfile) -> str:
    """The database URL of ``profile``, without any password (pass that in ``connect_args``).

    Several hosts become libpq's multi-host form, keeping the first that accepts writes."""
    return _url(profile, profile.servers(), "read-write")


def report_url(profile: ConnectionProfile) -> str | None:
    """The reporting connection's URL: the standby(s) first, the primary as the last resort
    (``target_session_attrs=prefer-standby``); None when the profile names no standby."""
    if not profile.report_host:
        return None
    standbys = parse_hosts(profile.report_host, profile.port)
    return _url(profile, standbys + profile.servers(), "prefer-standby")


def connect_args(password: str | None) -> dict[str, Any]:
    """Engine ``connect_args`` carrying the password in memory only (never in the URL or a log)."""
    return {"password": password} if password else {}


def open_database(profile: ConnectionProfile, password: str | None, **engine_kwargs: Any) -> Any:
    """The ``Database`` of ``profile`` (with its reporting replica, pooler settings, the listener's
    direct address and the document storage), the password in memory only."""
    from cohortdesk.db import Database

    args = connect_args(password)
    listen = None
    if profile.listen_host:
        host, port = parse_hosts(profile.listen_host, profile.port)[0]
        listen = {"host": host, "port": port}
    reports = None
    report = report_url(profile)
    if report is not None:
        reports = Database(
            report,
            pooler=profile.pooler,
            connect_args=dict(args),
            label=f"{profile.name} (reports)",
            **engine_kwargs,
        )
    return Database(
        connection_url(profile),
        pooler=profile.pooler,
        connect_args=dict(args),
        listen_overrides=listen,
        reports=reports,
        document_storage=profile.document_storage,
        label=profile.name,
        **engine_kwargs,
    )
