"""The workstation's review claim: the one enrollment this window holds, kept alive while it is open.

The workstation window opens each enrollment it shows through ``services.review.workstation.open_for_review`` (claim, then
read) and hands the outcome to ``ReviewSession.opened``. The session then

* renews the lease on a ``QTimer`` every third of the lease (on the runner's db lane), keeping the
  newest ``row_version`` a decision left in the claim;
* says in the claim banner who else holds the enrollment ("Being reviewed by …") or how our claim was
  lost, and gives ``blocker()``, the reason decisions are refused meanwhile;
* gives the claim back when the window closes (an op the runner finishes even while shutting down).

Signals:
    changed(): the claim or the holder changed (redraw the decide buttons and the banner).
    lost(str): a renewal found the claim gone; the argument says how, in words.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

from cohortdesk.errors import ClaimConflict
from cohortdesk.lazy import lazy_module
from cohortdesk.services.access.identity import Identity
from cohortdesk.services.rows import LEASE_SECONDS, Claim, ClaimHolder
from cohortdesk.views import theme
from cohortdesk.views.connection_monitor import ConnectionMonitor
from cohortdesk.views.runner import Runner

if TYPE_CHECKING:
    from cohortdesk.services.review import claims
    from cohortdesk.services.review import workstation as review
    from cohortdesk.services.review.workstation import ReviewOpening
else:  # loaded on first use: the window is painted before SQLAlchemy loads
    claims = lazy_module("cohortdesk.services.review.claims")
    review = lazy_module("cohortdesk.services.review.workstation")

log = logging.getLogger(__name__)


def holder_text(holder: ClaimHolder | None, refusal: str | None) -> str:
    """The claim banner for an enrollment somebody else holds.

    The lease records no start, only its end; its end minus the lease length is the holder's last
    sign of life (the claim or its latest renewal)."""
    if holder is None:
        return refusal or "Another officer is opening this enrollment. Try again in a moment."
    active = holder.expires_at - timedelta(seconds=LEASE_SECONDS)
    return (
        f"Being reviewed by {holder.name} (active at {claims.clock_text(active)}; the claim runs "
        f"until {claims.clock_text(holder.expires_at)}). You can look at it but not decide on it."
    )


class ReviewSession(QObject):
    changed = Signal()
    lost = Signal(str)

    def __init__(
        self,
        window: QWidget,
        runner: Runner,
        db: Any,
        connection: ConnectionMonitor,
        identity: Callable[[], Identity | None],
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        super().__init__(window)
        self.window = window  # renewals pause while it is hidden; the banner's first parent
        self.runner = runner
        self.db = db
        self.connection = connection
        self._identity = identity
        self.lease_seconds = lease_seconds
        self.claim: Claim | None = None
        self.enrollment_id: int | None = None
        self.holder: ClaimHolder | None = None
        self.refusal: str | None = None
        self.lost_message: str | None = None
        self.claimable = True
        self._timer = QTimer(self)
        self._timer.setObjectName("claimRenewal")
        self._timer.timeout.connect(self.renew)
        self._renewing = False
        self.banner = QLabel("", window)
        self.banner.setObjectName("claimBanner")
        self.banner.setWordWrap(True)
        self.banner.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.banner.setAccessibleName("Review claim")
        self.banner.hide()

    # --- placing the banner -------------------------------------------------------------------

    def install(self, viewer: QWidget, before: object) -> None:
        """Put the banner into the document viewer's layout above ``before`` (the decide bar)."""
        layout = viewer.layout()
        if layout is None:
            return
        position = layout.indexOf(before) if isinstance(before, QWidget) else -1
        if position < 0:
            for i in range(layout.count()):
                if layout.itemAt(i).layout() is before:
                    position = i
                    break
        self.banner.setParent(viewer)
        layout.insertWidget(max(position, 0), self.banner)

    # --- state --------------------------------------------------------------------------------

    def claim_for(self, enrollment_id: int) -> Claim | None:
        claim = self.claim
        return claim if claim is not None and claim.enrollment_id == enrollment_id else None

    def held_by_other(self, enrollment_id: int) -> bool:
        return (
            self.enrollment_id == enrollment_id
            and self.claim is None
            and (self.holder is not None or self.refusal is not None)
        )

    def opening(self, enrollment_id: int) -> bool:
        """Whether ``enrollment_id`` (on screen, read ahead) is still being opened for review: its
        claim is not known yet either way."""
        return (
            review.can_claim(self._identity())
            and self.claim_for(enrollment_id) is None
            and self.enrollment_id != enrollment_id
        )

    def blocker(self, enrollment_id: int | None) -> str | None:
        """Why decisions on ``enrollment_id`` are refused right now (``None``: they are not)."""
        if not review.can_claim(self._identity()) or enrollment_id is None:
            return None
        if self.claim_for(enrollment_id) is not None:
            return None
        if self.enrollment_id != enrollment_id:
            return "Opening this enrollment for review…"
        if not self.claimable:
            return None  # no claims outside the login's tenant (the embedded store's other institutions)
        if self.lost_message:
            return self.lost_message
        if self.holder is not None:
            return f"{self.holder.name} is reviewing this enrollment; only they can decide on it now."
        return self.refusal or "This enrollment is not claimed for your review."

    def opened(self, opening: ReviewOpening) -> None:
        """The window shows ``opening``: remember the claim (or its holder) and keep the lease alive."""
        same = self.enrollment_id == opening.detail.student.enrollment_id
        self.enrollment_id = opening.detail.student.enrollment_id
        self.claim = opening.claim
        self.holder = opening.holder
        self.refusal = opening.refusal
        self.claimable = opening.claimable
        if not same:
            self.lost_message = None  # a refused decision's explanation stays until the officer moves on
        self._restart_timer()
        self._show_banner()
        self.changed.emit()

    def decided(self, claim: Claim | None, enrollment_id: int) -> None:
        """A decision answered: its claim carries the pack's new ``row_version`` (``None``: released)."""
        if self.enrollment_id == enrollment_id:
            self.claim = claim
            self.lost_message = None
            self._restart_timer()
            self._show_banner()
            self.changed.emit()

    def conflict(self, error: ClaimConflict) -> None:
        """A decision was refused for the claim's sake: show why until the enrollment is reloaded."""
        if error.enrollment_id == self.enrollment_id and getattr(error, "claim_lost", False):
            self.claim = None
            self._timer.stop()
        self.lost_message = str(error)
        self._show_banner()
        self.changed.emit()

    def forget(self) -> None:
        """The window shows no enrollment (an emptied queue); the claim is given back if held."""
        self.release()
        self.enrollment_id = None
        self.holder = None
        self.refusal = None
        self.lost_message = None
        self._show_banner()
        self.changed.emit()

    # --- lease --------------------------------------------------------------------------------

    def _restart_timer(self) -> None:
        if self.claim is None:
            self._timer.stop()
            return
        self._timer.start(max(1000, int(self.claim.lease_seconds * 1000 / 3)))

    def renew(self) -> None:
        claim = self.claim
        if claim is None or self._renewing or not self.connection.online or not self.window.isVisible():
            return
        self._renewing = True
        self.runner.db(claims.renew, self.db, claim).success(self._on_renewed).failure(
            lambda error: self._on_renew_failed(claim, error)
        ).finally_(lambda: setattr(self, "_renewing", False)).start()

    def _on_renewed(self, renewed: Claim) -> None:
        current = self.claim
        if current is not None and current.token == renewed.token:
            # Keep our row_version: a decision may have moved it while the renewal ran.
            self.claim = replace(current, expires_at=renewed.expires_at)

    def _on_renew_failed(self, claim: Claim, error: BaseException) -> None:
        if isinstance(error, ClaimConflict):
            if self.claim is not None and self.claim.token == claim.token:
                self.claim = None
                self._timer.stop()
                self.lost_message = str(error)
                self._show_banner()
                self.changed.emit()
                self.lost.emit(str(error))
            return
        if not self.connection.report_error(error):
            log.warning("Renewing the review claim failed: %r", error)

    def release(self) -> None:
        """Give the claim back (closing the window); finishes even while the runner shuts down."""
        claim, self.claim = self.claim, None
        self._timer.stop()
        if claim is not None:
            self.runner.db(review.release_quietly, self.db, claim).keep().start()

    # --- banner -------------------------------------------------------------------------------

    def _show_banner(self) -> None:
        text = ""
        kind = ""
        if self.lost_message:
            text, kind = self.lost_message, "lost"
        elif self.enrollment_id is not None and self.claim is None and (self.holder or self.refusal):
            text, kind = holder_text(self.holder, self.refusal), "held"
        self.banner.setText(text)
        self.banner.setProperty("kind", kind)
        self.banner.setStyleSheet(theme.banner_style("claimBanner", "warning", padding="6px 8px"))
        self.banner.setVisible(bool(text))
