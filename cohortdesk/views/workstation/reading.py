"""Reading the documents on the workstation: ahead of the officer, in the background, and the
comparison shown in the student pane with the value outlined on the page when its line is hovered.

``DocumentReader`` reads the shown enrollment's documents first, then those of the next enrollments
in the queue, one document at a time on the runner's io lane; the OCR itself runs in a separate
worker process (``views/preview/reading_client.py``), so the GUI thread only receives results.
Results are cached per document version (``services.documents.reading.cache``). Where the captured ID
number reaches this login masked (PostgreSQL), a number read clearly that agrees with its visible digits
is compared by the server (``services.access.id_check``, on the runner's database lane): "matches
captured ✓" or a mismatch, in words, instead of "unsure".

``install_reading(window)`` wires it into a ``MainWindow``: the "On the documents" section of the
student pane, hover highlights in the preview, the queue's Pre-check column and filter.
Pre-checks inform; the officer decides.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from html import escape
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, QUrl, Signal
from PySide6.QtWidgets import QApplication, QBoxLayout, QComboBox, QStyledItemDelegate, QWidget

from cohortdesk.errors import CohortDeskError
from cohortdesk.lazy import lazy_module
from cohortdesk.services.documents.reading import compare, engine
from cohortdesk.services.documents.reading.cache import ReadingCache
from cohortdesk.services.documents.reading.compare import Check, ServerAnswer
from cohortdesk.services.documents.reading.model import DocumentReading
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.services.review.queue_rows import QueueFilter, StudentDetails, mask_id_number
from cohortdesk.services.validation import document_label
from cohortdesk.views import theme
from cohortdesk.views.delegates import StateBadgeDelegate
from cohortdesk.views.queue_table_model import QueueTableModel
from cohortdesk.views.runner import Runner

if TYPE_CHECKING:
    from cohortdesk.services.access import id_check
    from cohortdesk.services.documents.reading import service
else:  # loaded on first use: the window is painted before SQLAlchemy loads
    id_check = lazy_module("cohortdesk.services.access.id_check")
    service = lazy_module("cohortdesk.services.documents.reading.service")

log = logging.getLogger(__name__)

#: How many enrollments after the shown one are read ahead.
READ_AHEAD = 5
FIELD_LINK = "cohortdesk:field/"


def status_colour(c: theme.Colours, status: str) -> str:
    """The colour a check's line is drawn in, in the theme ``c``."""
    return {
        compare.MATCH: c.ok,
        compare.MISMATCH: c.error,
        compare.FLAGGED: c.error,
        compare.UNSURE: c.warning,
    }.get(status, c.muted)


class DocumentReader(QObject):
    """Reads documents ahead of the officer; one document in flight at a time."""

    document_read = Signal(int, str)  # enrollment id, document type
    precheck_changed = Signal(int, str)  # enrollment id, "matches" / "mismatch" / "unreadable"

    def __init__(
        self,
        runner: Runner,
        db: Any,
        store: DocumentStore,
        read_bytes: Callable[[bytes, str], DocumentReading] | None = None,
        cache: ReadingCache | None = None,
        parent: QObject | None = None,
        check_id: Callable[[int, str], bool] | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self.db = db
        self.store = store
        #: Asks the server whether a number read is the hidden captured one (runs on the db lane).
        self.check_id = check_id or (
            lambda enrollment_id, number: id_check.check_id_number(db, enrollment_id, number)
        )
        self.answers: dict[int, dict[str, ServerAnswer]] = {}
        self.cache = cache or ReadingCache()
        self._process: Any = None
        self._read_bytes = read_bytes
        self.available = read_bytes is not None or engine.available()
        self.readings: dict[int, dict[str, DocumentReading]] = {}
        self.plans: dict[int, service.PlannedEnrollment] = {}
        self.statuses: dict[int, str] = {}
        self._queue: list[service.PlannedDocument] = []
        self._wanted: list[int] = []
        self._busy = False
        self._planning = False
        self._asked: set[int] = set()  # enrollments whose plan was asked for (found or not)
        self._closed = False

    # --- what to read ---------------------------------------------------------------------------

    def want(self, enrollment_ids: list[int]) -> None:
        """Read these enrollments' documents, the first most urgently; replaces the earlier wish."""
        if not self.available or self._closed:
            return
        self._wanted = list(dict.fromkeys(enrollment_ids))
        missing = [i for i in self._wanted if i not in self.plans and i not in self._asked]
        if missing and not self._planning:
            self._planning = True
            self._asked.update(missing)
            try:
                self.runner.db(service.reading_plan, self.db, missing).success(self._on_plan).failure(
                    self._on_plan_failed
                ).start()
            except RuntimeError:  # the runner was shut down: the window is closing
                self.shutdown()
                return
        self._requeue()

    def _on_plan(self, plans: list[service.PlannedEnrollment]) -> None:
        self._planning = False
        for plan in plans:
            self.plans[plan.enrollment_id] = plan
            if not plan.documents:
                self._finish(plan.enrollment_id)
        if any(i not in self.plans and i not in self._asked for i in self._wanted):
            self.want(self._wanted)  # wished for while the plan was being read
        else:
            self._requeue()

    def _on_plan_failed(self, error: BaseException) -> None:
        self._planning = False
        self._asked.clear()
        log.warning("Planning document reading failed: %r", error)

    def forget(self, enrollment_id: int) -> None:
        """Read this enrollment again next time (its documents changed)."""
        self.plans.pop(enrollment_id, None)
        self.readings.pop(enrollment_id, None)
        self._asked.discard(enrollment_id)
        # Answers stay (they hold per number read); a question the server did not answer is asked again.
        answers = self.answers.get(enrollment_id, {})
        for number in [n for n, a in answers.items() if a.refusal]:
            del answers[number]

    def _requeue(self) -> None:
        queue: list[service.PlannedDocument] = []
        for enrollment_id in self._wanted:
            plan = self.plans.get(enrollment_id)
            if plan is None:
                continue
            done = self.readings.get(enrollment_id, {})
            queue.extend(d for d in plan.documents if d.document_type not in done)
        self._queue = queue
        self._pump()

    def _pump(self) -> None:
        if self._busy or not self._queue or self._closed:
            return
        document = self._queue.pop(0)
        self._busy = True
        try:
            self._submit(document)
        except RuntimeError:  # the runner was shut down: the window is closing
            self._busy = False
            self.shutdown()

    def _submit(self, document: service.PlannedDocument) -> None:
        self.runner.io(service.read_document, self.store, self.cache, self._reader(), document).success(
            lambda reading: self._on_read(document, reading)
        ).failure(lambda error: self._on_read_failed(document, error)).finally_(self._done).start()

    def _reader(self) -> Callable[[bytes, str], DocumentReading]:
        if self._read_bytes is None:
            from cohortdesk.views.preview.reading_client import ReadingProcess

            self._process = ReadingProcess()
            self._read_bytes = self._process.read
        return self._read_bytes

    def _done(self) -> None:
        self._busy = False
        self._pump()

    def _on_read(self, document: service.PlannedDocument, reading: DocumentReading) -> None:
        plan = self.plans.get(document.enrollment_id)
        if plan is None or document not in plan.documents:
            return  # planned again meanwhile: this reading is of an older version
        readings = self.readings.setdefault(document.enrollment_id, {})
        readings[document.document_type] = reading
        found = reading.get("sa_id_number")
        if compare.needs_server(found, plan.captured) and found is not None:
            self._ask_server(document.enrollment_id, found.value)
        self.document_read.emit(document.enrollment_id, document.document_type)
        self._finish_when_done(document.enrollment_id)

    def _finish_when_done(self, enrollment_id: int) -> None:
        """The pre-check once every document is read and no server answer is still awaited."""
        plan = self.plans.get(enrollment_id)
        readings = self.readings.get(enrollment_id, {})
        if plan is None or not all(d.document_type in readings for d in plan.documents):
            return
        if any(a.pending for a in self.answers.get(enrollment_id, {}).values()):
            return
        self._finish(enrollment_id)

    # --- the server's comparison of a number read with the hidden captured one ---------------------

    def _ask_server(self, enrollment_id: int, number: str) -> None:
        answers = self.answers.setdefault(enrollment_id, {})
        if number in answers:
            return  # asked already (each ask is logged and counted by the server)
        answers[number] = ServerAnswer(pending=True)
        try:
            self.runner.db(self.check_id, enrollment_id, number).success(
                lambda matches: self._answered(enrollment_id, number, ServerAnswer(matches=bool(matches)))
            ).failure(lambda error: self._not_answered(enrollment_id, number, error)).start()
        except RuntimeError:  # the runner was shut down: the window is closing
            answers.pop(number, None)

    def _not_answered(self, enrollment_id: int, number: str, error: BaseException) -> None:
        if isinstance(error, CohortDeskError):
            said = str(error)
        else:
            log.warning("Comparing an ID number on the server failed: %r", error)
            said = "the server could not be asked just now"
        self._answered(enrollment_id, number, ServerAnswer(refusal=said))

    def _answered(self, enrollment_id: int, number: str, answer: ServerAnswer) -> None:
        if self._closed:
            return
        self.answers.setdefault(enrollment_id, {})[number] = answer
        self.document_read.emit(enrollment_id, "id_document")
        self._finish_when_done(enrollment_id)

    def _on_read_failed(self, document: service.PlannedDocument, error: BaseException) -> None:
        log.warning(
            "Reading %s of enrollment %s failed: %r", document.document_type, document.enrollment_id, error
        )
        from cohortdesk.services.documents.reading import reader

        self._on_read(document, reader.failed(document.document_type, "Reading this document failed."))

    def _finish(self, enrollment_id: int) -> None:
        status = compare.precheck(self.checks(enrollment_id, reveal=True))
        self.statuses[enrollment_id] = status
        self.precheck_changed.emit(enrollment_id, status)

    # --- results ----------------------------------------------------------------------------------

    def checks(self, enrollment_id: int, *, reveal: bool) -> list[Check]:
        """What the enrollment's documents say against its captured details, certification ages
        judged by its cohort's limit."""
        plan = self.plans.get(enrollment_id)
        if plan is None:
            return []
        mask = (lambda value: value) if reveal else mask_id_number
        today = datetime.now(UTC).date()
        out: list[Check] = []
        for reading in self.readings.get(enrollment_id, {}).values():
            out.extend(
                compare.compare_document(
                    reading,
                    plan.captured,
                    today,
                    mask=mask,
                    certification_max_age_days=plan.certification_max_age_days,
                    server_answers=self.answers.get(enrollment_id),
                )
            )
        return out

    def pending_types(self, enrollment_id: int) -> list[str]:
        plan = self.plans.get(enrollment_id)
        if plan is None:
            return []
        done = self.readings.get(enrollment_id, {})
        return [d.document_type for d in plan.documents if d.document_type not in done]

    def reading(self, enrollment_id: int, document_type: str) -> DocumentReading | None:
        return self.readings.get(enrollment_id, {}).get(document_type)

    def shutdown(self) -> None:
        self._closed = True
        self._queue.clear()
        process, self._process = self._process, None
        if process is not None:
            process.close()


def checks_html(checks: list[Check], pending: list[str], available: bool, planned: bool) -> str:
    """The student pane's "On the documents" section."""
    c = theme.colours()
    muted = f"color:{c.muted}"
    head = (
        "<p style='margin-top:10px; margin-bottom:2px'><b>On the documents</b> "
        f"<span style='{muted}'>· read on this computer; hover a line to see it on the page</span></p>"
    )
    if not available:
        return head + f"<p style='{muted}'>Documents are not read here: the text reader is not installed.</p>"
    if not planned:
        return head + f"<p style='{muted}'>Reading the documents…</p>"
    if not checks and not pending:
        return head + f"<p style='{muted}'>No ID document or qualification to read.</p>"
    rows: list[str] = []
    current = ""
    for check in checks:
        if check.document_type != current:
            current = check.document_type
            rows.append(
                f"<tr><td colspan='2' style='{muted}; padding-top:4px'>{escape(document_label(current))}</td></tr>"
            )
        colour = status_colour(c, check.status)
        text = escape(check.message)
        if check.status == compare.UNSURE:
            text = "<i>Unsure:</i> " + text
        if check.field is not None:
            text = (
                f"<a href='{FIELD_LINK}{check.document_type}/{check.key}' "
                f"style='color:{colour}; text-decoration:none'>{text}</a>"
            )
        else:
            text = f"<span style='color:{colour}'>{text}</span>"
        weight = "font-weight:600; " if check.status in (compare.MISMATCH, compare.FLAGGED) else ""
        rows.append(
            f"<tr><td style='{weight}color:{colour}; padding-right:6px'>{escape(check.symbol)}</td>"
            f"<td style='{weight}'>{text}</td></tr>"
        )
    for document_type in pending:
        rows.append(
            f"<tr><td></td><td style='{muted}'>Reading {escape(document_label(document_type))}…</td></tr>"
        )
    return head + "<table cellspacing='0' cellpadding='2' width='100%'>" + "".join(rows) + "</table>"


PRECHECK_FILTERS = (
    ("Any pre-check", None),
    ("Matches", compare.PRECHECK_MATCHES),
    ("Mismatch", compare.PRECHECK_MISMATCH),
    ("Unreadable", compare.PRECHECK_UNREADABLE),
)


def _layout_holding(widget: QWidget) -> QBoxLayout | None:
    """The box layout that ``widget`` sits in directly (searching its parent's layout tree)."""
    parent = widget.parentWidget()
    stack = [parent.layout()] if parent is not None and parent.layout() is not None else []
    while stack:
        layout = stack.pop()
        if isinstance(layout, QBoxLayout) and layout.indexOf(widget) >= 0:
            return layout
        for index in range(layout.count()):
            child = layout.itemAt(index).layout()
            if child is not None:
                stack.append(child)
    return None


class _PrecheckDelegate(StateBadgeDelegate):
    """The Pre-check cell: a coloured pill once read, nothing before."""

    def paint(self, painter: Any, option: Any, index: Any) -> None:
        if index.data():
            super().paint(painter, option, index)
        else:
            QStyledItemDelegate.paint(self, painter, option, index)


class ReadingPresenter(QObject):
    """Connects a ``DocumentReader`` to the window's panes."""

    def __init__(self, window: Any, reader: DocumentReader) -> None:
        super().__init__(window)
        self.window = window
        self.reader = reader
        pane = window.detail_pane
        pane.document_section = self.section_html
        browser = window.ui.student_details
        browser.highlighted.connect(self._on_hovered)
        browser.anchorClicked.connect(self._on_clicked)
        window.detail_loaded.connect(self._on_detail_loaded)
        window.document_shown.connect(lambda _type: self._pending_highlight())
        reader.document_read.connect(self._on_document_read)
        reader.precheck_changed.connect(window.queue_pane.queue_model.set_precheck)
        model = window.queue_pane.queue_model
        model.page_loaded.connect(lambda *_args: self._read_ahead())
        window.opened.connect(lambda _info: self._read_ahead())
        table = window.ui.queue_table
        table.setItemDelegateForColumn(
            QueueTableModel.COL_PRECHECK, _PrecheckDelegate(QueueTableModel.StateRole, table)
        )
        if table.columnWidth(QueueTableModel.COL_PRECHECK) < 60:
            table.setColumnWidth(QueueTableModel.COL_PRECHECK, 86)
        self.filter_box = self._add_filter(window)
        self._highlight_after_show: tuple[str, str] | None = None

    # --- the queue filter ----------------------------------------------------------------------

    def _add_filter(self, window: Any) -> QComboBox:
        ui = window.ui
        box = QComboBox(ui.enrollment_filter.parentWidget())
        box.setObjectName("precheckFilter")
        box.setAccessibleName("Pre-check filter")
        box.setToolTip("What reading the documents found (only enrollments already read)")
        for text, value in PRECHECK_FILTERS:
            box.addItem(text, value)
        box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        layout = _layout_holding(ui.enrollment_filter)
        if layout is not None:
            layout.insertWidget(layout.indexOf(ui.enrollment_filter) + 1, box)
        pane = window.queue_pane
        model = pane.queue_model

        def narrowed(flt: QueueFilter) -> QueueFilter:
            status = box.currentData()
            return replace(flt, enrollment_ids=model.ids_with_precheck(status)) if status else flt

        pane.extra_filter = narrowed
        box.currentIndexChanged.connect(lambda _index: pane.apply_filters())
        return box

    # --- the pane ------------------------------------------------------------------------------

    def section_html(self, student: StudentDetails) -> str:
        enrollment_id = student.enrollment_id
        reveal = student.revealed
        return checks_html(
            self.reader.checks(enrollment_id, reveal=reveal),
            self.reader.pending_types(enrollment_id),
            self.reader.available,
            enrollment_id in self.reader.plans,
        )

    def _on_detail_loaded(self, enrollment_id: int) -> None:
        detail = self.window.detail_pane.detail
        plan = self.reader.plans.get(enrollment_id)
        if detail is not None and plan is not None:
            uploads = {
                d.document_type: (str(d.upload.get("storage_key") or ""), str(d.upload.get("checksum") or ""))
                for d in detail.documents
                if d.upload
            }
            if any(uploads.get(d.document_type) != d.version for d in plan.documents):
                self.reader.forget(enrollment_id)  # a document was uploaded again: read the new one
        self._read_ahead()

    def _read_ahead(self) -> None:
        window = self.window
        if window.startup_info is None:
            return  # a first page shown before the database is open: read ahead once it is
        current = window.queue_pane.current_id
        model = window.queue_pane.queue_model
        ids = [row.enrollment_id for row in model.rows()]
        start = ids.index(current) if current in ids else 0
        wanted = ([current] if current is not None else []) + ids[start : start + READ_AHEAD + 1]
        self.reader.want(wanted)

    def _on_document_read(self, enrollment_id: int, _document_type: str) -> None:
        detail = self.window.detail_pane.detail
        if detail is not None and detail.student.enrollment_id == enrollment_id:
            self.window.detail_pane.render_student()

    # --- hover and click: the value on the page --------------------------------------------------

    def _field(self, url: QUrl) -> tuple[str, str] | None:
        link = url.toString()
        if not link.startswith(FIELD_LINK):
            return None
        document_type, _, key = link[len(FIELD_LINK) :].partition("/")
        return document_type, key

    def _show_box(self, document_type: str, key: str) -> bool:
        pane = self.window.detail_pane
        detail = pane.detail
        if detail is None or pane.current_document_type() != document_type:
            return False
        reading = self.reader.reading(detail.student.enrollment_id, document_type)
        found = reading.get(key) if reading is not None else None
        if found is None:
            return False
        self.window.preview.highlight(found.page, found.box)
        return True

    def _on_hovered(self, url: QUrl) -> None:
        target = self._field(url)
        if target is None:
            self.window.preview.highlight(None)
            return
        self._show_box(*target)

    def _on_clicked(self, url: QUrl) -> None:
        target = self._field(url)
        if target is None:
            return
        if not self._show_box(*target):
            # Another document holds the value: show it, then outline the value once it is drawn.
            self._highlight_after_show = target
            documents = self.window.ui.document_list
            for row in range(documents.count()):
                if documents.item(row).data(Qt.ItemDataRole.UserRole) == target[0]:
                    documents.setCurrentRow(row)
                    break

    def _pending_highlight(self) -> None:
        target, self._highlight_after_show = self._highlight_after_show, None
        if target is None:
            return
        on_screen = getattr(self.window.preview, "on_screen", None)
        if callable(on_screen) and on_screen():
            self._show_box(*target)  # already drawn (read ahead, or the same file again)
            return
        self.window.preview.rendered.connect(
            lambda: self._show_box(*target), Qt.ConnectionType.SingleShotConnection
        )


def install_reading(
    window: Any, read_bytes: Callable[[bytes, str], DocumentReading] | None = None
) -> ReadingPresenter:
    """Read documents ahead for ``window`` (a workstation ``MainWindow``) and show what they say."""
    reader = DocumentReader(window.runner, window.db, window.store, read_bytes, parent=window)
    presenter = ReadingPresenter(window, reader)
    window.reading = presenter
    app = QApplication.instance()
    if app is not None:
        app.aboutToQuit.connect(reader.shutdown)
    window.destroyed.connect(lambda *_args: reader.shutdown())  # e.g. File → Switch connection
    return presenter
