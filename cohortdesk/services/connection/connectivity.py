"""Staying useful while the database comes and goes: tell errors apart, check health, retry safely.

* ``classify_connection_error``: THE one place a failure to connect (or a lost connection) is told
  apart and put in plain words: a wrong password, a login switched off or removed, an expired
  certificate, a certificate for another host name, a server without TLS or TLS required, a missing
  or wrong CA file, a full server, an unknown database, or a network/server outage. Only an outage
  (and a full server) is worth retrying by itself; an authentication failure asks for the password
  again. The login dialog, the command line, the offline banner and ``views/errors.py`` all use it.
* ``is_disconnect`` / ``is_transient``: which failures mean "the link or the server went away" (the
  window goes offline) and which are worth retrying at all (also a lock or statement timeout, a
  server still starting up). Everything else is a real error and is never retried.
* ``call_with_retry`` re-runs one service call with backoff. It is only safe for calls that are
  idempotent; ``services.review.decisions.record_decision`` makes a decision so by giving it an
  idempotency key once and keeping it for every attempt, so a retry after a lost reply records it
  exactly once.
* ``ConnectionTracker`` holds online/offline and tells listeners when it flips (Qt-free; the GUI
  wraps it in signals).

A new SQLAlchemy session after a dropped connection gets a fresh one from the pool:
``pool_pre_ping`` (set in ``db/engine.py``) tests each pooled connection before handing it out.
"""

from __future__ import annotations

import logging
import os
import random
import re
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cohortdesk.errors import OfflineError

if TYPE_CHECKING:
    from cohortdesk.db import Database

log = logging.getLogger(__name__)

#: SQLSTATEs meaning the server went away or is not ready (plus all of class 08): offline.
_DISCONNECT_STATES = ("57P01", "57P02", "57P03", "53300")
#: SQLSTATEs worth retrying on a live link: lock timeout, statement timeout/cancel, serialization.
_RETRY_STATES = ("55P03", "57014", "40001", "40P01")


def _sqlstate(error: BaseException) -> str | None:
    orig = getattr(error, "orig", None) or error
    return getattr(orig, "sqlstate", None)


# --- what went wrong when connecting --------------------------------------------------------------

#: Kinds of connection problem. ``OUTAGE`` and ``SERVER_FULL`` are retried by themselves; the others
#: need a person to change something (the password, the profile, the server's certificate).
OUTAGE = "outage"
SERVER_FULL = "server_full"
WRONG_PASSWORD = "wrong_password"
NO_PASSWORD = "no_password"
LOGIN_DISABLED = "login_disabled"
UNKNOWN_LOGIN = "unknown_login"
UNKNOWN_DATABASE = "unknown_database"
NOT_ALLOWED = "not_allowed"
CERTIFICATE_EXPIRED = "certificate_expired"
CERTIFICATE_HOST = "certificate_host"
CERTIFICATE_UNTRUSTED = "certificate_untrusted"
CA_FILE_MISSING = "ca_file_missing"
SERVER_WITHOUT_TLS = "server_without_tls"
TLS_REQUIRED = "tls_required"
CLIENT_CERTIFICATE = "client_certificate"
READ_ONLY_SERVER = "read_only_server"
POOLER_SETTINGS = "pooler_settings"
AUTHENTICATION = frozenset({WRONG_PASSWORD, NO_PASSWORD})


@dataclass(frozen=True)
class ConnectionProblem:
    """A failure to reach or log in to the database, in words that say what to fix.

    ``field`` names the login dialog's field to correct (``password``, ``user``, ``database``,
    ``host``, ``sslmode``, ``sslrootcert``, ``sslcert``) or is None; ``retry`` is true when trying again
    later may succeed without anybody changing anything; ``ask_password`` when the password is what
    to ask for again.
    """

    kind: str
    message: str
    field: str | None = None
    detail: str = ""  # the driver's own first line, for the log and a tooltip (no password in it)

    @property
    def retry(self) -> bool:
        return self.kind in (OUTAGE, SERVER_FULL, READ_ONLY_SERVER)

    @property
    def ask_password(self) -> bool:
        return self.kind in AUTHENTICATION

    @property
    def is_outage(self) -> bool:
        return self.kind == OUTAGE


class ConnectionProblemError(OfflineError):
    """A ``ConnectionProblem`` raised as an error (the command line prints it and exits 2)."""

    def __init__(self, problem: ConnectionProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def _quoted(pattern: str, text: str) -> str | None:
    found = re.search(pattern, text)
    return found.group(1) if found else None


def _driver_text(error: BaseException) -> str:
    orig = getattr(error, "orig", None) or error
    return str(orig)


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    # "connection failed: connection to server at "h", port 5432 failed: FATAL:  …" → the reason.
    return re.sub(r"^(connection failed: )?(connection to server at [^:]*failed: )?(FATAL:\s+)?", "", line)


def _tls_verify_message(host: str, port: int, cafile: str, timeout: float = 3.0) -> tuple[str, str]:
    """Why the server's certificate does not verify against ``cafile``: (OpenSSL's reason, the
    certificate's end date as text if it has expired). Best effort; ("", "") if it cannot tell."""
    try:
        context = ssl.create_default_context(cafile=cafile)
        context.check_hostname = False  # the host name is libpq's own, clearer message
        context.verify_flags &= ~ssl.VERIFY_X509_STRICT  # no stricter than libpq
        with socket.create_connection((host, port), timeout=timeout) as raw:
            raw.sendall(struct.pack("!ii", 8, 80877103))  # PostgreSQL's SSLRequest
            if raw.recv(1) != b"S":
                return "", ""
            try:
                with context.wrap_socket(raw, server_hostname=host):
                    return "", ""
            except ssl.SSLCertVerificationError as exc:
                reason = str(exc.verify_message or "")
                if exc.verify_code != 10:  # X509_V_ERR_CERT_HAS_EXPIRED
                    return reason, ""
        # Expired: read its end date without verifying, to say when.
        loose = ssl.create_default_context()
        loose.check_hostname = False
        loose.verify_mode = ssl.CERT_NONE
        with socket.create_connection((host, port), timeout=timeout) as raw:
            raw.sendall(struct.pack("!ii", 8, 80877103))
            raw.recv(1)
            with loose.wrap_socket(raw, server_hostname=host) as tls:
                der = tls.getpeercert(binary_form=True)
        return "certificate has expired", _not_after(der) if der else ""
    except (OSError, ValueError):
        return "", ""


def _not_after(der: bytes) -> str:
    """The end of validity of a DER certificate, found without a certificate parser: the second
    UTCTime/GeneralizedTime in it (the first is notBefore). Empty if none is found."""
    times = re.findall(rb"\x17\x0d(\d{12})Z|\x18\x0f(\d{14})Z", der)
    if len(times) < 2:
        return ""
    utc, general = times[1]
    try:
        if utc:
            when = datetime.strptime(utc.decode(), "%y%m%d%H%M%S")
        else:
            when = datetime.strptime(general.decode(), "%Y%m%d%H%M%S")
    except ValueError:
        return ""
    return when.replace(tzinfo=UTC).strftime("%d %B %Y")


def classify_connection_error(
    error: BaseException, params: Mapping[str, Any] | None = None
) -> ConnectionProblem | None:
    """What ``error`` means for the person, or None when it is not a connection problem at all.

    ``params`` (host, port, user, dbname, sslmode, sslrootcert) sharpen the words and let an
    unverifiable certificate be looked at (expired, or signed by another CA)."""
    if isinstance(error, ConnectionProblemError):
        return error.problem
    if isinstance(error, OfflineError):  # already worded by whoever raised it
        return ConnectionProblem(OUTAGE, str(error))
    params = params or {}
    text = _driver_text(error)
    low = text.lower()
    detail = _first_line(text)
    user = params.get("user") or _quoted(r'for user "([^"]+)"', text) or "this login"
    database = params.get("dbname") or params.get("database") or _quoted(r'database "([^"]+)"', text)
    host = params.get("host") or _quoted(r'server at "([^"]+)"', text) or "the server"

    def problem(kind: str, message: str, field_name: str | None = None) -> ConnectionProblem:
        return ConnectionProblem(kind, message, field_name, detail)

    if "password authentication failed" in low:
        return problem(
            WRONG_PASSWORD,
            f"The server refused the password for the login \u201c{user}\u201d. Type it again (capital "
            "letters count); if it was changed, use the new one. If it still fails, the login may have "
            "been removed: ask your database administrator.",
            "password",
        )
    if "no password supplied" in low or "password is required" in low:
        return problem(
            NO_PASSWORD, f"The server needs the password of the login \u201c{user}\u201d.", "password"
        )
    if "is not permitted to log in" in low:
        return problem(
            LOGIN_DISABLED,
            f"The login \u201c{user}\u201d has been switched off on this server (it was removed or "
            "suspended). Ask your database administrator, or connect with your own login.",
            "user",
        )
    if "does not have connect privilege" in low or re.search(r"permission denied for database", low):
        return problem(
            LOGIN_DISABLED,
            f"The login \u201c{user}\u201d may no longer connect to the database \u201c{database or '?'}\u201d "
            "(it was removed from CohortDesk or its access was withdrawn). Ask your database "
            "administrator, or connect with your own login.",
            "user",
        )
    if re.search(r'role "[^"]+" does not exist', low):
        missing = _quoted(r'role "([^"]+)" does not exist', text) or user
        return problem(
            UNKNOWN_LOGIN,
            f"There is no login \u201c{missing}\u201d on this server (it may have been removed). Check "
            "the Login field or ask your database administrator.",
            "user",
        )
    if re.search(r'database "[^"]+" does not exist', low):
        return problem(
            UNKNOWN_DATABASE,
            f"The server has no database \u201c{database}\u201d. Check the Database field.",
            "database",
        )
    if "root certificate file" in low and "does not exist" in low:
        missing_file = _quoted(r'root certificate file "([^"]+)"', text) or params.get("sslrootcert")
        return problem(
            CA_FILE_MISSING,
            f"The CA certificate file {missing_file} does not exist on this computer. Choose the CA "
            "file your IT department gave you (it checks that the server is really yours).",
            "sslrootcert",
        )
    if "could not read root certificate" in low:
        return problem(
            CA_FILE_MISSING,
            "The CA certificate file could not be read as a certificate. Choose the CA file (.pem or "
            ".crt) your IT department gave you.",
            "sslrootcert",
        )
    if "does not match host name" in low:
        named = _quoted(r'server certificate for "([^"]+)"', text) or "another name"
        asked = _quoted(r'does not match host name "([^"]+)"', text) or host
        return problem(
            CERTIFICATE_HOST,
            f"The server's certificate is for \u201c{named}\u201d, not for \u201c{asked}\u201d, the name "
            "in the Server field. Type the server's name as its certificate gives it (ask IT), or ask "
            "them for a certificate that names this server.",
            "host",
        )
    if "certificate verify failed" in low or "certificate has expired" in low:
        reason, ended = "", ""
        if "certificate has expired" in low:
            reason = "certificate has expired"
        elif params.get("sslrootcert") and params.get("host"):
            first_host = str(params["host"]).split(",")[0]
            first_port = int(str(params.get("port") or 5432).split(",")[0])
            reason, ended = _tls_verify_message(first_host, first_port, str(params["sslrootcert"]))
        if "expired" in reason:
            when = f" on {ended}" if ended else ""
            return problem(
                CERTIFICATE_EXPIRED,
                f"The server's certificate expired{when}, so CohortDesk cannot be sure it is talking to "
                "your server and will not send your password. The server's administrator must renew "
                "the certificate; nothing on this computer needs changing.",
            )
        if "not yet valid" in reason:
            return problem(
                CERTIFICATE_EXPIRED,
                "The server's certificate is not valid yet. Check this computer's date and time; if "
                "they are right, the server's administrator must fix the certificate.",
            )
        ca_name = os.path.basename(str(params.get("sslrootcert") or "")) or "the CA file"
        return problem(
            CERTIFICATE_UNTRUSTED,
            f"The server's certificate is not signed by the CA certificate in {ca_name}, or it has "
            "expired. Choose the CA file your IT department gave you; if it is the right one, ask "
            "them to check the server's certificate.",
            "sslrootcert",
        )
    if "server does not support ssl" in low:
        return problem(
            SERVER_WITHOUT_TLS,
            "The server does not offer encryption (TLS), and this connection requires it. Ask the "
            "server's administrator to turn TLS on; lower the Security setting only for a server on "
            "this computer.",
            "sslmode",
        )
    if "no pg_hba.conf entry" in low and "no encryption" in low:
        return problem(
            TLS_REQUIRED,
            "The server accepts only encrypted connections, and this connection does not encrypt. Set "
            "Security to \u201cVerify certificate and host name\u201d and choose the CA certificate file.",
            "sslmode",
        )
    if "no pg_hba.conf entry" in low or "pg_hba.conf rejects" in low:
        return problem(
            NOT_ALLOWED,
            f"The server does not let the login \u201c{user}\u201d reach the database "
            f"\u201c{database or '?'}\u201d from this computer. Ask the database administrator to allow it.",
            "user",
        )
    if (
        "certificate authentication failed" in low
        or "requires a valid client certificate" in low
        or "could not open certificate file" in low
        or "could not load private key" in low
        or "private key file" in low
        or ("ssl error" in low and "alert" in low)
    ):
        return problem(
            CLIENT_CERTIFICATE,
            "The server did not accept this computer's client certificate (or it could not be read). "
            "Check the client certificate and key files in the connection, or ask IT for new ones.",
            "sslcert",
        )
    if "unsupported startup parameter" in low or "unsupported packet" in low:
        return problem(
            POOLER_SETTINGS,
            "The server address is a connection pooler (PgBouncer) that refuses CohortDesk's session "
            "settings. In the connection's More settings, set Pooler to the pooler's mode.",
            "pooler",
        )
    if (
        "too many clients" in low
        or "remaining connection slots are reserved" in low
        or (_sqlstate(error) == "53300")
    ):
        return problem(
            SERVER_FULL,
            "The database server is full: every connection it allows is in use. Try again in a few "
            "minutes (an open CohortDesk window retries by itself). If this lasts, ask the administrator "
            "to raise max_connections or to put a connection pooler in front of the server (see the "
            "deployment guide).",
        )
    if "session is read-only" in low or "target_session_attrs" in low or "is in hot standby" in low:
        return problem(
            READ_ONLY_SERVER,
            "No server in the connection accepted writes (they are all read-only standbys right now). "
            "CohortDesk tries again; if this lasts, ask the administrator which server is the primary.",
        )
    if _is_outage(error):
        reason = detail or type(error).__name__
        return problem(
            OUTAGE,
            f"The database server cannot be reached ({reason}). Check the network and that the server "
            "is running; an open CohortDesk window keeps trying to reconnect by itself.",
        )
    return None


def _is_outage(error: BaseException) -> bool:
    from sqlalchemy import exc as sa_exc  # here: the window starts before SQLAlchemy loads

    if isinstance(error, OfflineError | ConnectionError | sa_exc.DisconnectionError):
        return True
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    state = _sqlstate(error)
    if state is not None:
        return state.startswith("08") or state in _DISCONNECT_STATES
    orig = getattr(error, "orig", error)
    return isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError) or type(orig).__name__ in (
        "OperationalError",
        "InterfaceError",
    )


def is_disconnect(error: BaseException) -> bool:
    """True when ``error`` means the database cannot be reached (or just dropped this connection),
    or is full: waiting and trying again may help.

    A login or TLS problem (wrong password, expired certificate …) is not a disconnect: retrying
    cannot fix it, and it is told to the person in its own words (``classify_connection_error``)."""
    problem = classify_connection_error(error)
    return problem is not None and problem.retry


def is_transient(error: BaseException) -> bool:
    """True when trying the same call again later may well succeed."""
    return is_disconnect(error) or _sqlstate(error) in _RETRY_STATES


def check_connection(db: Database, timeout_seconds: float = 5.0) -> ConnectionProblem | None:
    """Connect once, on a short-lived connection of its own (never the pool's), and say what is
    wrong, or None when the login works. The login dialog calls it before it closes; the offline
    banner's health checks too, so a rotated password stops the retrying instead of looping."""
    from sqlalchemy import exc as sa_exc
    from sqlalchemy import text

    if db.dialect != "postgresql":
        try:
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return None
        except sa_exc.SQLAlchemyError as error:
            return classify_connection_error(error) or ConnectionProblem(OUTAGE, str(error))
    params = db.connect_params(
        autocommit=True,
        connect_timeout=max(1, round(timeout_seconds)),
        application_name="cohortdesk-check",
    )
    public = {k: v for k, v in params.items() if k != "password"}
    try:
        conn = db.engine.dialect.loaded_dbapi.connect(**params)
    except Exception as error:  # noqa: BLE001 - classified; anything unknown is an outage to retry
        problem = classify_connection_error(error, public)
        return problem or ConnectionProblem(OUTAGE, f"The database server cannot be reached ({error}).")
    try:
        conn.execute("SELECT 1")
        return None
    except Exception as error:  # noqa: BLE001
        return classify_connection_error(error, public) or ConnectionProblem(OUTAGE, str(error))
    finally:
        conn.close()


def require_connection(db: Database, timeout_seconds: float = 5.0) -> None:
    """``check_connection`` as an error: raises ``ConnectionProblemError`` (plain words) if it fails."""
    problem = check_connection(db, timeout_seconds)
    if problem is not None:
        log.info("Connecting failed: %s (%s)", problem.kind, problem.detail)
        raise ConnectionProblemError(problem)


def health_check(db: Database, timeout_seconds: float = 3.0) -> bool:
    """Can the database be reached right now? Uses its own short-lived connection, never the pool's,
    so a dead link costs at most ``timeout_seconds``."""
    return check_connection(db, timeout_seconds) is None


@dataclass
class RetryPolicy:
    attempts: int = 6
    first_delay: float = 0.2
    max_delay: float = 5.0

    def delay(self, attempt: int) -> float:
        """Exponential backoff with jitter, so workstations coming back together do not stampede."""
        base = min(self.max_delay, self.first_delay * (2 ** (attempt - 1)))
        return base * (0.5 + random.random() / 2)


def call_with_retry[T](
    fn: Callable[..., T],
    *args: Any,
    policy: RetryPolicy | None = None,
    on_retry: Callable[[int, BaseException], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    **kwargs: Any,
) -> T:
    """Run ``fn`` and re-run it on transient failures; ``fn`` must be safe to repeat.

    After the last attempt a disconnect becomes ``OfflineError`` (plain words for the user); other
    failures propagate as they are.
    """
    policy = policy or RetryPolicy()
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - classified below, re-raised unless transient
            if not is_transient(error):
                raise
            if attempt >= policy.attempts:
                if is_disconnect(error):
                    raise OfflineError(
                        "The database cannot be reached. CohortDesk keeps what you did and tries again "
                        "when the connection is back."
                    ) from error
                raise
            log.info("Attempt %d of %s failed (%s); retrying", attempt, getattr(fn, "__name__", fn), error)
            if on_retry is not None:
                on_retry(attempt, error)
            sleep(policy.delay(attempt))


class ConnectionTracker:
    """Online or offline, from what calls and health checks observe; listeners hear each flip."""

    def __init__(self, online: bool = True) -> None:
        self._online = online
        self._lock = threading.Lock()
        self._listeners: list[Callable[[bool, str], None]] = []
        self.last_error: str = ""

    @property
    def online(self) -> bool:
        return self._online

    def subscribe(self, listener: Callable[[bool, str], None]) -> None:
        self._listeners.append(listener)

    def observe_success(self) -> None:
        self._set(True, "")

    def observe_error(self, error: BaseException) -> bool:
        """Record a failed call; returns True if it was a disconnect (the state went or stays offline)."""
        if is_disconnect(error):
            self._set(False, str(error).splitlines()[0] if str(error) else type(error).__name__)
            return True
        return False

    def set_online(self, online: bool, reason: str = "") -> None:
        self._set(online, reason)

    def _set(self, online: bool, reason: str) -> None:
        with self._lock:
            changed = online != self._online
            self._online = online
            if not online:
                self.last_error = reason
        if changed:
            for listener in list(self._listeners):
                listener(online, reason)
