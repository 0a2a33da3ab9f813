"""The workstation's right half: one enrollment's documents, the preview of the chosen document, the
student's details (special personal information masked until a logged reveal) and the history.

It shows what it is given (``show_detail``) and reads files on the runner's io lane; opening and
claiming an enrollment is the window's business, deciding is ``decisions.Decisions``'.

Read-ahead: while a document is on screen, the one "Save and next" goes to after it (and, asked by
the window, the first of the next enrollment) is read from storage and handed to the preview to draw
ahead (``read_ahead``), so a decision's next document comes on screen at once. Reading ahead shows
and logs nothing: a document goes into the access log when it is shown, once.

Signals:
    detail_loaded(int): the panes now show this enrollment id.
    document_changed(): another document (or none) is current (redraw the decide buttons).
    document_shown(str): the preview shows (or explains) this document type.
    message(str, int): a line for the status bar and how long to show it (ms).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, QUrl, Signal
from PySide6.QtWidgets import QListWidgetItem, QTreeWidgetItem, QWidget

from cohortdesk.enums import VerificationAction
from cohortdesk.errors import StorageError
from cohortdesk.lazy import lazy_module
from cohortdesk.services.access.identity import SPECIAL_PI, Identity
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.services.review.queue_rows import DocumentRow, EnrollmentDetail, StudentDetails
from cohortdesk.views import enrollment_panels as panels
from cohortdesk.views import theme
from cohortdesk.views.delegates import BADGE_STATE_ROLE, BADGE_TEXT_ROLE, SUBTITLE_ROLE
from cohortdesk.views.display_text import visible_name
from cohortdesk.views.errors import show_error, user_message
from cohortdesk.views.reveal_dialog import RevealDialog
from cohortdesk.views.runner import Op, Runner
from cohortdesk.views.workstation.layout import WorkstationView

if TYPE_CHECKING:
    from cohortdesk.services.access import log as access_log
    from cohortdesk.services.access import privacy
else:  # loaded on first use: the window is painted before SQLAlchemy loads
    access_log = lazy_module("cohortdesk.services.access.log")
    privacy = lazy_module("cohortdesk.services.access.privacy")

log = logging.getLogger(__name__)


def document_status(doc: DocumentRow) -> str:
    """The document's state in words, beside its title ("Not checked yet · 1.6 KB")."""
    if not doc.uploaded:
        return "Not uploaded yet" + (" · required" if doc.required else "")
    if doc.latest_action is None:
        return f"Not checked yet · {panels.human_size(doc.size)}"
    verb = VerificationAction.label_of(doc.latest_action)
    text = f"{verb} by {doc.latest_by} on {panels.local_time(doc.latest_at)}"
    if doc.latest_action == "rejected" and doc.latest_reason:
        text += f": {doc.latest_reason}"
    if not doc.decision_current:
        text += " · the file was replaced since"
    return text


def needs_decision(doc: DocumentRow) -> bool:
    """Uploaded, viewable, and not decided since its file arrived."""
    return bool(doc.uploaded and doc.upload and (doc.latest_action is None or not doc.decision_current))


def following_document(documents: tuple[DocumentRow, ...], after: str) -> DocumentRow | None:
    """The document "Save and next" goes to after ``after``: the next one that needs a decision,
    round to the start (``None``: no other document needs one)."""
    position = next((i for i, d in enumerate(documents) if d.document_type == after), -1)
    ordered = [*documents[position + 1 :], *documents[: max(position, 0)]]
    return next((d for d in ordered if d.document_type != after and needs_decision(d)), None)


def readable_ahead(doc: DocumentRow | None) -> bool:
    """A document whose file may be read before it is shown: one the store gives by its key (a health
    document's key comes from the server only, which logs the view as it gives it)."""
    return doc is not None and doc.uploaded and "storage_key" in doc.upload


#: Files read ahead and kept until shown (the next document, the next enrollment's first).
AHEAD_FILES = 4


def choose_document(documents: tuple[DocumentRow, ...], prefer: str | None) -> int:
    if not documents:
        return -1
    if prefer is not None:
        for position, doc in enumerate(documents):
            if doc.document_type == prefer:
                return position
    for position, doc in enumerate(documents):
        if doc.uploaded and (doc.latest_action is None or not doc.decision_current):
            return position
    return 0


class DetailPane(QObject):
    detail_loaded = Signal(int)
    document_changed = Signal()
    document_shown = Signal(str)
    message = Signal(str, int)

    def __init__(
        self,
        ui: WorkstationView,
        preview: Any,
        runner: Runner,
        db: Any,
        store: DocumentStore,
        window: QWidget,
    ) -> None:
        super().__init__(window)
        self.ui = ui
        self.preview = preview
        self.runner = runner
        self.db = db
        self.store = store
        self.window = window  # parent of the dialogs
        self.identity: Identity | None = None
        self.detail: EnrollmentDetail | None = None
        self._document_generation = 0
        self._shown: tuple[int, str, str] | None = None  # the file the preview shows (see _identity_of)
        self._preview_op: Op | None = None
        self._ahead_files: OrderedDict[tuple[int, str, str], bytes] = OrderedDict()  # read, not shown yet
        self._reading_ahead: set[tuple[int, str, str]] = set()
        self.reveal_dialog: RevealDialog | None = None
        self.revealed: StudentDetails | None = None  # a logged reveal of the enrollment on show
        self._student_html: str | None = None  # what the student pane shows now (None: something else)
        self._reveal_purpose: str | None = None  # the purpose given last, offered first next time
        #: What the documents say, as a section of the student page (set by ``install_reading``).
        self.document_section: Callable[[StudentDetails], str] | None = None
        ui.document_list.currentRowChanged.connect(self._on_document_changed)
        ui.student_details.anchorClicked.connect(self._on_details_link)

    # --- what is shown ------------------------------------------------------------------------

    def current_document(self) -> DocumentRow | None:
        row = self.ui.document_list.currentRow()
        if self.detail is None or not 0 <= row < len(self.detail.documents):
            return None
        return self.detail.documents[row]

    def current_document_type(self) -> str | None:
        doc = self.current_document()
        return doc.document_type if doc is not None else None

    def move_document(self, step: int) -> None:
        docs = self.ui.document_list
        if docs.count() == 0:
            return
        row = docs.currentRow()
        target = 0 if row < 0 else max(0, min(docs.count() - 1, row + step))
        if target != row:
            docs.setCurrentRow(target)

    def show_no_enrollment(self) -> None:
        self.detail = None
        ui = self.ui
        ui.document_list.blockSignals(True)
        ui.document_list.clear()
        ui.document_list.blockSignals(False)
        ui.document_title.setText("Document")
        ui.document_status.setText("")
        self._student_html = None
        ui.student_details.setHtml(
            f"<p style='color:{theme.colours().muted}'>Select an enrollment in the queue to see the student's details, "
            "their documents and the decisions made so far.</p>"
        )
        ui.history.clear()
        ui.history.hide()
        ui.history_empty.setText("No enrollment selected.")
        ui.history_empty.show()
        self._shown = None
        self.preview.show_message("Select an enrollment to see its documents.")
        self.document_changed.emit()

    def show_load_error(self, error: BaseException, requested: int | None) -> None:
        if (
            requested is not None
            and self.detail is not None
            and self.detail.student.enrollment_id != requested
        ):
            self.detail = None
        self._student_html = None
        self.ui.student_details.setHtml(f"<p>{user_message(error)}</p>")

    def show_detail(self, detail: EnrollmentDetail, prefer_document: str | None = None) -> None:
        self.detail = detail
        ui = self.ui
        docs = ui.document_list
        docs.blockSignals(True)
        docs.clear()
        for doc in detail.documents:
            item = QListWidgetItem(doc.label, docs)
            badge, state = panels.document_badge(doc)
            item.setData(SUBTITLE_ROLE, panels.document_subtitle(doc))
            item.setData(BADGE_TEXT_ROLE, badge)
            item.setData(BADGE_STATE_ROLE, state)
            item.setData(Qt.ItemDataRole.AccessibleTextRole, panels.document_accessible_text(doc))
            item.setToolTip(panels.document_accessible_text(doc))
            item.setData(Qt.ItemDataRole.UserRole, doc.document_type)
        docs.blockSignals(False)
        if self.revealed is not None and self.revealed.enrollment_id != detail.student.enrollment_id:
            self.revealed = None
        self.render_student()
        ui.history.clear()
        for row in detail.history:
            columns = panels.history_columns(row)
            item = QTreeWidgetItem(list(columns))
            item.setForeground(0, theme.badge_colours(row.action)[0])
            summary = f"{columns[0]}: {columns[1]}, {columns[2]}, {columns[3]}" + (
                f". {columns[4]}" if columns[4] else ""
            )
            for column in range(len(columns)):
                item.setToolTip(column, summary)
            ui.history.addTopLevelItem(item)
        for column in range(4):
            ui.history.resizeColumnToContents(column)
        ui.history.setVisible(bool(detail.history))
        ui.history_empty.setText("No decisions yet.")
        ui.history_empty.setVisible(not detail.history)
        target = choose_document(detail.documents, prefer_document)
        self.detail_loaded.emit(detail.student.enrollment_id)
        if target >= 0 and docs.currentRow() != target:
            docs.setCurrentRow(target)  # emits currentRowChanged: loads the preview
        else:
            self._on_document_changed(target)

    # --- the preview ----------------------------------------------------------------------------

    def _on_document_changed(self, row: int) -> None:
        doc = self.current_document() if row >= 0 else None
        ui = self.ui
        self._document_generation += 1
        generation = self._document_generation
        if self._preview_op is not None:
            self._preview_op.cancel()
            self._preview_op = None
        self.document_changed.emit()
        if doc is not None and doc.upload and self._shown == self._identity_of(doc):
            # The same file is on screen (e.g. redrawn after a decision on it): only its words change;
            # no second read, render or access-log entry.
            ui.document_title.setText(doc.label)
            ui.document_status.setText(document_status(doc))
            self.document_shown.emit(doc.document_type)
            if self.detail is not None:
                self.read_ahead([following_document(self.detail.documents, doc.document_type)])
            return
        self._shown = None
        if doc is None:
            ui.document_title.setText("Document")
            ui.document_status.setText("")
            self.preview.show_message("This enrollment has no documents.")
            return
        ui.document_title.setText(doc.label)
        ui.document_status.setText(document_status(doc))
        if not doc.uploaded:
            self.preview.show_message(f"{doc.label} has not been uploaded yet.")
            self.document_shown.emit(doc.document_type)
            return
        if not doc.upload:
            self.preview.show_message(
                f"{doc.label} holds health information. Viewing it needs the special personal "
                "information permission."
            )
            self.document_shown.emit(doc.document_type)
            return
        ahead = self._ahead_files.pop(self._identity_of(doc), None)
        if ahead is not None:
            self._on_document_bytes(generation, doc, ahead)  # read ahead: on screen at once
            return
        self.preview.show_message(f"Opening {visible_name(doc.file_name) or doc.label}…")
        if "storage_key" not in doc.upload and self.identity is not None:
            # A health document's key is given by the server only, which logs the view as it does.
            self._preview_op = (
                self.runner.db(
                    privacy.fetch_document, self.db, self.identity, doc.enrollment_id, doc.document_type
                )
                .success(lambda entry: self._read_document(generation, doc, entry, logged=True))
                .failure(lambda error: self._on_document_error(generation, doc, error))
            )
            self._preview_op.start()
            return
        self._read_document(generation, doc, doc.upload, logged=False)

    def _read_document(
        self, generation: int, doc: DocumentRow, entry: dict[str, Any], *, logged: bool
    ) -> None:
        if generation != self._document_generation:
            return
        self._preview_op = (
            self.runner.io(self.store.read, entry)
            .success(lambda data: self._on_document_bytes(generation, doc, data, logged=logged))
            .failure(lambda error: self._on_document_error(generation, doc, error))
        )
        self._preview_op.start()

    def _on_document_bytes(
        self, generation: int, doc: DocumentRow, data: bytes, *, logged: bool = False
    ) -> None:
        if generation != self._document_generation:
            return
        self._preview_op = None
        self.preview.show_document(data, doc.content_type or "", visible_name(doc.file_name) or doc.label)
        self._shown = self._identity_of(doc)
        if not logged:
            self._log_document_view(doc)
        self.document_shown.emit(doc.document_type)
        if self.detail is not None:
            self.read_ahead([following_document(self.detail.documents, doc.document_type)])

    def show_ahead(self, doc: DocumentRow | None) -> bool:
        """Put ``doc`` on the preview now if its file was read ahead, before the panes around it are
        redrawn (``show_detail`` with it as the current document follows; it finds it on screen and
        only changes the words). Logged as shown. False when its file was not read ahead."""
        if doc is None or not readable_ahead(doc):
            return False
        identity = self._identity_of(doc)
        data = self._ahead_files.pop(identity, None)
        if data is None:
            return False
        self._document_generation += 1
        if self._preview_op is not None:
            self._preview_op.cancel()
            self._preview_op = None
        self.preview.show_document(data, doc.content_type or "", visible_name(doc.file_name) or doc.label)
        self._shown = identity
        self._log_document_view(doc)
        return True

    def read_ahead(self, documents: list[DocumentRow | None]) -> None:
        """Read these documents' files now and have the preview draw their first page, so showing
        one later needs no round trip (nothing is shown or logged until then)."""
        for doc in documents:
            if doc is None or not readable_ahead(doc):
                continue
            identity = self._identity_of(doc)
            if identity == self._shown or identity in self._reading_ahead:
                continue
            if identity in self._ahead_files:
                self._ahead_files.move_to_end(identity)
                continue
            self._reading_ahead.add(identity)
            self.runner.io(self.store.read, doc.upload).success(
                lambda data, identity=identity: self._on_read_ahead(identity, data)
            ).failure(lambda _error, identity=identity: self._reading_ahead.discard(identity)).start()

    def _on_read_ahead(self, identity: tuple[int, str, str], data: bytes) -> None:
        self._reading_ahead.discard(identity)
        self._ahead_files[identity] = data
        while len(self._ahead_files) > AHEAD_FILES:
            self._ahead_files.popitem(last=False)
        read_ahead = getattr(self.preview, "read_ahead", None)
        if callable(read_ahead):
            read_ahead(data)

    @staticmethod
    def _identity_of(doc: DocumentRow) -> tuple[int, str, str]:
        """What makes a shown file the same file: enrollment, document type and the upload entry."""
        return (doc.enrollment_id, doc.document_type, repr(sorted(doc.upload.items())))

    def _log_document_view(self, doc: DocumentRow) -> None:
        """POPIA: every document shown goes into the access log (enrollment id and document type only).
        Written beside the preview, not before it, so flipping through a pack stays quick."""
        if self.identity is None:
            return
        self.runner.db(
            access_log.log_document_view, self.db, self.identity, doc.enrollment_id, doc.document_type
        ).failure(
            lambda error: log.warning("Recording the view of %s failed: %r", doc.document_type, error)
        ).start()

    def _on_document_error(self, generation: int, doc: DocumentRow, error: BaseException) -> None:
        if generation != self._document_generation:
            return
        self._preview_op = None
        if isinstance(error, StorageError):
            self.preview.show_message(str(error))
        else:
            log.warning("Reading %s failed: %r", doc.document_type, error)
            self.preview.show_message(f"{doc.label} cannot be shown. {user_message(error)}")
        self.document_shown.emit(doc.document_type)

    # --- special personal information: masked until a logged reveal ----------------------------

    def render_student(self) -> None:
        if self.detail is None:
            return
        student = panels.with_revealed(self.detail.student, self.revealed)
        bar = self.ui.student_details.verticalScrollBar()
        position = bar.value()
        section = self.document_section(student) if self.document_section is not None else ""
        html = panels.student_details_html(student, section)
        if html == self._student_html:
            return  # unchanged (a decision on one of its documents): laying it out again took ~10 ms
        self._student_html = html
        self.ui.student_details.setHtml(html)
        bar.setValue(position)

    def _on_details_link(self, url: QUrl) -> None:
        link = url.toString()
        if link == panels.REVEAL_LINK:
            self.reveal_special_pi()
        elif link == panels.HIDE_LINK:
            self.hide_special_pi()

    def reveal_special_pi(self) -> None:
        """Ask for a purpose, log the reveal, then show this learner's race, disability and ID number."""
        detail, identity = self.detail, self.identity
        if detail is None or identity is None:
            return
        if not identity.can(SPECIAL_PI):
            self.message.emit("Your role may not see special personal information.", 5000)
            return
        student = detail.student
        if self.revealed is not None and self.revealed.enrollment_id == student.enrollment_id:
            return
        if not student.has_special_pi:
            self.message.emit("No special personal information was captured for this learner.", 5000)
            return
        dialog = RevealDialog(
            student.student_name, privacy.REVEAL_PURPOSES, self.window, self._reveal_purpose
        )
        self.reveal_dialog = dialog

        def chosen() -> None:
            purpose = dialog.purpose_text()
            self._reveal_purpose = purpose
            self.runner.db(privacy.reveal_details, self.db, identity, student.enrollment_id, purpose).success(
                self._on_revealed
            ).failure(
                lambda error: show_error(self.window, error, "Revealing special personal information")
            ).start()

        def finished() -> None:
            if self.reveal_dialog is dialog:
                self.reveal_dialog = None
            dialog.deleteLater()

        dialog.accepted.connect(chosen)
        dialog.finished.connect(lambda _result: finished())
        dialog.open()

    def _on_revealed(self, revealed: StudentDetails) -> None:
        if self.detail is None or self.detail.student.enrollment_id != revealed.enrollment_id:
            return  # the officer moved on meanwhile; the reveal is logged but nothing is shown
        self.revealed = revealed
        self.render_student()
        self.message.emit("Special personal information shown; the reveal is in the access log.", 5000)

    def hide_special_pi(self) -> None:
        self.revealed = None
        self.render_student()
