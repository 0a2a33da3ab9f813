"""Live refresh of the workstation: what other officers did shows up within seconds.

On PostgreSQL one ``services.review.listener.QueueListener`` per window waits on its own dedicated connection
(its own thread); each notification is handed to the GUI thread by a queued Qt signal. Notifications
are gathered and redrawn with one call on the db lane: the affected rows that are loaded
(``QueueTableModel.update_row``) and the counts of their cohorts. ``services.review.live_batch.LiveBatch``
paces these re-reads, because every change reaches every window of the account: the first change
after a quiet spell is read ``debounce_ms`` after it arrived, then rows at most about once a second
and cohort counts at most about every 10 s, less often the busier the account (so that N windows
cost the server about the same as a few), with random spread so that windows do not read in step.
A notification about the open enrollment reloads it when it moved past what the window knows
(immediately, from the notification's row_version); one about a row that is not loaded recounts the
queue, and enrollments that entered it are announced ("2 new · Show") rather than inserted under the
officer's cursor.

Notifications are hints, lost while disconnected: a poll every ``poll_ms`` (three times that while
the listener is connected, as a safety net; each interval spread by a quarter either way; and right
after the listener or the window reconnects) re-reads every loaded row and the queue's total, and the
counts when they are due (always after a reconnect). A re-read that fails gives back to the batch
what it was to read. On the embedded SQLite store (one user) only the poll runs.

Live refresh never stops silently. A label in the status bar says how changes arrive: "Live" while
notifications flow, "Live updates: reconnecting…" while the listener is away, and "Updates every
20 s" when the database can only be polled: behind a transaction-mode pooler with no direct address
for the listener (``Database.live_refresh_mode``), or after the listener found that notifications do
not arrive on its connection.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QLabel, QWidget

from cohortdesk.lazy import lazy_module
from cohortdesk.services.access.identity import Identity
from cohortdesk.services.review.listener import DEAF, QueueEvent, QueueListener
from cohortdesk.services.review.live_batch import LISTENING_POLL_SECONDS, POLL_SECONDS, LiveBatch, LiveReads
from cohortdesk.views.cohort_tree_model import CohortTreeModel
from cohortdesk.views.connection_monitor import ConnectionMonitor
from cohortdesk.views.queue_table_model import QueueTableModel
from cohortdesk.views.runner import Runner

if TYPE_CHECKING:
    from cohortdesk.services.review import workstation as review
    from cohortdesk.services.review.workstation import LiveRows
else:  # loaded on first use: the window is painted before SQLAlchemy loads
    review = lazy_module("cohortdesk.services.review.workstation")

log = logging.getLogger(__name__)

#: At most this many loaded rows are re-read by one poll (the rows near the top come first).
POLL_ROW_LIMIT = 1000


class LiveRefresh(QObject):
    #: Raised on the listener's thread; connected queued, so the slots run on the GUI thread.
    event_received = Signal(object)
    listener_state = Signal(bool, str)
    #: A batch of rows and counts was applied (tests wait on it).
    applied = Signal(object)
    #: Enrollments changed elsewhere: id → newest row_version named so far.
    versions_changed = Signal(object)
    #: This many enrollments entered the queue beyond those loaded.
    new_rows = Signal(int)

    def __init__(
        self,
        window: QWidget,
        runner: Runner,
        db: Any,
        connection: ConnectionMonitor,
        identity: Callable[[], Identity | None],
        queue_model: QueueTableModel,
        tree_model: CohortTreeModel,
        poll_ms: int = 20000,
        debounce_ms: int = 150,
        listen: bool = True,
        batch: LiveBatch | None = None,
    ) -> None:
        super().__init__(window)
        self.window = window  # nothing is polled or redrawn while it is hidden
        self.runner = runner
        self.db = db
        self.connection = connection
        self._identity = identity
        self.queue_model = queue_model
        self.tree_model = tree_model
        self.listen = listen
        self.listener: QueueListener | None = None
        self.batch = batch or LiveBatch(first_delay=debounce_ms / 1000)
        self._versions: dict[int, int] = {}
        self._in_flight = False
        self._again = False
        self._poll_pending = False
        self._reconnected = False  # the next poll reads every count: notifications were lost meanwhile
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.timeout.connect(self._flush)
        self._poll_ms = poll_ms
        self._live = False  # the listener is connected: the poll is only a safety net
        self._poll = QTimer(self)
        self._poll.setObjectName("queuePoll")
        self._poll.setSingleShot(True)
        self._poll.timeout.connect(self._on_poll_timer)
        self.event_received.connect(self._on_event)
        self.listener_state.connect(self._on_listener_state)
        self.mode = ""  # "listen" | "poll" once started
        self.status_label = QLabel("")
        self.status_label.setObjectName("liveRefreshState")
        self.status_label.setAccessibleName("How changes by others arrive")
        self.status_label.hide()

    def _show_state(self, text: str, tip: str) -> None:
        self.status_label.setText(text)
        self.status_label.setToolTip(tip)
        self.status_label.setVisible(bool(text))

    def _polling_text(self) -> str:
        return f"Updates every {max(1, round(self._poll_ms / 1000))} s"

    def _arm_poll(self) -> None:
        """The next poll, a random share of a quarter either side of the interval (windows opened
        together do not poll in step); less often while the listener is connected."""
        interval = self._poll_ms * (LISTENING_POLL_SECONDS / POLL_SECONDS if self._live else 1.0)
        self._poll.start(max(1, round(interval * random.uniform(0.75, 1.25))))

    def _on_poll_timer(self) -> None:
        self._arm_poll()
        self.poll()

    # --- starting and stopping ---------------------------------------------------------------

    def start(self) -> None:
        """Start polling, and listening too on PostgreSQL; a second call does nothing."""
        if not self._poll.isActive():
            self._arm_poll()
        db = self.db
        if getattr(db, "dialect", "") != "postgresql":
            return
        mode = getattr(db, "live_refresh_mode", "listen")
        if mode == "poll":
            self.mode = "poll"
            self._show_state(
                self._polling_text(),
                "This connection goes through a pooler in transaction mode, where notifications cannot "
                "reach CohortDesk; what others do shows up at the next poll. An administrator can name "
                "the primary server under More settings → Live updates from, for changes within seconds.",
            )
            return
        if self.listen and self.listener is None:
            self.mode = "listen"
            self.listener = QueueListener.for_database(
                db, self.event_received.emit, on_state=self.listener_state.emit
            )
            self.listener.start()

    def stop(self) -> None:
        """Stop polling and end the listener's thread (it notices within half a second)."""
        self._poll.stop()
        self._debounce.stop()
        listener, self.listener = self.listener, None
        if listener is not None:
            listener.stop(timeout=3.0)

    # --- notifications -----------------------------------------------------------------------

    def _on_event(self, event: QueueEvent) -> None:
        identity = self._identity()
        if (
            identity is not None
            and identity.account_id is not None
            and not event.concerns(identity.account_id)
        ):
            return
        if event.bulk:
            self.poll()
            return
        for item in event.items:
            self._versions[item.enrollment_id] = max(
                item.row_version, self._versions.get(item.enrollment_id, 0)
            )
        self.batch.add(event)
        self.versions_changed.emit(dict(self._versions))
        self._versions.clear()
        self._schedule()

    def _schedule(self) -> None:
        """The next paced re-read, unless one is already due or running (it schedules on when done)."""
        delay = self.batch.delay()
        if delay is None or self._in_flight:
            return
        if not self._debounce.isActive() or self._debounce.remainingTime() > delay * 1000:
            self._debounce.start(round(delay * 1000))

    def _on_listener_state(self, online: bool, reason: str) -> None:
        live, self._live = self._live, online
        if live != online and self._poll.isActive():
            self._arm_poll()
        if online:
            self._show_state("Live", "Changes by other officers show up within seconds.")
            self.poll(reconnected=True)  # whatever happened while the listener was away
        elif reason.startswith(DEAF):
            log.warning("Live refresh falls back to polling: %s", reason)
            self.mode = "poll"
            self._show_state(self._polling_text(), reason)
        else:
            log.info("Live refresh lost its connection (%s)", reason)
            self._show_state(
                "Live updates: reconnecting…",
                f"The live-update connection was lost ({reason}); polling every "
                f"{max(1, round(self._poll_ms / 1000))} s meanwhile.",
            )
            self.connection.check()

    def _flush(self) -> None:
        if not self.window.isVisible():
            return
        if self._in_flight:
            self._again = True
            return
        model = self.queue_model
        reads = self.batch.take(lambda i: model.row_of(i) >= 0)
        if not reads:
            self._schedule()  # the counts wait their turn
            return
        self._run(list(reads.ids), list(reads.cohorts), model.query_filter if reads.recount else None)

    def poll(self, *, reconnected: bool = False) -> None:
        """Re-read every loaded row (up to a limit), the queue's total and, when due (or ``reconnected``:
        notifications were lost meanwhile), every count."""
        if reconnected:
            self._reconnected = True
        if not self.connection.online or self._identity() is None or not self.window.isVisible():
            return  # a hidden (closed, not yet deleted) window polls nothing
        if self._in_flight:
            self._poll_pending = True
            return
        model = self.queue_model
        ids = [row.enrollment_id for row in model.rows()[:POLL_ROW_LIMIT]]
        counts = self.batch.poll(all_counts=self._reconnected)  # the counts when due: the dearest read
        self._reconnected = False
        self._debounce.stop()
        self._run(ids, None if counts else [], model.query_filter)

    def _run(self, ids: list[int], cohorts: list[int] | None, flt: object) -> None:
        self._in_flight = True
        reads = LiveReads(tuple(ids), tuple(cohorts or ()), recount=flt is not None)
        self.runner.db(review.live_rows, self.db, ids, cohorts, flt).success(self._apply).failure(
            lambda error: self._on_failed(error, reads, all_counts=cohorts is None)
        ).finally_(self._done).start()

    def _apply(self, live: LiveRows) -> None:
        for row in live.rows:
            self.queue_model.update_row(row)
        if live.counts:
            self.tree_model.update_counts(live.counts)
        if live.total is not None:
            before = self.queue_model.total
            self.queue_model.set_total(live.total)
            if 0 <= before < live.total:
                self.new_rows.emit(live.total - before)
        self.applied.emit(live)

    def _on_failed(self, error: BaseException, reads: LiveReads, *, all_counts: bool) -> None:
        self.batch.retry(reads, all_counts=all_counts)  # read by the next re-read or poll
        if not self.connection.report_error(error):
            log.warning("Live refresh failed: %r", error)

    def _done(self) -> None:
        self._in_flight = False
        if self._poll_pending:
            self._poll_pending = False
            self.poll()
        elif self._again:
            self._again = False
            self._flush()
        else:
            self._schedule()
