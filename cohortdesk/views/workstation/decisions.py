"""The workstation's decisions: Approve / Reject on the current document, what blocks them, the reject
form with the institution's numbered reasons, and the outbox that keeps a decision whose answer was
lost until it is replayed with its idempotency key.

Every decision goes through the one service call (``services.review.workstation.decide``); this part only builds
the command and reports the outcome.

A decision is written in the background while the window moves on at once: ``sending`` says what was
decided as the write starts (the window shows it as decided and goes to the next document), and
``recorded`` brings the database's read-back to reconcile with; a refusal (``refused``) is told in
words through ``views.errors`` and brings its document back, and a dropped connection keeps the
decision in the outbox until it is replayed with its key.

Decisions made quickly one after another (A, A, A through a queue) are taken in the order they were
made: each is written after the ones before it, on its own document, once (a document whose
decision is still being saved is not decided again). A decision on an enrollment still being
opened for review waits for its claim, and is sent then if the document is still the one the
officer saw; if the enrollment cannot be claimed, or the document changed meanwhile, it is refused
in words and its document brought back, as is any decision the database refuses.

Signals:
    sending(object, object): a decision is being written; the ``DecisionCommand`` and the
        ``DocumentRow`` it decides (as it was before).
    recorded(object, object): a decision was saved; a ``QueueDecision`` and the ``DocumentRow`` decided.
    refused(int, str): the database refused a decision (not a dropped connection): the enrollment and
        document type it was about, to show again as they are.
    undone(object, str): the last decision was taken back (a reversal on the trail); the
        ``QueueDecision`` and the type of the document it was about.
    stale(int, str): the database refused a decision as out of date: reopen this enrollment/document.
    controls_changed(): the decide buttons were redrawn (enabled state may differ).
    activity(str): a short word for the status bar's activity slot ("" clears it).
    message(str, int): a line for the status bar and how long to show it (ms).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from cohortdesk.errors import ClaimConflict, ConflictError
from cohortdesk.lazy import lazy_module
from cohortdesk.services.access.identity import Identity
from cohortdesk.services.configuration.rejection_reasons import RejectionReason, rejection_reasons
from cohortdesk.services.connection import connectivity
from cohortdesk.views.connection_monitor import ConnectionMonitor
from cohortdesk.views.errors import show_error
from cohortdesk.views.reject_dialog import RejectDialog
from cohortdesk.views.runner import Runner
from cohortdesk.views.workstation.detail_pane import DetailPane
from cohortdesk.views.workstation.layout import WorkstationView
from cohortdesk.views.workstation.review_session import ReviewSession

if TYPE_CHECKING:
    from cohortdesk.services.review import decisions as verification
    from cohortdesk.services.review import workstation as review
    from cohortdesk.services.review.decisions import DecisionCommand
    from cohortdesk.services.review.queue_rows import DocumentRow, QueueDecision
    from cohortdesk.services.review.workstation import ReviewOpening
else:  # loaded on first use: the window is painted before SQLAlchemy loads
    verification = lazy_module("cohortdesk.services.review.decisions")
    review = lazy_module("cohortdesk.services.review.workstation")


@dataclass
class _Press:
    """One decision made at the workstation, from the key press until its answer."""

    command: DecisionCommand
    doc: DocumentRow  # as it was on screen when decided
    ready: bool  # its claim is known (a decision on an enrollment being opened waits for it)
    sent: bool = False


class Decisions(QObject):
    sending = Signal(object, object)
    recorded = Signal(object, object)
    refused = Signal(int, str)
    undone = Signal(object, str)
    stale = Signal(int, str)
    controls_changed = Signal()
    activity = Signal(str)
    message = Signal(str, int)

    def __init__(
        self,
        ui: WorkstationView,
        detail: DetailPane,
        review_session: ReviewSession,
        connection: ConnectionMonitor,
        runner: Runner,
        db: Any,
        window: QWidget,
    ) -> None:
        super().__init__(window)
        self.ui = ui
        self.detail = detail
        self.review = review_session
        self.connection = connection
        self.runner = runner
        self.db = db
        self.window = window  # parent of the dialogs
        self.identity: Identity | None = None
        self._outbox: verification.DecisionOutbox | None = None  # made on first use (``outbox``)
        self._presses: list[_Press] = []  # made and not yet answered, in the order they were made
        self._undoing = False
        self._replaying = False
        self.reasons: dict[int | None, list[RejectionReason]] = {}
        self._unsent_reason: tuple[int, str, str] | None = None  # (enrollment, document type, text)
        self.reject_dialog: RejectDialog | None = None
        self.change_box: QMessageBox | None = None
        self._form_target: tuple[int, str] | None = None
        #: The last decision made here, for Ctrl+Z: (enrollment, document type, words, when).
        self.last_decision: tuple[int, str, str, float] | None = None
        detail.document_changed.connect(self.follow_document)
        ui.approve_button.clicked.connect(self.approve)
        ui.reject_button.clicked.connect(self.reject_current)

    @property
    def outbox(self) -> verification.DecisionOutbox:
        """Decisions sent and not yet answered (made on first use, with the decision code)."""
        if self._outbox is None:
            self._outbox = verification.DecisionOutbox()
        return self._outbox

    # --- what may be decided -------------------------------------------------------------------

    @property
    def deciding(self) -> bool:
        """A decision (or an undo, or a replay) is on its way and not yet answered."""
        return bool(self._presses) or self._undoing or self._replaying

    def waiting(self) -> bool:
        """A decision made on an enrollment still being opened waits for its claim (not sent yet)."""
        return any(not p.ready for p in self._presses)

    def pending(self) -> list[tuple[DecisionCommand, DocumentRow]]:
        """The decisions made and not yet answered, in order: (command, document as decided on)."""
        return [(p.command, p.doc) for p in self._presses]

    def _kept_offline(self) -> bool:
        """The outbox keeps a decision whose answer was lost (besides those on their way now)."""
        return self._outbox is not None and len(self._outbox) > sum(1 for p in self._presses if p.sent)

    def blocker(self, action: str) -> str | None:
        """Why the current document cannot be decided now (None when it can)."""
        identity = self.identity
        if identity is None:
            return "CohortDesk is still opening the database."
        if not identity.can("decide"):
            return "Your role can look at the queue but not record decisions."
        if identity.user_id is None:
            return "This login is not linked to a CohortDesk user."
        doc, detail = self.detail.current_document(), self.detail.detail
        if detail is None or doc is None:
            return "Select an enrollment and a document first."
        if self._undoing or self._replaying:
            return "The previous decision is still being saved."
        if not self.connection.online:
            return "Offline — decisions wait until the connection to the database is back."
        if self._kept_offline():
            return "A decision made while offline is still being sent."
        enrollment_id = detail.student.enrollment_id
        claim_blocker = self.review.blocker(enrollment_id)
        if claim_blocker is not None and not self.review.opening(enrollment_id):
            return claim_blocker  # (one being opened is decided on and waits for its claim)
        if any(
            p.command.enrollment_id == enrollment_id and p.command.document_type == doc.document_type
            for p in self._presses
        ):
            return "The decision on this document is still being saved."
        if not doc.uploaded:
            return "Nothing to decide: this document has not been uploaded yet."
        if doc.uploaded and not doc.upload:
            return "This document needs the special personal information permission."
        if doc.latest_action == action and doc.decision_current:
            verb = "approved" if action == "approved" else "rejected"
            return f"This document is already {verb}."
        if action == "approved" and self.reject_form_open():
            return "The reject form is open: send it (Ctrl+Enter) or put it away (Esc) first."
        return None

    def reject_form_open(self) -> bool:
        return self.reject_dialog is not None and self.reject_dialog.isVisible()

    def _confirm_change(self, doc: DocumentRow, action: str, then: Any) -> None:
        """A decision on a document decided already (on its current file) asks first; ``then()`` on yes."""
        if doc.latest_action is None or not doc.decision_current:
            then()
            return
        was = "approved" if doc.latest_action == "approved" else "rejected"
        to = "approve" if action == "approved" else "reject"
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Change decision?",
            f"Change decision? {doc.label} was {was} by {doc.latest_by or 'an officer'}.",
            QMessageBox.StandardButton.Cancel,
            self.window,
        )
        box.setObjectName("changeDecisionBox")
        box.setInformativeText(
            f"If you {to} it now, both decisions stay on the record; the newer one counts."
        )
        change = box.addButton(f"{to.capitalize()} instead", QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        self.change_box = box

        def answered(_result: int) -> None:
            if self.change_box is box:
                self.change_box = None
            box.deleteLater()
            if box.clickedButton() is change:
                then()

        box.finished.connect(answered)
        box.open()

    def update_controls(self) -> None:
        ui = self.ui
        approve_blocker = self.blocker("approved")
        reject_blocker = self.blocker("rejected")
        ui.approve_button.setEnabled(approve_blocker is None)
        ui.reject_button.setEnabled(reject_blocker is None)
        ui.approve_button.setToolTip(approve_blocker or "Approve this document (A)")
        ui.reject_button.setToolTip(reject_blocker or "Reject this document with a reason (R)")
        self.controls_changed.emit()

    # --- approve, reject ---------------------------------------------------------------------

    def approve(self) -> None:
        blocker = self.blocker("approved")
        doc = self.detail.current_document()
        if blocker is not None or doc is None:
            self.message.emit(blocker or "Nothing to decide.", 5000)
            return
        enrollment_id, document_type = doc.enrollment_id, doc.document_type
        self._confirm_change(
            doc, "approved", lambda: self.decide("approved", None, None, enrollment_id, document_type)
        )

    def reject_current(self) -> None:
        blocker = self.blocker("rejected")
        doc = self.detail.current_document()
        if blocker is not None or doc is None:
            self.message.emit(blocker or "Nothing to decide.", 5000)
            return
        self._confirm_change(doc, "rejected", self._open_reject_form)

    def _open_reject_form(self) -> None:
        detail = self.detail.detail
        if detail is None:
            return
        assert detail is not None
        institution_id = detail.student.institution_id
        cached = self.reasons.get(institution_id)
        if cached is not None:
            self._open_reject_dialog(cached)
            return
        self.runner.db(rejection_reasons, self.db, institution_id).success(
            lambda reasons: (
                self.reasons.__setitem__(institution_id, reasons),
                self._open_reject_dialog(reasons),
            )
        ).start()

    def prefetch_reasons(self, institution_id: int) -> None:
        if institution_id not in self.reasons:
            self.runner.db(rejection_reasons, self.db, institution_id).success(
                lambda reasons: self.reasons.__setitem__(institution_id, reasons)
            ).failure(lambda _error: None).start()

    def _open_reject_dialog(self, reasons: list[RejectionReason]) -> None:
        doc, detail = self.detail.current_document(), self.detail.detail
        if (
            doc is None
            or detail is None
            or (self.reject_dialog is not None and self.reject_dialog.isVisible())
        ):
            return
        kept = ""
        if self._unsent_reason and self._unsent_reason[:2] == (
            detail.student.enrollment_id,
            doc.document_type,
        ):
            kept = self._unsent_reason[2]
        dock = self.ui.reject_dock
        dialog = RejectDialog(
            reasons,
            doc.label,
            detail.student.student_name,
            dock,
            message=kept,
            docked=True,
            note=self.ui.internal_note.text().strip(),
        )
        enrollment_id, document_type = detail.student.enrollment_id, doc.document_type

        def confirmed() -> None:
            self.decide(
                "rejected",
                dialog.reason_text,
                dialog.reason_code,
                enrollment_id,
                document_type,
                note=dialog.note_text,
            )

        def closed() -> None:
            self.ui.dock_reject_form(None)
            if self.reject_dialog is dialog:
                self.reject_dialog = None
            dialog.deleteLater()
            self.update_controls()
            self.ui.queue_table.setFocus(Qt.FocusReason.OtherFocusReason)

        dialog.accepted.connect(confirmed)
        dialog.finished.connect(lambda _result: closed())
        self._form_target = (enrollment_id, document_type)
        self.reject_dialog = dialog
        self.ui.dock_reject_form(dialog)
        dialog.open()
        dialog.reason_list.setFocus(Qt.FocusReason.OtherFocusReason)
        self.update_controls()

    def follow_document(self) -> None:
        """Another document is on screen: a reject form written for the previous one goes away unsent
        (its text is kept for that document, see ``_unsent_reason``)."""
        if not self.reject_form_open():
            return
        doc = self.detail.current_document()
        if doc is None or (doc.enrollment_id, doc.document_type) != self._form_target:
            dialog = self.reject_dialog
            assert dialog is not None
            if dialog.reason_text:
                self._unsent_reason = (*self._form_target, dialog.reason_text)
            dialog.reject()

    def decide(
        self,
        action: str,
        reason: str | None = None,
        reason_code: str | None = None,
        enrollment_id: int | None = None,
        document_type: str | None = None,
        note: str | None = None,
    ) -> None:
        blocker = self.blocker(action)
        doc, detail = self.detail.current_document(), self.detail.detail
        if blocker is not None or doc is None or detail is None:
            self.message.emit(blocker or "Nothing to decide.", 5000)
            return
        if enrollment_id is not None and (
            enrollment_id != detail.student.enrollment_id or document_type != doc.document_type
        ):
            self.message.emit("The selection changed; the decision was not recorded.", 5000)
            return
        assert self.identity is not None and self.identity.user_id is not None
        enrollment_id = detail.student.enrollment_id
        claim = self.review.claim_for(enrollment_id)
        opening = claim is None and self.review.opening(enrollment_id)
        command = verification.DecisionCommand(
            enrollment_id=enrollment_id,
            document_type=doc.document_type,
            action=action,
            reason=reason,
            reason_code=reason_code,
            internal_note=note if note is not None else (self.ui.internal_note.text().strip() or None),
            # Under a claim the claim's row_version is the condition (one being opened: the claim
            # it gets); without one (no claims for this login) the version read.
            expected_row_version=None if claim is not None or opening else detail.student.row_version,
            idempotency_key=str(uuid.uuid4()),
            claim=claim,
        )
        self._presses.append(_Press(command, doc, ready=not opening))
        if command.internal_note and self.ui.internal_note.text().strip() == command.internal_note:
            self.ui.internal_note.clear()  # it goes with this decision, not the next (put back if refused)
        # The write (and what moving on starts: the next claim, the access log) begins on the next
        # turn of the event loop, in that order: the next document reaches the screen first.
        with self.runner.deferred():
            self._send_ready()
            self.sending.emit(command, doc)  # the window moves on while it is written
            self.update_controls()
            self.activity.emit("Saving the decision…")

    def _send_ready(self) -> None:
        """Send the decisions whose turn it is: in the order they were made, each once its claim is
        known (the database lane writes them one after another)."""
        if not self.connection.online or self._kept_offline():
            return  # the outbox's decisions go first, when the connection is back
        for press in self._presses:
            if press.sent:
                continue
            if not press.ready:
                return  # those after it wait too: decisions are written in the order made
            press.sent = True
            # Kept until answered: a decision whose reply is lost is replayed with its key. Written
            # even if the window closes first (the officer saw it taken), before the claim goes back.
            command = self.outbox.add(press.command)
            self.runner.db(review.decide, self.db, command, self.identity, chain=self.outbox.chain).success(
                lambda outcome, press=press: self._on_decided(outcome, press)
            ).failure(lambda error, press=press: self._on_decide_failed(error, press)).keep().start()

    def claimed(self, opening: ReviewOpening, still_to_open: int | None) -> None:
        """An enrollment was opened for review (claimed, or found held): decisions made on it while
        it was being opened are sent now, if their document is still as the officer saw it; those
        on an enrollment that will not be opened now (``still_to_open`` is the one the window opens
        next) cannot be sent."""
        opened_id = opening.detail.student.enrollment_id
        refusals: list[tuple[_Press, str]] = []
        for press in self._presses:
            if press.ready:
                continue
            enrollment_id = press.command.enrollment_id
            if enrollment_id == opened_id:
                now = next(
                    (d for d in opening.detail.documents if d.document_type == press.doc.document_type), None
                )
                blocker = None if opening.claim is not None else self.review.blocker(enrollment_id)
                if blocker is not None:
                    if self.review.opening(enrollment_id):  # not taken in (offline meanwhile)
                        blocker = "the enrollment could not be claimed for your review."
                    refusals.append((press, blocker))
                elif now is None or _changed(press.doc, now):
                    refusals.append(
                        (
                            press,
                            f"{press.doc.label} changed while the enrollment was being opened (a new "
                            "file or another officer's decision). Look at it again before deciding.",
                        )
                    )
                elif opening.claim is not None:
                    press.command = replace(press.command, claim=opening.claim)
                    press.ready = True
                else:  # no claim to take here (another tenant's pack): the version read decides
                    press.command = replace(
                        press.command, expected_row_version=opening.detail.student.row_version
                    )
                    press.ready = True
            elif enrollment_id != still_to_open:
                refusals.append((press, "The enrollment was not open for review yet."))
        self._refuse(refusals)
        self._send_ready()

    def abandon_waiting(self, why: str) -> None:
        """The enrollment being opened could not be read: decisions waiting for its claim are not sent."""
        self._refuse([(p, why) for p in self._presses if not p.ready])

    def _refuse(self, refusals: list[tuple[_Press, str]]) -> None:
        """Decisions that could not be sent: dropped now, and on the next turn (after the opening
        that found them is done) told in words, their documents brought back (per enrollment, the
        first one's)."""
        notices: list[tuple[int, str, str]] = []
        for press, why in refusals:
            self._presses.remove(press)
            command = press.command
            self._keep_words(command)
            if all(n[0] != command.enrollment_id for n in notices):
                verb = "approval" if command.action == "approved" else "rejection"
                text = f"The {verb} of {press.doc.label} was not recorded: {why}"
                notices.append((command.enrollment_id, command.document_type, text))
        if notices:
            QTimer.singleShot(0, lambda: self._tell_refused(notices))

    def _tell_refused(self, notices: list[tuple[int, str, str]]) -> None:
        for enrollment_id, document_type, text in notices:
            self.refused.emit(enrollment_id, document_type)
            self.message.emit(text, 15000)
            show_error(self.window, ConflictError(text), "Recording the decision")
        if not self._presses:
            self.activity.emit("")
        self.update_controls()

    def _on_decided(self, outcome: QueueDecision, press: _Press) -> None:
        doc, command = press.doc, press.command
        verb = "approval" if command.action == "approved" else "rejection"
        self.last_decision = (
            command.enrollment_id,
            command.document_type,
            f"the {verb} of {doc.label} of {outcome.detail.student.student_name}",
            time.monotonic(),
        )
        self.outbox.done(command)
        self._presses.remove(press)
        self._unsent_reason = None
        if not self._presses:
            self.activity.emit("")
        self.review.decided(outcome.result.claim, outcome.row.enrollment_id)
        self.recorded.emit(outcome, doc)
        self.update_controls()

    def _keep_words(self, command: DecisionCommand, *, note: bool = True) -> None:
        """A decision not recorded (yet): what the officer typed for it is kept to send again (its
        note too, unless the outbox keeps the decision with it)."""
        if command.action == "rejected" and command.reason:
            self._unsent_reason = (command.enrollment_id, command.document_type, command.reason)
        if note and command.internal_note and not self.ui.internal_note.text().strip():
            self.ui.internal_note.setText(command.internal_note)

    def _on_decide_failed(self, error: BaseException, press: _Press) -> None:
        command = press.command
        self._presses.remove(press)
        if not self._presses:
            self.activity.emit("")
        kept = self.connection.report_error(error)
        self._keep_words(command, note=not kept)
        if kept:
            # The outcome is unknown: the command stays in the outbox and is replayed with its key.
            self.message.emit(
                "The connection dropped while saving. The decision is kept and will be sent when the "
                "database is back.",
                10000,
            )
            self.update_controls()
            return
        self.outbox.done(command)
        if isinstance(error, ClaimConflict):
            self.review.conflict(error)
        self.update_controls()
        self.refused.emit(command.enrollment_id, command.document_type)
        if isinstance(error, ConflictError):
            self.message.emit(str(error), 15000)
            self.stale.emit(command.enrollment_id, command.document_type)
        show_error(self.window, error, "Recording the decision")

    # --- undo ---------------------------------------------------------------------------------

    def undo(self) -> None:
        """Ctrl+Z: take back the last decision made here, for ``verification.UNDO_WINDOW_SECONDS``;
        recorded on the trail as a reversal (nothing is deleted)."""
        last = self.last_decision
        window_s = verification.UNDO_WINDOW_SECONDS
        if last is None or time.monotonic() - last[3] > window_s:
            self.message.emit(
                f"Nothing to undo: a decision can be undone for {window_s // 60} minutes.", 5000
            )
            return
        if self.deciding or self.identity is None:
            self.message.emit("The previous decision is still being saved.", 5000)
            return
        if not self.connection.online:
            self.message.emit("Offline — the undo waits until the connection is back.", 5000)
            return
        enrollment_id, document_type, words, _at = last
        self._undoing = True
        self.update_controls()
        self.activity.emit("Undoing…")

        def done(outcome: QueueDecision) -> None:
            self._undoing = False
            self.last_decision = None
            self.activity.emit("")
            self.review.decided(outcome.result.claim, enrollment_id)
            self.message.emit(f"Undone: {words}. It is on the record as taken back.", 8000)
            self.undone.emit(outcome, document_type)
            self.update_controls()

        def failed(error: BaseException) -> None:
            self._undoing = False
            self.activity.emit("")
            self.update_controls()
            if self.connection.report_error(error):
                return
            if isinstance(error, ConflictError):
                self.last_decision = None
                self.message.emit(str(error), 10000)
                return
            show_error(self.window, error, "Undoing the decision")

        claim = self.review.claim_for(enrollment_id)
        self.runner.db(review.undo, self.db, self.identity, enrollment_id, claim).success(done).failure(
            failed
        ).start()

    # --- the outbox after a reconnect --------------------------------------------------------

    def replay(self, then: Any) -> bool:
        """Send what the outbox kept while offline, then call ``then()``; False when it was empty."""
        if not self._kept_offline():
            return False
        self._replaying = True
        self.runner.db(self.outbox.replay, self.db, self.identity).success(
            lambda outcomes: self._on_replayed(outcomes, then)
        ).failure(self._on_replay_failed).keep().start()
        return True

    def _on_replayed(self, outcomes: list[Any], then: Any) -> None:
        self._replaying = False
        current = self.detail.detail
        for cmd, result, error in outcomes:
            if result is not None:
                self._unsent_reason = None
                verb = "Approved" if cmd.action == "approved" else "Rejected"
                self.message.emit(
                    f"{verb} the decision kept while offline ({'it had already arrived' if result.duplicate else 'sent now'}).",
                    8000,
                )
                if current is not None and current.student.enrollment_id == cmd.enrollment_id:
                    self.review.decided(result.claim, cmd.enrollment_id)
            elif error is not None and not connectivity.is_transient(error):
                if isinstance(error, ClaimConflict):
                    self.review.conflict(error)
                show_error(self.window, error, "Sending the decision kept while offline")
            elif error is not None:
                self.connection.report_error(error)
        then()
        self._send_ready()

    def _on_replay_failed(self, error: BaseException) -> None:
        self._replaying = False
        if not self.connection.report_error(error):
            show_error(self.window, error, "Sending the decision kept while offline")
        self.update_controls()


def _changed(seen: DocumentRow, now: DocumentRow) -> bool:
    """Whether the document differs from the one the officer decided on (its file or its decision)."""
    return (seen.upload, seen.latest_action, seen.decision_current) != (
        now.upload,
        now.latest_action,
        now.decision_current,
    )
