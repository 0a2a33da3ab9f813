"""Online or offline, as the workstation shows it: an offline banner, backoff health checks, a signal
when the database is back.

Any database call that fails for a connection reason is reported here (``report_error``), and the
one classifier (``services.connection.connectivity.classify_connection_error``) says which:

* an outage (network, server restart): "Offline — reconnecting…"; decisions are blocked (what is
  loaded stays readable) and ``check_connection`` runs on the runner's db lane after about 1, 2, 4 …
  15 s, each delay with random jitter so a room of workstations does not come back in lockstep;
* a full server: the same, saying the server is full;
* anything retrying cannot fix (the password was changed, the login removed, the certificate
  expired): the banner says what is wrong, the retrying stops, and ``credentials_refused`` asks the
  composition root to show the login dialog again.

``online_changed(True)`` then tells the window to re-claim the open enrollment, replay the decision
in flight and refresh.

Signals:
    online_changed(bool): the state flipped.
    credentials_refused(str): the login no longer works; the text says why.
"""

from __future__ import annotations

import logging
import random

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

from cohortdesk.services.connection import connectivity
from cohortdesk.services.connection.connectivity import ConnectionProblem
from cohortdesk.views import theme
from cohortdesk.views.runner import Runner

log = logging.getLogger(__name__)

OFFLINE_TEXT = "Offline — reconnecting…"
FULL_TEXT = "The database server is full — retrying…"
STOPPED_TEXT = "Not connected: "


def jittered(delay_ms: int) -> int:
    """``delay_ms`` spread over its upper half, so workstations do not retry in lockstep."""
    return int(delay_ms * (0.5 + random.random() / 2))


class ConnectionMonitor(QObject):
    online_changed = Signal(bool)
    credentials_refused = Signal(str)

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
        self._base_text = OFFLINE_TEXT
        self._checking = False
        self._closed = False
        self.stopped: ConnectionProblem | None = None  # a problem retrying cannot fix
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.check)
        self.banner = QLabel(OFFLINE_TEXT)
        self.banner.setObjectName("offlineBanner")
        self.banner.setAccessibleName("Connection state")
        self.banner.setWordWrap(True)
        self.banner.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.banner.hide()

    def _show_banner(self) -> None:
        self.banner.setStyleSheet(theme.banner_style("offlineBanner", "error", bold=True))  # the theme now
        self.banner.show()

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
        """Note a failed call; True when it was a connection problem (shown in the banner now)."""
        problem = connectivity.classify_connection_error(error)
        if problem is None:
            return False
        if problem.retry:
            self.go_offline(problem.detail or problem.message, problem)
        else:
            self.stop_retrying(problem)
        return True

    def go_offline(self, reason: str = "", problem: ConnectionProblem | None = None) -> None:
        if self._closed or self.stopped is not None:
            return
        was_online = self.tracker.online
        self.tracker.set_online(False, reason)
        full = problem is not None and problem.kind == connectivity.SERVER_FULL
        self._base_text = FULL_TEXT if full else OFFLINE_TEXT
        if was_online:
            log.warning("The database went away (%s); reconnecting", reason)
            self._delay = self.first_delay_ms
            self.banner.setText(self._base_text)
            self.banner.setToolTip(
                (problem.message + "\n" if full and problem else "")
                + "CohortDesk cannot reach the database. Documents already open stay visible; decisions "
                f"wait until the connection is back.\n{reason}"
            )
            self._show_banner()
            self.online_changed.emit(False)
        if not self._timer.isActive() and not self._checking:
            self._timer.start(jittered(self._delay))

    def stop_retrying(self, problem: ConnectionProblem) -> None:
        """The login no longer works and waiting will not change that: say so, stop the health
        checks and ask for the login again (once)."""
        if self._closed or self.stopped is not None:
            return
        self.stopped = problem
        self._timer.stop()
        was_online = self.tracker.online
        self.tracker.set_online(False, problem.message)
        log.warning("The database refused this login (%s); not retrying", problem.kind)
        self.banner.setText(STOPPED_TEXT + problem.message)
        self.banner.setToolTip(problem.detail)
        self._show_banner()
        if was_online:
            self.online_changed.emit(False)
        self.credentials_refused.emit(problem.message)

    def check(self) -> None:
        """Ask the database whether it is reachable (on the db lane); back off while it is not."""
        if self._checking or self._closed or self.stopped is not None:
            return
        self._checking = True
        self.runner.db(connectivity.check_connection, self.db, 3.0).success(self._on_checked).failure(
            lambda error: self._on_checked(
                connectivity.classify_connection_error(error)
                or ConnectionProblem(connectivity.OUTAGE, str(error))
            )
        ).start()

    def _on_checked(self, problem: ConnectionProblem | None) -> None:
        self._checking = False
        if self._closed:
            return
        if problem is not None and not problem.retry:
            self.stop_retrying(problem)
            return
        if problem is not None:
            if self.tracker.online:
                self.go_offline(problem.detail or "the health check failed", problem)
                return
            self._base_text = FULL_TEXT if problem.kind == connectivity.SERVER_FULL else OFFLINE_TEXT
            self._delay = min(self.max_delay_ms, self._delay * 2)
            wait = jittered(self._delay)
            self.banner.setText(f"{self._base_text} (next try in {max(1, round(wait / 1000))} s)")
            self._timer.start(wait)
            return
        if not self.tracker.online:
            log.info("The database is reachable again")
            self.tracker.set_online(True)
            self.banner.hide()
            self.online_changed.emit(True)

    def close(self) -> None:
        self._closed = True
        self._timer.stop()
