"""Staying useful while the database comes and goes: tell errors apart, check health, retry safely.

* ``is_disconnect`` / ``is_transient``: which failures mean "the link or the server went away" (the
  window goes offline) and which are worth retrying at all (also a lock or statement timeout, a
  server still starting up). Everything else is a real error and is never retried.
* ``call_with_retry`` re-runs one service call with backoff. It is only safe for calls that are
  idempotent; ``decide_with_retry`` makes a decision so by giving it an idempotency key once and
  keeping it for every attempt, so a retry after a lost reply records it exactly once.
* ``ConnectionTracker`` holds online/offline and tells listeners when it flips (Qt-free; the GUI
  wraps it in signals).
* ``DecisionOutbox`` keeps decisions whose outcome is unknown until they are replayed, so none is
  lost and, thanks to their keys, none is doubled.

A new SQLAlchemy session after a dropped connection gets a fresh one from the pool:
``pool_pre_ping`` (set in ``db/engine.py``) tests each pooled connection before handing it out.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from cohortdesk.db import Database
from cohortdesk.errors import OfflineError
from cohortdesk.services.rows import DecisionResult
from cohortdesk.services.verification import DecisionCommand, record_decision

log = logging.getLogger(__name__)

#: SQLSTATEs meaning the server went away or is not ready (plus all of class 08): offline.
_DISCONNECT_STATES = ("57P01", "57P02", "57P03", "53300")
#: SQLSTATEs worth retrying on a live link: lock timeout, statement timeout/cancel, serialization.
_RETRY_STATES = ("55P03", "57014", "40001", "40P01")


def _sqlstate(error: BaseException) -> str | None:
    orig = getattr(error, "orig", None) or error
    return getattr(orig, "sqlstate", None)


def is_disconnect(error: BaseException) -> bool:
    """True when ``error`` means the database cannot be reached (or just dropped this connection)."""
    if isinstance(error, OfflineError | ConnectionError | sa_exc.DisconnectionError):
        return True
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    state = _sqlstate(error)
    if state is not None:
        return state.startswith("08") or state in _DISCONNECT_STATES
    # A failure to connect at all (refused, timed out, unknown host) carries no SQLSTATE.
    orig = getattr(error, "orig", error)
    return isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError) or type(orig).__name__ in (
        "OperationalError",
        "InterfaceError",
    )


def is_transient(error: BaseException) -> bool:
    """True when trying the same call again later may well succeed."""
    return is_disconnect(error) or _sqlstate(error) in _RETRY_STATES


def health_check(db: Database, timeout_seconds: float = 3.0) -> bool:
    """Can the database be reached right now? Uses its own short-lived connection, never the pool's,
    so a dead link costs at most ``timeout_seconds``."""
    if db.dialect != "postgresql":
        try:
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except sa_exc.SQLAlchemyError:
            return False
    try:
        conn = db.dedicated_connection(
            autocommit=True,
            connect_timeout=max(1, round(timeout_seconds)),
            application_name="cohortdesk-health",
        )
    except Exception:  # noqa: BLE001 - any failure to connect means "not reachable"
        return False
    try:
        conn.execute("SELECT 1")
        return True
    except Exception:  # noqa: BLE001
        return False
    finally:
        conn.close()


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


def decide_with_retry(
    db: Database, cmd: DecisionCommand, *, policy: RetryPolicy | None = None, **kwargs: Any
) -> DecisionResult:
    """Record a decision, retrying with one and the same idempotency key: exactly once."""
    return call_with_retry(record_decision, db, cmd.with_key(), policy=policy, **kwargs)


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


@dataclass
class DecisionOutbox:
    """Decisions sent but not yet answered, kept by idempotency key until an answer comes.

    A decision whose reply was lost stays here; ``replay`` sends each again with its own key, so the
    database records it once whether or not the first attempt got through.
    """

    pending: dict[str, DecisionCommand] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, cmd: DecisionCommand) -> DecisionCommand:
        keyed = cmd.with_key()
        with self._lock:
            self.pending[keyed.idempotency_key or ""] = keyed
        return keyed

    def done(self, cmd: DecisionCommand) -> None:
        with self._lock:
            self.pending.pop(cmd.idempotency_key or "", None)

    def __len__(self) -> int:
        return len(self.pending)

    def replay(
        self, db: Database
    ) -> list[tuple[DecisionCommand, DecisionResult | None, BaseException | None]]:
        """Send every pending decision once more. Answered ones (recorded, duplicate or refused for a
        reason that is not the connection) leave the outbox; disconnects stay for the next replay."""
        outcomes: list[tuple[DecisionCommand, DecisionResult | None, BaseException | None]] = []
        with self._lock:
            commands = list(self.pending.values())
        for cmd in commands:
            try:
                result = record_decision(db, cmd)
            except Exception as error:  # noqa: BLE001 - reported to the caller per decision
                if is_transient(error):
                    outcomes.append((cmd, None, error))
                    continue
                self.done(cmd)
                outcomes.append((cmd, None, error))
            else:
                self.done(cmd)
                outcomes.append((cmd, result, None))
        return outcomes
