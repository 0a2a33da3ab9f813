"""Live refresh hints from PostgreSQL: ``LISTEN`` on the institution's queue channel, on one
dedicated connection.

The queue triggers record, per statement that changes ``cohort_enrollments``, identifiers only
(account id, enrollment id, cohort id, row_version), or a ``bulk`` summary for large statements; they
do not notify (migration 0025: PostgreSQL wakes every listening server process of the database at
each notifying commit, which with 200 workstations made every claim and decision wake 200 processes,
inside the officer's commit). One listener per institution is its **relay**: every ``relay_seconds``
(0.5 s) it calls ``cohortdesk_relay_queue`` (``RELAY``), which sends what was recorded as one
notification, merged, so the listeners wake at most twice a second per institution. The relay holds
a short lease on the server; every other listener asks for it with each ping and takes it once it is
free. A closing relay releases it and announces ``VACANT``, and the others try at once. A relay call
that fails (not a lost connection) only stops this listener relaying; it keeps listening.

Each account has its own channel, ``cohortdesk_queue_<32 hex>``, whose name comes from a
server secret: ``queue_channels(conn)`` (``cohortdesk_queue_channels()``) gives a login its own
institution's channel only, so no other institution's identifiers ever reach it. A forged notification
(anyone who knows the name can NOTIFY) costs a refresh, which reads through row-level security. ``QueueListener`` keeps one autocommit connection outside
the pool (TCP keepalives on, ``idle_session_timeout`` off: it is idle by design), sleeps on
its socket until something arrives, pings now and then to notice a dead link, and reconnects with backoff.

Notifications are hints: they are lost while disconnected, so ``on_state(True, …)`` after every
(re)connect tells the owner to re-read everything, and the owner polls anyway every 30-60 s.
Notifications arrive only for committed transactions. LISTEN does not work through PgBouncer in
transaction mode, nor on a hot standby: the connection comes from ``Database.listener_connection``,
which goes straight to the primary when the profile names it (``listen_host``); with a transaction
pooler and no such address the window polls instead, and says so.

The listener never goes deaf silently. Its ping asks which server process answers
(``pg_backend_pid()``): a session that moved to another server process (a transaction-mode pooler
the profile did not mention) no longer hears its LISTEN. Its first ping after connecting, and every
``probe_every``-th after that, is a notification on a private channel of its own
(``cohortdesk_probe_<random>``) instead, which must come back. Only now and then, because every
notification wakes every listening server process of the database, not just those on its channel:
with 200 workstations a probe each 15 s was a third of the wake-ups. A connection that takes the
LISTEN but never delivers is detected within one ping; after ``deaf_limit`` such connections in a row
the listener stops and reports ``on_state(False, DEAF…)``, and the owner falls back to polling, visibly.

Between notifications the listener's thread sleeps on the socket until data comes, a ping is due
or ``stop()`` wakes it, rather than waking twice a second; once something arrives it gathers what
follows for ``gather_seconds`` (0.25 s) and hands it all on in one go, so that with 200 workstations
deciding, each listener wakes a few times a second instead of once per change (the window redraws
them together anyway).

No Qt here: ``views/workstation/live_refresh.py`` runs ``QueueListener.run`` on a thread and turns its callbacks
into signals.
"""

from __future__ import annotations

import json
import logging
import math
import random
import secrets
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

#: The channel of databases from before per-institution channels (and of tests that pass it explicitly).
CHANNEL = "cohortdesk_queue"


def queue_channels(conn: Any) -> list[str]:
    """The queue channels this session may listen on (psycopg connection): its institution's own; a
    privileged maintenance session's, every institution's; ``[CHANNEL]`` on a database without them."""
    if conn.execute("SELECT to_regproc('cohortdesk_queue_channels') IS NULL").fetchone()[0]:
        return [CHANNEL]
    return [row[0] for row in conn.execute("SELECT cohortdesk_queue_channels()").fetchall()]


def _listen(conn: Any, channel: str) -> None:
    from psycopg import sql

    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))


#: A relay's call (migration 0025): sends what changed for the institution; False while another relays.
RELAY = "SELECT cohortdesk_relay_queue(%s)"
#: Whether the database has the relay (migration 0025); before it, every commit notified by itself.
RELAY_SUPPORTED = "SELECT to_regprocedure('cohortdesk_relay_queue(text)') IS NOT NULL"
#: A closing relay's last call: sends what is left, frees the lease and announces ``VACANT``.
RELEASE = "SELECT cohortdesk_release_queue_relay(%s)"
#: What a relay that closes sends on its institution's channel: another listener should take over now.
VACANT = '{"relay": "vacant"}'
#: The server's lease (migration 0025): a listener that hears ``VACANT`` tries at most once per lease.
RELAY_LEASE_SECONDS = 3.0

#: How ``on_state(False, reason)`` starts when notifications do not arrive on the connection at all.
DEAF = "Notifications do not arrive on this connection"


class ListenerDeaf(ConnectionError):
    """The connection accepted LISTEN but did not deliver the listener's own probe."""


@dataclass(frozen=True)
class QueueItem:
    account_id: int
    enrollment_id: int
    cohort_id: int
    row_version: int


@dataclass(frozen=True)
class QueueEvent:
    """One notification: which packs changed (``items``), or for a bulk statement only where."""

    table: str
    op: str
    items: tuple[QueueItem, ...] = ()
    bulk: bool = False
    count: int = 0
    account_ids: frozenset[int] = frozenset()
    cohort_ids: frozenset[int] = frozenset()

    @property
    def enrollment_ids(self) -> frozenset[int]:
        return frozenset(item.enrollment_id for item in self.items)

    def concerns(self, account_id: int | None) -> bool:
        """Whether a workstation of tenant ``account_id`` should care (``None``: every tenant)."""
        return account_id is None or account_id in self.account_ids


def parse_payload(payload: str) -> QueueEvent | None:
    """The event in a notification's payload; ``None`` for anything malformed (never raises)."""
    try:
        data = json.loads(payload)
        items = tuple(QueueItem(int(a), int(e), int(c), int(v)) for a, e, c, v in data.get("items") or ())
        accounts = frozenset(int(a) for a in data.get("accounts") or ()) | {i.account_id for i in items}
        cohorts = frozenset(int(c) for c in data.get("cohorts") or ()) | {i.cohort_id for i in items}
        return QueueEvent(
            table=str(data.get("table", "")),
            op=str(data.get("op", "")),
            items=items,
            bulk=bool(data.get("bulk", False)),
            count=int(data.get("count", len(items))),
            account_ids=frozenset(accounts),
            cohort_ids=frozenset(cohorts),
        )
    except (ValueError, TypeError, AttributeError):
        log.warning("Ignoring a malformed %s notification", CHANNEL)
        return None


#: Keepalives for the listener: a silent dead link is noticed in about 25 s.
LISTENER_CONNECT_ARGS: dict[str, Any] = {
    "autocommit": True,
    "application_name": "cohortdesk-listener",
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    # Data sent but never acknowledged (a ping or a relay call on a link that died silently) fails
    # after 20 s instead of TCP's retransmission limit of about 15 minutes.
    "tcp_user_timeout": 20000,
    "connect_timeout": 5,
}


class QueueListener:
    """Waits for queue notifications on its own connection and survives losing it.

    ``connect`` returns a new psycopg connection (``Database.dedicated_connection`` with
    ``LISTENER_CONNECT_ARGS`` in production). ``on_event`` gets each parsed event; ``on_state`` gets
    ``(True, "")`` after every (re)connect and ``(False, reason)`` once per loss. Both run on the
    listener's thread.
    """

    def __init__(
        self,
        connect: Callable[[], Any],
        on_event: Callable[[QueueEvent], None],
        on_state: Callable[[bool, str], None] | None = None,
        *,
        channel: str | None = None,
        ping_seconds: float = 15.0,
        first_backoff: float = 0.5,
        max_backoff: float = 30.0,
        probe_timeout: float = 5.0,
        deaf_limit: int = 2,
        probe_every: int = 20,
        gather_seconds: float = 0.25,
        relay_seconds: float = 0.5,
    ) -> None:
        self._connect = connect
        self._on_event = on_event
        self._on_state = on_state or (lambda online, reason: None)
        #: ``None``: the session's own queue channels (``queue_channels``), looked up on every connect.
        self.channel = channel
        self.channels: list[str] = []
        self.ping_seconds = ping_seconds
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        self.probe_timeout = probe_timeout
        self.deaf_limit = deaf_limit
        #: Every this many pings is a notification that must come back; the others ask the server pid.
        self.probe_every = max(1, probe_every)
        #: How long notifications are gathered after the first of a burst before they are handed on.
        self.gather_seconds = gather_seconds
        #: How often the institution's relay sends what changed (``cohortdesk_relay_queue``).
        self.relay_seconds = relay_seconds
        self.probe_channel = f"cohortdesk_probe_{secrets.token_hex(6)}"
        self.relay_token = secrets.token_hex(8)
        #: Whether this listener is its institution's relay now, and how many relay calls it made.
        self.relaying = False
        self.relay_calls = 0
        self._relay_supported = False
        self._relay_due = 0.0
        self._last_takeover = -math.inf
        self.deaf_reason: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: Any = None
        self.backend_pid: int | None = None
        #: The server process that took the LISTEN, as the server says (a pooler may show another).
        self.listen_pid: int | None = None
        self.probes_sent = 0
        self._wake: tuple[socket.socket, socket.socket] | None = None  # stop() -> the waiting thread
        self.connected = threading.Event()
        self.connections_made = 0

    @classmethod
    def for_database(cls, db: Any, on_event: Callable[[QueueEvent], None], **kwargs: Any) -> QueueListener:
        """A listener on ``db`` (a PostgreSQL ``Database``) with the listener's connection options,
        on its session connection (``Database.listener_connection``: the primary itself behind a
        transaction pooler)."""
        connect = getattr(db, "listener_connection", None) or db.dedicated_connection
        return cls(lambda: connect(**LISTENER_CONNECT_ARGS), on_event, **kwargs)

    # --- running ------------------------------------------------------------------------------

    def start(self) -> threading.Thread:
        """Run on a daemon thread of its own; ``stop()`` ends it."""
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="cohortdesk-listener", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        wake = self._wake
        if wake is not None:
            try:
                wake[1].send(b"x")  # out of its wait at once
            except OSError:
                pass  # already full (a wake is pending) or closed
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        wake = socket.socketpair()
        for end in wake:
            end.setblocking(False)
        self._wake = wake
        try:
            self._run()
        finally:
            self._wake = None
            for end in wake:
                end.close()

    def _run(self) -> None:
        backoff = self.first_backoff
        deaf = 0
        while not self._stop.is_set():
            try:
                self._open()
                backoff = self.first_backoff
                self._listen_loop()
            except ListenerDeaf as error:
                self._close()
                deaf += 1
                if deaf >= self.deaf_limit:
                    self.deaf_reason = f"{DEAF} ({error}); refreshing by polling instead."
                    log.warning("Queue listener gives up: %s", self.deaf_reason)
                    self._on_state(False, self.deaf_reason)
                    break
                self._on_state(False, str(error))
            except Exception as error:  # noqa: BLE001 - any failure: report, back off, reconnect
                self._close()
                if self._stop.is_set():
                    break
                reason = str(error).splitlines()[0] if str(error) else type(error).__name__
                wait = backoff * (0.5 + random.random() / 2)  # jitter: no lockstep after a restart
                log.info("Queue listener lost its connection (%s); retrying in %.1f s", reason, wait)
                self._on_state(False, reason)
                self._stop.wait(wait)
                backoff = min(self.max_backoff, backoff * 2)
        self._close()

    def _open(self) -> None:
        conn = self._connect()
        # Its probe repeats one statement: psycopg would prepare it on the server after a few runs,
        # which a transaction-mode pooler breaks ("prepared statement … does not exist") before the
        # probe can show that notifications are lost.
        conn.prepare_threshold = None
        try:
            if getattr(conn.info, "server_version", 0) >= 140000:
                conn.execute("SET idle_session_timeout = 0")
            conn.execute("SET statement_timeout = '10s'")
            self.channels = [self.channel] if self.channel else queue_channels(conn)
            for channel in self.channels:
                _listen(conn, channel)
            _listen(conn, self.probe_channel)
            self.listen_pid = int(conn.execute("SELECT pg_backend_pid()").fetchone()[0])
            self._relay_supported = bool(conn.execute(RELAY_SUPPORTED).fetchone()[0])
            self.relaying = False
            self._relay(conn)
        except Exception:
            conn.close()
            raise
        self._conn = conn
        self.backend_pid = conn.info.backend_pid
        self.connections_made += 1
        self.connected.set()
        self._on_state(True, "")

    def _listen_loop(self) -> None:
        conn = self._conn
        # The first ping goes at once and is a probe: a connection that cannot deliver is found out now.
        last_ping = time.monotonic() - self.ping_seconds
        pings = 0
        take_over = False  # the relay announced it closed
        probe_sent: float | None = None
        while not self._stop.is_set():
            # What came in meanwhile (also during the ping) and what is waiting on the socket, without waiting.
            for note in conn.notifies(timeout=0):
                if note.channel == self.probe_channel:
                    probe_sent = None
                    continue
                if note.payload == VACANT:
                    take_over = not self.relaying
                    continue
                event = parse_payload(note.payload)
                if event is not None:
                    self._on_event(event)
                if self._stop.is_set():
                    return
            now = time.monotonic()
            if take_over and now - self._last_takeover >= RELAY_LEASE_SECONDS:
                # The relay closed: take over now rather than at the next ping (not more often than a
                # lease, whoever announces it).
                take_over = False
                self._last_takeover = now
                self._relay(conn)
                continue
            take_over = False
            if probe_sent is not None and now - probe_sent > self.probe_timeout:
                raise ListenerDeaf(
                    f"its own test notification did not come back in {self.probe_timeout:.0f} s"
                )
            if probe_sent is None and now - last_ping >= self.ping_seconds:
                # Raises on a dead link the kernel has not noticed yet.
                if pings % self.probe_every == 0:
                    conn.execute(f"NOTIFY {self.probe_channel}")  # must come back to us
                    probe_sent = time.monotonic()
                    self.probes_sent += 1
                else:
                    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
                    if int(pid) != self.listen_pid:
                        raise ListenerDeaf(
                            "its session moved to another server process, which does not hear its LISTEN"
                        )
                if not self.relaying:  # the institution's relay, if nobody holds it any more
                    self._relay(conn)
                pings += 1
                last_ping = time.monotonic()
                continue  # notifications that arrived with the ping's answer wait in psycopg, not on the socket
            if self.relaying and now >= self._relay_due:
                self._relay(conn)
                continue
            if conn.closed or conn.broken:
                raise ConnectionError("the listener connection closed")
            due = (
                (probe_sent + self.probe_timeout)
                if probe_sent is not None
                else (last_ping + self.ping_seconds)
            )
            if self.relaying:
                due = min(due, self._relay_due)
            wake = self._wake
            assert wake is not None
            ready, _, _ = select.select([conn.fileno(), wake[0]], [], [], max(0.0, due - now))
            if wake[0] not in ready and ready and self.gather_seconds > 0:
                # Something arrived: let what the next moments bring come with it, so that a busy
                # queue wakes this thread a few times a second rather than once per change.
                ready, _, _ = select.select([wake[0]], [], [], self.gather_seconds)
            if wake[0] in ready:
                try:
                    wake[0].recv(64)
                except OSError:
                    pass  # nothing to read after all

    def _relay(self, conn: Any) -> None:
        """Send what changed if this listener is (or may now become) the institution's relay. A
        refusal or a server error stops it relaying, not listening; a lost connection propagates."""
        import psycopg

        if not self._relay_supported:
            return
        self._relay_due = time.monotonic() + self.relay_seconds
        self.relay_calls += 1
        try:
            self.relaying = bool(conn.execute(RELAY, (self.relay_token,)).fetchone()[0])
        except psycopg.OperationalError:
            raise
        except psycopg.Error as error:
            self.relaying = False
            log.warning("The queue relay call failed (%s); listening on without relaying", error)

    def _close(self) -> None:
        self.connected.clear()
        conn, self._conn = self._conn, None
        # A workstation that closes hands the relay on at once; after a failure the link may be dead.
        if conn is not None and self.relaying and self._stop.is_set() and not (conn.closed or conn.broken):
            try:
                conn.execute(RELEASE, (self.relay_token,))
            except Exception:  # noqa: BLE001 - the lease runs out by itself
                log.debug("Releasing the queue relay failed", exc_info=True)
        self.relaying = False
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - closing a dead connection may fail; it is gone anyway
                pass
