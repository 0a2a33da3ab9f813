"""The sync indicator for a status bar: online or offline, "N changes waiting · M conflicts", when the
store last synced, and Sync now, which runs in the background with progress and Cancel.

    indicator = SyncStatusIndicator(runner, db)
    window.statusBar().addPermanentWidget(indicator)
    indicator.conflicts_requested.connect(open_inbox)

Its counts are cheap local queries, re-read after each edit (``refresh()``) and every half minute.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QProgressBar,
    QToolButton,
    QWidget,
)

from cohortdesk.errors import SyncError
from cohortdesk.services.configuration import sync_actions as admin_sync
from cohortdesk.services.sync import SyncStatus, sync_status
from cohortdesk.services.sync.engine import SyncReport
from cohortdesk.views.errors import show_error, user_message
from cohortdesk.views.runner import Op, Runner
from cohortdesk.views.theme import colours

REFRESH_MS = 30_000


def relative_time(moment: datetime | None, now: datetime | None = None) -> str:
    """ "just now", "12 min ago", "3 h ago", "yesterday 14:05" or "12 Mar 14:05"."""
    if moment is None:
        return "never"
    now = now or datetime.now(UTC)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    seconds = (now - moment).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 6 * 3600:
        return f"{int(seconds // 3600)} h ago"
    local = moment.astimezone()
    if (now.astimezone().date() - local.date()).days == 1:
        return f"yesterday {local:%H:%M}"
    if local.date() == now.astimezone().date():
        return f"today {local:%H:%M}"
    return f"{local:%d %b %H:%M}"


class SyncStatusIndicator(QWidget):
    """Status-bar widget; emits ``conflicts_requested`` when the person asks to see the conflicts."""

    #: The person clicked the counts to open the conflict inbox.
    conflicts_requested = Signal()
    #: A sync finished (the ``SyncReport``); open screens may want to reload.
    synced = Signal(object)
    #: The status was read again (the ``SyncStatus``).
    status_changed = Signal(object)

    def __init__(self, runner: Runner, db: Any, parent: QWidget | None = None, *, poll: bool = True) -> None:
        super().__init__(parent)
        self.setObjectName("syncStatusIndicator")
        self.runner = runner
        self.db = db
        self.status: SyncStatus | None = None
        self._op: Op | None = None
        self._refreshing = False
        self.last_report: SyncReport | None = None

        self.state_label = QLabel("…")
        self.state_label.setObjectName("syncState")
        self.state_label.setAccessibleName("Connection")
        self.counts_button = QToolButton()
        self.counts_button.setObjectName("syncCounts")
        self.counts_button.setAutoRaise(True)
        self.counts_button.setAccessibleName("Changes waiting and conflicts; opens the conflict inbox")
        self.counts_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.counts_button.clicked.connect(self.conflicts_requested)
        self.last_label = QLabel()
        self.last_label.setObjectName("syncLast")
        self.last_label.setProperty("role", "hint")
        self.progress = QProgressBar()
        self.progress.setObjectName("syncProgress")
        self.progress.setAccessibleName("Sync progress")
        self.progress.setFixedWidth(140)
        self.progress.setMaximumHeight(14)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.progress_text = QLabel()
        self.progress_text.setObjectName("syncProgressText")
        self.progress_text.hide()
        self.sync_button = QToolButton()
        self.sync_button.setObjectName("syncNowButton")
        self.sync_button.setText("Sync now")
        self.sync_button.setToolTip("Send the changes waiting here and receive the server's (Shift+F5)")
        self.sync_button.setAccessibleName("Sync now")
        self.sync_button.clicked.connect(self.sync_now)
        self.cancel_button = QToolButton()
        self.cancel_button.setObjectName("syncCancelButton")
        self.cancel_button.setText("Cancel")
        self.cancel_button.setAccessibleName("Cancel the sync")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.hide()

        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.setSpacing(10)
        for widget in (
            self.state_label,
            self.counts_button,
            self.last_label,
            self.progress_text,
            self.progress,
            self.cancel_button,
            self.sync_button,
        ):
            layout.addWidget(widget)

        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        #: Connected straight to the shared PostgreSQL: edits land on the server, nothing to sync.
        self.direct = not getattr(db, "is_sqlite", True)
        if self.direct:
            self.state_label.setText(f"<span style='color:{colours().ok}'>●</span> Connected to the server")
            self.state_label.setToolTip("Edits are saved on the server directly; there is nothing to sync.")
            for widget in (self.counts_button, self.last_label, self.sync_button):
                widget.hide()
            return
        if poll:
            self._timer.start()
        self.refresh()

    # --- status --------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the counts again (in the background)."""
        if self._refreshing or self.direct:
            return
        self._refreshing = True

        def done() -> None:
            self._refreshing = False

        self.runner.db(sync_status, self.db).success(self.show_status).failure(self._status_failed).finally_(
            done
        ).start()

    def _status_failed(self, error: BaseException) -> None:
        self.state_label.setText("Sync status unknown")
        self.state_label.setToolTip(user_message(error))

    def show_status(self, status: SyncStatus) -> None:
        self.status = status
        c = colours()
        if not status.paired:
            state, colour, tip = "Local only", c.muted, "This store has not synced with a server yet."
        elif status.needs_update:
            state, colour, tip = "Update CohortDesk", c.warning, status.last_error or ""
        elif status.failed:
            state, colour = "Sync failed", c.error
            tip = f"{status.last_error}\nSync now tries again; nothing waiting here was lost."
        elif status.online is False:
            state, colour, tip = "Offline", c.warning, status.last_error or "The server could not be reached."
        elif status.online:
            state, colour, tip = "Online", c.ok, f"Syncs with {status.server_url}"
        else:
            state, colour, tip = "Not synced yet", c.muted, f"Syncs with {status.server_url}"
        self.state_label.setText(f"<span style='color:{colour}'>●</span> {state}")
        self.state_label.setToolTip(tip)
        self.counts_button.setText(status.describe())
        bold = QFont(self.counts_button.font())
        bold.setBold(True)  # wide enough for the bold text shown while conflicts are open
        self.counts_button.setMinimumWidth(QFontMetrics(bold).horizontalAdvance(status.describe()) + 24)
        self.counts_button.setToolTip(
            "Open the conflict inbox"
            if status.conflicts
            else "Changes made here that the server has not received yet"
        )
        weight = "600" if status.conflicts else "normal"
        self.counts_button.setStyleSheet(f"QToolButton {{ font-weight: {weight}; }}")
        self.last_label.setText(f"Last synced {relative_time(status.last_synced_at)}")
        if status.last_synced_at:
            self.last_label.setToolTip(status.last_synced_at.astimezone().strftime("%d %b %Y %H:%M:%S"))
        self.status_changed.emit(status)

    # --- syncing -------------------------------------------------------------------------------

    @property
    def syncing(self) -> bool:
        return self._op is not None

    def sync_now(self) -> None:
        """Sync in the background; asks for the server the first time."""
        if self.syncing or self.direct:
            return
        server = None
        if self.status is not None and not self.status.paired and not os.environ.get(admin_sync.SERVER_ENV):
            server = self.ask_server()
            if not server:
                return
        self._set_busy(True)
        # On the I/O lane: a sync waits on the network, and screens keep reading the store meanwhile.
        op = self.runner.io(admin_sync.sync_now, self.db, server)
        op.progress(self._on_progress).success(self._on_synced).failure(self._on_failed).finally_(self._done)
        self._op = op  # before start(): a synchronous runner finishes inside start()
        op.start()

    def ask_server(self) -> str | None:
        """The first sync names the server; separate so tests can answer it."""
        text, ok = QInputDialog.getText(
            self,
            "Sync with a server",
            "PostgreSQL address of your institution's server\n(e.g. postgresql://you@server.example/cohortdesk):",
            QLineEdit.EchoMode.Normal,
        )
        return text.strip() if ok and text.strip() else None

    def cancel(self) -> None:
        if self._op is not None:
            # the engine stops between batches; what was sent stays sent
            self.progress_text.setText("Stopping after this batch…")
            self._op.token.cancel()

    def _on_progress(self, done: int, total: int, text: str) -> None:
        self.progress.setRange(0, max(total, 0))
        self.progress.setValue(min(done, total) if total else 0)
        self.progress_text.setText(text)

    def _message(self, text: str) -> None:
        bar = getattr(self.window(), "statusBar", None)
        if callable(bar):
            bar().showMessage(text, 8000)

    def _on_synced(self, report: SyncReport) -> None:
        self.last_report = report
        self._message(report.describe())
        self.synced.emit(report)

    def _on_failed(self, error: BaseException) -> None:
        if isinstance(error, SyncError) and self.status is not None and not self.status.paired:
            show_error(self, error, "Sync")
            return
        show_error(self, error, "Sync did not finish")

    def _done(self) -> None:
        if self._op is not None and self._op.token():
            self._message("Sync cancelled: what was sent stays sent; the rest waits for the next sync.")
        self._op = None
        self._set_busy(False)
        self.refresh()

    def _set_busy(self, busy: bool) -> None:
        self.sync_button.setEnabled(not busy)
        self.progress.setVisible(busy)
        self.progress_text.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.last_label.setVisible(not busy)
        if busy:
            self.progress.setRange(0, 0)  # busy until the first progress report
            self.progress_text.setText("Syncing…")
