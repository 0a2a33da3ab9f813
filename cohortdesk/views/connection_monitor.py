"""Online or offline, as the workstation shows it: an offline banner, backoff health checks, a signal
when the database is back.

Any database call that fails with a disconnect (``services.connectivity.is_disconnect``) is reported
here (``report_error``); the window then shows "Offline — reconnecting…", blocks decisions only (what
is already loaded stays readable) and the monitor runs ``health_check`` on the runner's db lane after
1, 2, 4 … 15 s until it succeeds. ``online_changed(True)`` then tells the window to re-claim the open
enrollment, replay the decision in flight and refresh.

Signals:
    online_changed(bool): the state flipped.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

from cohortdesk.services import connectivity, review
from cohortdesk.views.runner import Runner

log = logging.getLogger(__name__)

OFFLINE_TEXT = "Offline — reconnecting…"


class ConnectionMonitor(QObject):
    online_changed = Signal(bool)

    def __init__(
        self,
        runner: Runner,
        db: object,
        parent: QObject | None = None,
        first_delay_ms: int = 1000,
        max_delay_ms: int = 15000,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self.db = db
        self.tracker = connectivity.ConnectionTracker()
        self.first_delay_ms = first_delay_ms
        self.max_delay_ms = max_delay_ms
        self._delay = first_delay_ms
        self._checking = False
        self._closed = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.check)
        self.banner = QLabel(OFFLINE_TEXT)
        self.banner.setObjectName("offlineBanner")
        self.banner.setAccessibleName("Connection state")
        self.banner.setWordWrap(True)
        self.banner.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.banner.setStyleSheet(
            "QLabel#offlineBanner { background: #fde2e1; color: #7a1712; border: 1px solid #e7a19d; "
            "border-radius: 4px; padding: 6px 10px; font-weight: 600; }"
        )
        self.banner.hide()

    def install(self, container: QWidget) -> None:
        """Put the banner at the top of ``container``'s vertical layout."""
        layout = container.layout()
        self.banner.setParent(container)
        if layout is not None and hasattr(layout, "insertWidget"):
            layout.insertWidget(0, self.banner)

    @property
    def online(self) -> bool:
        return self.tracker.online

    def report_error(self, error: BaseException) -> bool:
        """Note a failed call; True when it was a disconnect (the window is offline now)."""
        if not connectivity.is_disconnect(error):
            return False
        self.go_offline(str(error).splitlines()[0] if str(error) else type(error).__name__)
        return True

    def go_offline(self, reason: str = "") -> None:
        if self._closed:
            return
        was_online = self.tracker.online
        self.tracker.set_online(False, reason)
        if was_online:
            log.warning("The database went away (%s); reconnecting", reason)
            self._delay = self.first_delay_ms
            self.banner.setText(OFFLINE_TEXT)
            self.banner.setToolTip(
                "CohortDesk cannot reach the database. Documents already open stay visible; decisions "
                f"wait until the connection is back.\n{reason}"
            )
            self.banner.show()
            self.online_changed.emit(False)
        if not self._timer.isActive() and not self._checking:
            self._timer.start(self._delay)

    def check(self) -> None:
        """Ask the database whether it is reachable (on the db lane); back off while it is not."""
        if self._checking or self._closed:
            return
        self._checking = True
        self.runner.db(review.health, self.db).success(self._on_health).failure(
            lambda _error: self._on_health(False)
        ).start()

    def _on_health(self, ok: bool) -> None:
        self._checking = False
        if self._closed:
            return
        if not ok:
            if self.tracker.online:
                self.go_offline("the health check failed")
                return
            self._delay = min(self.max_delay_ms, self._delay * 2)
            self.banner.setText(f"{OFFLINE_TEXT} (next try in {max(1, round(self._delay / 1000))} s)")
            self._timer.start(self._delay)
            return
        if not self.tracker.online:
            log.info("The database is reachable again")
            self.tracker.set_online(True)
            self.banner.hide()
            self.online_changed.emit(True)

    def close(self) -> None:
        self._closed = True
        self._timer.stop()
