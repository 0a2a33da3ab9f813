"""Layout of the verification workstation, and nothing else: which widgets exist, their object names,
accessible names and placement. Behaviour lives in the other
modules of this package (``window.py`` composes them).

Wide (four columns fit):

    ┌ cohorts ┐┌ queue: search, filters, table ┐┌ decision bar + preview ┐┌ documents ┐
    │ tree    ││                                ││                        │├ student   ┤
    │         ││                                ││                        │├ history   ┤

Compact (a laptop, or a large screen at 125 %/150 %): the cohort tree sits above the queue, and the
right-hand panes become tabs beside a larger preview:

    ┌ cohorts ───────┐┌ decision bar + preview ┐┌[Documents|Student|History]┐
    ├ queue ─────────┤│                        ││                            │
    │                ││                        ││                            │
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPaintEvent, QTextOption
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QMainWindow,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QStyle,
    QStyleOptionComboBox,
    QStylePainter,
    QTableView,
    QTabWidget,
    QTextBrowser,
    QTreeView,
    QTreeWidget,
    QVBoxLayout,
    QWidget,
)

from cohortdesk.views.delegates import TwoLineBadgeDelegate
from cohortdesk.views.enrollment_panels import HISTORY_HEADERS
from cohortdesk.views.queue_table_model import QueueTableModel

VERIFICATION_FILTERS = (
    ("To decide", "to_decide"),
    ("Waiting for uploads", "waiting_for_uploads"),
    ("All pending", "pending"),
    ("Verified", "verified"),
    ("Rejected", "rejected"),
    ("All states", None),
)
#: What each verification choice asks of the queue: (verification state, decidable).
#: "To decide": pending with at least one uploaded document awaiting a decision (the default);
#: "Waiting for uploads": pending with nothing uploaded that awaits a decision.
VERIFICATION_VIEWS: dict[str | None, tuple[str | None, bool | None]] = {
    "to_decide": ("pending", True),
    "waiting_for_uploads": ("pending", False),
    "pending": ("pending", None),
    "verified": ("verified", None),
    "rejected": ("rejected", None),
    None: (None, None),
}
PROGRAM_FILTERS = (
    ("All programmes", None),
    ("Learnership", "learnership"),
    ("Internship", "internship"),
    ("Candidacy", "candidacy"),
)
ENROLLMENT_FILTERS = (
    ("Any enrollment", None),
    ("Waiting", "waiting"),
    ("In progress", "in_progress"),
    ("Complete", "complete"),
)


#: Below this window width (logical pixels) four columns no longer fit: the compact arrangement.
COMPACT_BELOW = 1500


def panel(title: str, name: str, parent: QWidget) -> tuple[QFrame, QVBoxLayout, QLabel]:
    frame = QFrame(parent)
    frame.setObjectName("panel")
    frame.setProperty("panelName", name)
    layout = QVBoxLayout(frame)
    layout.setContentsMargins(10, 8, 10, 10)
    layout.setSpacing(6)
    label = QLabel(title, frame)
    label.setObjectName("panelTitle")
    layout.addWidget(label)
    return frame, layout, label


class ElidingComboBox(QComboBox):
    """A combo box that ends a choice too long for its width with "…" (and says it whole in its
    tooltip) instead of cutting it mid-letter: three filters share a narrow queue at 1366x768 and
    125 %."""

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QStylePainter(self)
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, option)
        field = self.style().subControlRect(
            QStyle.ComplexControl.CC_ComboBox, option, QStyle.SubControl.SC_ComboBoxEditField, self
        )
        whole = option.currentText
        option.currentText = self.fontMetrics().elidedText(whole, Qt.TextElideMode.ElideRight, field.width())
        tip = whole if option.currentText != whole else ""
        if self.toolTip() != tip:  # known only here, where the label's room is measured
            self.setToolTip(tip)
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, option)


def combo(
    name: str, accessible: str, choices: tuple[tuple[str, str | None], ...], parent: QWidget
) -> QComboBox:
    box = ElidingComboBox(parent)
    box.setObjectName(name)
    box.setAccessibleName(accessible)
    for text, value in choices:
        box.addItem(text, value)
    # Room for about six characters at least; wider when there is room (a laptop at 125 % has little).
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    box.setMinimumContentsLength(6)
    box.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    return box


class WorkstationView:
    """Builds the widgets into ``window``; the preview widget comes from the caller."""

    def __init__(self, window: QMainWindow, preview: QWidget) -> None:
        central = QWidget(window)
        central.setObjectName("workstation")
        outer = QVBoxLayout(central)
        outer.setContentsMargins(8, 8, 8, 6)
        window.setCentralWidget(central)

        self.main_splitter = QSplitter(Qt.Orientation.Horizontal, central)
        self.main_splitter.setObjectName("mainSplitter")
        self.main_splitter.setChildrenCollapsible(False)
        outer.addWidget(self.main_splitter)

        # --- left: cohort browser -----------------------------------------------------------
        left, left_layout, _ = panel("Cohorts", "cohorts", self.main_splitter)
        self.cohorts_panel = left
        self.cohort_browser = QTreeView(left)
        self.cohort_browser.setObjectName("cohortBrowser")
        self.cohort_browser.setAccessibleName("Cohort browser")
        self.cohort_browser.setAccessibleDescription(
            "Institutions and their cohorts; choose one to filter the queue."
        )
        self.cohort_browser.setHeaderHidden(True)
        self.cohort_browser.setItemDelegate(TwoLineBadgeDelegate(self.cohort_browser))
        self.cohort_browser.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.cohort_browser.setUniformRowHeights(True)
        self.cohort_browser.setIndentation(14)
        left_layout.addWidget(self.cohort_browser)
        legend = QLabel("The numbers count enrollments with a document to decide.", left)
        legend.setObjectName("panelHint")
        legend.setWordWrap(True)
        left_layout.addWidget(legend)

        # --- centre: the queue -------------------------------------------------------------
        centre, centre_layout, self.queue_title = panel("Enrollment queue", "queue", self.main_splitter)
        self.queue_panel = centre
        self.queue_search = QLineEdit(centre)
        self.queue_search.setObjectName("queueSearch")
        self.queue_search.setAccessibleName("Search the queue")
        self.queue_search.setPlaceholderText("Search name, e-mail or ID number   (Ctrl+F)")
        self.queue_search.setClearButtonEnabled(True)
        centre_layout.addWidget(self.queue_search)
        filters = QHBoxLayout()
        filters.setSpacing(6)
        self.state_filter = combo("stateFilter", "Verification state filter", VERIFICATION_FILTERS, centre)
        self.program_filter = combo("programFilter", "Programme filter", PROGRAM_FILTERS, centre)
        self.enrollment_filter = combo(
            "enrollmentFilter", "Enrollment state filter", ENROLLMENT_FILTERS, centre
        )
        # Equal shares of the queue's width, so each says its whole choice when there is room (a
        # trailing stretch held them at their six-character minimum: "All program", "Any enrollm").
        for box in (self.state_filter, self.program_filter, self.enrollment_filter):
            filters.addWidget(box, 1)
        centre_layout.addLayout(filters)
        self.queue_scope = QLabel("", centre)
        self.queue_scope.setObjectName("queueScope")
        self.queue_summary = QLabel("", centre)
        self.queue_summary.setObjectName("queueSummary")
        # "2 new · Show": enrollments that entered this queue (another officer, a learner's upload)
        # since it was loaded; the list does not move under the officer's cursor until they ask.
        self.queue_news = QPushButton("", centre)
        self.queue_news.setObjectName("queueNews")
        self.queue_news.setFlat(True)
        self.queue_news.setCursor(Qt.CursorShape.PointingHandCursor)
        self.queue_news.setToolTip("Enrollments entered this queue since it was loaded: show them (F5)")
        self.queue_news.hide()
        # "4 more outside this filter · Show": a search also counts its matches in every state,
        # cohort and programme, so "nothing here" never reads as "nobody".
        self.queue_outside = QPushButton("", centre)
        self.queue_outside.setObjectName("queueOutside")
        self.queue_outside.setFlat(True)
        self.queue_outside.setCursor(Qt.CursorShape.PointingHandCursor)
        self.queue_outside.setToolTip("Show the search's matches in every state, cohort and programme")
        self.queue_outside.hide()
        summary_row = QHBoxLayout()
        summary_row.addWidget(self.queue_scope, 1)
        summary_row.addWidget(self.queue_outside)
        summary_row.addWidget(self.queue_news)
        summary_row.addWidget(self.queue_summary)
        centre_layout.addLayout(summary_row)
        self.queue_table = QTableView(centre)
        self.queue_table.setObjectName("enrollmentQueue")
        self.queue_table.setAccessibleName("Enrollment queue")
        self.queue_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.queue_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.queue_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.queue_table.setAlternatingRowColors(True)
        self.queue_table.setShowGrid(False)
        self.queue_table.setWordWrap(False)
        self.queue_table.setTabKeyNavigation(False)
        self.queue_table.verticalHeader().setVisible(False)
        self.queue_table.verticalHeader().setDefaultSectionSize(30)
        header = self.queue_table.horizontalHeader()
        header.setHighlightSections(False)
        header.setSectionsMovable(True)
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        centre_layout.addWidget(self.queue_table, 1)
        self.queue_empty = QLabel("", self.queue_table.viewport())
        self.queue_empty.setObjectName("emptyState")
        self.queue_empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.queue_empty.setWordWrap(True)
        self.queue_empty.hide()

        # --- right: decision bar + preview, then documents / student / history ---------------
        self.detail_splitter = QSplitter(Qt.Orientation.Horizontal, self.main_splitter)
        self.detail_splitter.setObjectName("detailSplitter")
        self.detail_splitter.setChildrenCollapsible(False)

        viewer, viewer_layout, self.document_title = panel("Document", "preview", self.detail_splitter)
        self.viewer_panel = viewer
        self.document_title.setObjectName("documentTitle")
        # Title row: the document's name, then its state in words ("Not checked yet · 1.6 KB").
        title_row = QHBoxLayout()
        title_row.setSpacing(10)
        viewer_layout.removeWidget(self.document_title)
        title_row.addWidget(self.document_title)
        self.document_status = QLabel("", viewer)
        self.document_status.setObjectName("documentStatus")
        self.document_status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        title_row.addWidget(self.document_status, 1)
        viewer_layout.addLayout(title_row)
        bar = QHBoxLayout()
        bar.setSpacing(8)
        self.approve_button = QPushButton("Approve   A", viewer)
        self.approve_button.setObjectName("approveButton")
        self.approve_button.setAccessibleName("Approve document")
        self.approve_button.setToolTip("Approve this document (A)")
        self.reject_button = QPushButton("Reject…   R", viewer)
        self.reject_button.setObjectName("rejectButton")
        self.reject_button.setAccessibleName("Reject document")
        self.reject_button.setToolTip("Reject this document with a reason (R)")
        self.save_and_next = QCheckBox("Save and &next", viewer)
        self.save_and_next.setObjectName("saveAndNext")
        self.save_and_next.setAccessibleName("Save and next")
        self.save_and_next.setToolTip("After a decision, go to the next document to check (Ctrl+Shift+N)")
        self.save_and_next.setChecked(True)
        bar.addWidget(self.save_and_next)
        # A note for colleagues that goes with the next decision (never sent to the learner).
        self.internal_note = QLineEdit(viewer)
        self.internal_note.setObjectName("internalNote")
        self.internal_note.setAccessibleName("Internal note for the next decision")
        self.internal_note.setPlaceholderText("Internal note (optional)")
        self.internal_note.setToolTip(
            "Goes with the next Approve or Reject into the history, for colleagues; never sent to the learner."
        )
        self.internal_note.setClearButtonEnabled(True)
        self.internal_note.setMinimumWidth(60)
        bar.addWidget(self.internal_note, 1)
        bar.addWidget(self.reject_button)
        bar.addWidget(self.approve_button)
        viewer_layout.addLayout(bar)
        self.preview = preview
        preview.setParent(viewer)
        page_row = QHBoxLayout()
        page_row.setSpacing(8)
        page_row.addWidget(preview, 1)
        # The reject form docks here, beside the page (the document stays readable while typing).
        self.reject_dock = QFrame(viewer)
        self.reject_dock.setObjectName("rejectDock")
        self.reject_dock.setFrameShape(QFrame.Shape.StyledPanel)
        self.reject_dock.setMinimumWidth(240)
        self.reject_dock.setMaximumWidth(420)
        self.reject_dock.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        dock_layout = QVBoxLayout(self.reject_dock)
        dock_layout.setContentsMargins(0, 0, 0, 0)
        self.reject_dock.hide()
        page_row.addWidget(self.reject_dock)
        viewer_layout.addLayout(page_row, 1)

        self.side_splitter = QSplitter(Qt.Orientation.Vertical, self.detail_splitter)
        self.side_splitter.setObjectName("sideSplitter")
        self.side_splitter.setChildrenCollapsible(False)
        docs, docs_layout, docs_title = panel("Documents", "documents", self.side_splitter)
        self.document_list = QListWidget(docs)
        self.document_list.setObjectName("documentList")
        self.document_list.setAccessibleName("Uploaded documents")
        self.document_list.setItemDelegate(TwoLineBadgeDelegate(self.document_list))
        self.document_list.setUniformItemSizes(True)
        # The badge keeps its room and the title is elided: never a sideways scroll bar.
        self.document_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        docs_layout.addWidget(self.document_list)

        student, student_layout, student_title = panel("Student", "student", self.side_splitter)
        self.student_details = QTextBrowser(student)
        self.student_details.setObjectName("studentDetails")
        self.student_details.setAccessibleName("Student details")
        self.student_details.setOpenLinks(False)
        # Whole words only ("Captured", never "Capt ured"); e-mail addresses break after "@" or "."
        # (enrollment_panels marks the places).
        self.student_details.setWordWrapMode(QTextOption.WrapMode.WordWrap)
        student_layout.addWidget(self.student_details)

        history, history_layout, history_title = panel("History", "history", self.side_splitter)
        self.history = QTreeWidget(history)
        self.history.setObjectName("verificationHistory")
        self.history.setAccessibleName("Verification history")
        self.history.setRootIsDecorated(False)
        self.history.setUniformRowHeights(True)
        self.history.setAlternatingRowColors(True)
        self.history.setHeaderLabels(list(HISTORY_HEADERS))
        self.history.header().setStretchLastSection(True)
        self.history_empty = QLabel("No decisions yet.", history)
        self.history_empty.setObjectName("panelHint")
        self.history_empty.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.history_empty.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        history_layout.addWidget(self.history)
        history_layout.addWidget(self.history_empty)

        #: The three right-hand panes in order, with their titles (hidden while they are tabs).
        self.side_panels: tuple[tuple[QFrame, QLabel, str], ...] = (
            (docs, docs_title, "&Documents"),
            (student, student_title, "&Student"),
            (history, history_title, "&History"),
        )
        # The compact arrangement's containers (empty and hidden while the window is wide).
        self.left_splitter = QSplitter(Qt.Orientation.Vertical)
        self.left_splitter.setObjectName("leftSplitter")
        self.left_splitter.setChildrenCollapsible(False)
        self.side_tabs = QTabWidget()
        self.side_tabs.setObjectName("sideTabs")
        self.side_tabs.setAccessibleName("Documents, student and history")
        self.side_tabs.setDocumentMode(True)
        self.side_tabs.setUsesScrollButtons(True)  # the tab row never sets the pane's least width
        self.compact = False
        self._stretch_wide()

    def _stretch_wide(self) -> None:
        self.main_splitter.setStretchFactor(0, 0)
        self.main_splitter.setStretchFactor(1, 3)
        self.main_splitter.setStretchFactor(2, 5)
        self.detail_splitter.setStretchFactor(0, 3)
        self.detail_splitter.setStretchFactor(1, 2)
        self.side_splitter.setStretchFactor(0, 2)
        self.side_splitter.setStretchFactor(1, 5)
        self.side_splitter.setStretchFactor(2, 2)

    def arrange(self, compact: bool) -> bool:
        """Switch between the wide and the compact arrangement; True when something moved."""
        if compact == self.compact:
            return False
        self.compact = compact
        focused = self.main_splitter.window().focusWidget()
        if compact:
            self.left_splitter.addWidget(self.cohorts_panel)
            self.left_splitter.addWidget(self.queue_panel)
            self.left_splitter.setStretchFactor(0, 1)
            self.left_splitter.setStretchFactor(1, 3)
            self.main_splitter.insertWidget(0, self.left_splitter)
            for frame, title, tab_text in self.side_panels:
                title.hide()
                self.side_tabs.addTab(frame, tab_text.replace("&", ""))
                frame.show()
            self.detail_splitter.insertWidget(1, self.side_tabs)
            self.side_splitter.hide()
            self.side_splitter.setParent(None)
            self.left_splitter.show()
            self.side_tabs.show()
            self.main_splitter.setStretchFactor(0, 4)
            self.main_splitter.setStretchFactor(1, 6)
            self.detail_splitter.setStretchFactor(0, 3)
            self.detail_splitter.setStretchFactor(1, 2)
        else:
            while self.side_tabs.count():
                self.side_tabs.removeTab(0)
            for frame, title, _text in self.side_panels:
                title.show()
                self.side_splitter.addWidget(frame)
                frame.show()
            self.main_splitter.insertWidget(0, self.cohorts_panel)
            self.main_splitter.insertWidget(1, self.queue_panel)
            self.detail_splitter.insertWidget(1, self.side_splitter)
            self.left_splitter.hide()
            self.left_splitter.setParent(None)
            self.side_tabs.hide()
            self.side_tabs.setParent(None)
            self.side_splitter.show()
            self._stretch_wide()
        # The queue is narrower in the compact arrangement: the cohort (named in the tree above, and in
        # the student's tooltip) gives way, and the student's name takes what the other columns leave,
        # so the queue never scrolls sideways (at 1366x768 and 125 % the Pre-check column was cut).
        self.queue_table.setColumnHidden(QueueTableModel.COL_COHORT, compact)
        self.queue_table.horizontalHeader().setSectionResizeMode(
            QueueTableModel.COL_STUDENT,
            QHeaderView.ResizeMode.Stretch if compact else QHeaderView.ResizeMode.Interactive,
        )
        if focused is not None:
            focused.setFocus()
        return True

    def dock_reject_form(self, form: QWidget | None) -> None:
        """Show ``form`` docked beside the page, where the right-hand panes were (they come back when
        ``form`` is None); the document stays in view while the reason is typed."""
        side = self.detail_splitter.widget(1)
        if form is None:
            self.reject_dock.hide()
            if side is not None:
                side.show()
            return
        self.reject_dock.layout().addWidget(form)
        if side is not None:
            side.hide()
        self.reject_dock.show()

    def show_side_panel(self, widget: QWidget) -> None:
        """Bring the tab holding ``widget`` to the front (compact arrangement); wide: nothing to do."""
        if not self.compact:
            return
        for position in range(self.side_tabs.count()):
            page = self.side_tabs.widget(position)
            if page is widget or page.isAncestorOf(widget):
                self.side_tabs.setCurrentIndex(position)
                return
