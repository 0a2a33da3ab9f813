"""``DocumentPreview``: the document panel's viewer for PDFs and images, with its small toolbar.

    preview = DocumentPreview()                          # starts its render worker in the background
    preview.show_document(data, "application/pdf", "id_copy.pdf")
    preview.show_message("Select a document to preview it.")

Pages are drawn by a separate worker process (``render_worker.py``) through ``RenderClient``; this
widget only lays pages out, asks for the visible ones and paints what comes back, so nothing a
document does can block or crash the window. A document the worker cannot finish within the time
limit is abandoned with a message, and the next one renders normally.

``read_ahead(data)`` prepares the document the officer will probably look at next while they read
this one: the worker opens it beside the current one and draws its first page at the size it will
have on screen, into the page cache. ``show_document`` of those bytes then lays the pages out at once
and paints the first page from the cache, with no round trip to the worker.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent, QRect, QRectF, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QColor, QImage, QKeySequence, QPalette, QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSpinBox,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from cohortdesk.views.display_text import visible_name
from cohortdesk.views.preview import geometry, icons, messages, sniff
from cohortdesk.views.preview.cache import DEFAULT_CACHE_BYTES, PageCache
from cohortdesk.views.preview.client import DEFAULT_TIMEOUT_MS, RenderClient, RenderKey
from cohortdesk.views.preview.geometry import (
    CUSTOM,
    FIT_MIN_ZOOM,
    FIT_PAGE,
    FIT_WIDTH,
    MAX_ZOOM,
    MIN_ZOOM,
    PDF_POINT,
)
from cohortdesk.views.preview.page_view import PageView

ZOOM_STEPS = (10, 25, 33, 50, 67, 75, 90, 100, 110, 125, 150, 175, 200, 250, 300, 400)
#: Documents read ahead and remembered (their first page waits in the page cache).
AHEAD_DOCUMENTS = 4


@dataclass(slots=True)
class _Ahead:
    """A document read ahead: its worker token, kind, bytes and (once opened) its page sizes."""

    token: int
    kind: str
    data: bytes
    info: dict[str, Any] | None = None


# Keys the preview answers to while it has focus (for the window's shortcut sheet). The window may
# bind + - 0 itself to the same slots; the preview reads them as plain key presses, so there is no
# ambiguous-shortcut clash.
SHORTCUTS: tuple[tuple[str, str], ...] = (
    ("+ / -", "Zoom in / out"),
    ("0", "Reset zoom (fit width)"),
    ("Ctrl+1", "Actual size (100 %)"),
    ("Ctrl+2", "Fit width"),
    ("Ctrl+3", "Fit page"),
    ("Ctrl+R", "Rotate clockwise"),
    ("Page Down / Page Up", "Next / previous page"),
    ("Home / End", "First / last page"),
    ("Ctrl + mouse wheel", "Zoom"),
)


class _ElidedLabel(QLabel):
    """A one-line label that shortens its text with "…" when it is wider than the room it has, and
    shows nothing when too little would be left (the full text stays in ``full_text()``, the tooltip
    and the accessible name)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""

    def set_full_text(self, text: str) -> None:
        self._full = text
        self.setToolTip(text)
        self.setAccessibleName(text)
        self._elide()

    def full_text(self) -> str:
        return self._full

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        text = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideMiddle, max(self.width(), 0))
        # A name cut to a few letters ("ce…df") says nothing: then leave the room empty (the panel's
        # title and the document list name the file; the tooltip holds it).
        self.setText(text if text == self._full or len(text) >= 12 else "")


class _MessagePanel(QWidget):
    """A calm, centred message: an icon, a short title and one or two sentences of advice."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("previewMessage")
        self.setAccessibleName("Preview message")
        self.setAutoFillBackground(True)
        self.icon = QLabel(self)
        self.icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title = QLabel(self)
        self.title.setObjectName("previewMessageTitle")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        font.setBold(True)
        self.title.setFont(font)
        self.text = QLabel(self)
        self.text.setObjectName("previewMessageText")
        self.text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # A fixed-width column: word-wrapped labels centred by a layout otherwise get a wrong height.
        # Starts narrow (resizeEvent widens it to the panel, up to 400 px): a fixed 400 here would make
        # 430 px the preview's least width, too much for a laptop at 125 %.
        column = QWidget(self)
        column.setFixedWidth(120)
        column_layout = QVBoxLayout(column)
        column_layout.setContentsMargins(0, 0, 0, 0)
        column_layout.setSpacing(6)
        column_layout.addWidget(self.icon)
        column_layout.addSpacing(4)
        column_layout.addWidget(self.title)
        column_layout.addWidget(self.text)
        self.column = column
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(column)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 24, 16, 24)
        layout.addStretch(3)
        layout.addLayout(row)
        layout.addStretch(4)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.column.setFixedWidth(max(120, min(400, self.width() - 32)))

    def show_text(self, title: str, text: str, icon_name: str, tone: QColor) -> None:
        if icon_name:
            self.icon.setPixmap(icons.pixmap(icon_name, tone, size=48, width=1.5))
        self.icon.setVisible(bool(icon_name))
        self.title.setText(title)
        self.title.setVisible(bool(title))
        self.text.setText(text)
        self.setAccessibleDescription(f"{title}. {text}" if title else text)


class DocumentPreview(QWidget):
    """Preview of one uploaded document (PDF, JPEG, PNG, TIFF pages) with zoom, rotate and paging.

    Public interface: ``show_document``, ``show_message``, ``clear``; slots ``zoom_in``, ``zoom_out``,
    ``zoom_reset``, ``fit_width``, ``fit_page``, ``rotate``, ``next_page``, ``previous_page``; signals
    ``page_changed(current, count)`` (1-based), ``render_failed(message)`` and ``rendered()`` (the
    first page of a document is on screen).
    """

    page_changed = Signal(int, int)
    render_failed = Signal(str)
    rendered = Signal()
    zoom_changed = Signal(int)  # percent

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        worker_environment: dict[str, str] | None = None,
        start_worker: bool = True,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("documentPreview")
        self.setAccessibleName("Document preview")
        self.client = RenderClient(self, timeout_ms=timeout_ms, environment=worker_environment)
        self.client.opened.connect(self._on_worker_opened)
        self.client.page_rendered.connect(self._on_page_rendered)
        self.client.page_failed.connect(self._on_page_failed)
        self.client.failed.connect(self._on_failed)
        self.client.ahead_opened.connect(self._on_ahead_opened)
        self.client.ahead_failed.connect(self._on_ahead_failed)
        self.cache = PageCache(cache_bytes)
        self.state = "empty"  # empty | loading | document | message
        self._tokens = itertools.count(1)  # one sequence for shown documents and those read ahead
        self._token = 0
        self._ahead: OrderedDict[str, _Ahead] = OrderedDict()  # fingerprint -> read ahead
        self._fingerprint = ""
        self._kind = ""
        self._name = ""
        self._unit = 1.0
        self._zoom_mode = FIT_WIDTH
        self._zoom = 1.0
        self._rotation = 0
        self._rotations: OrderedDict[str, int] = OrderedDict()  # remembered per document, this session
        self._announced = False
        self._painted = False  # a rendering of this document was painted (announced next turn)
        self._message = ("", "")

        self._build()
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(12)  # coalesce scroll/zoom bursts into one request list
        self._render_timer.timeout.connect(self._request_renders)
        self._loading_timer = QTimer(self)
        self._loading_timer.setSingleShot(True)
        self._loading_timer.setInterval(300)  # show "Opening…" only if it is not instant
        self._loading_timer.timeout.connect(self._show_loading)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        self.clear()
        if start_worker:
            self.client.start()

    # -- construction --------------------------------------------------------------------------------

    def _build(self) -> None:
        self._icon_buttons: list[tuple[QToolButton, str]] = []
        self.toolbar = QFrame(self)
        self.toolbar.setObjectName("previewToolbar")
        self.toolbar.setAccessibleName("Preview tools")
        self.toolbar.setFrameShape(QFrame.Shape.NoFrame)
        bar = QHBoxLayout(self.toolbar)
        bar.setContentsMargins(6, 3, 6, 3)
        bar.setSpacing(2)

        self.name_label = _ElidedLabel(self.toolbar)
        self.name_label.setObjectName("previewDocumentName")
        self.name_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.name_label.setMinimumWidth(0)
        bar.addWidget(self.name_label, 1)

        self.previous_button = self._tool_button(
            "previewPreviousPage", "previous", "Previous page", "Page Up"
        )
        self.previous_button.clicked.connect(self.previous_page)
        bar.addWidget(self.previous_button)
        self.page_spin = QSpinBox(self.toolbar)
        self.page_spin.setObjectName("previewPageNumber")
        self.page_spin.setAccessibleName("Page number")
        # No arrow buttons, hidden by a zero width rather than NoButtons: under a style sheet that
        # gives spin boxes a border or padding (the workstation's), a NoButtons spin box lays its
        # text field out 1 px wide and the page number never shows.
        self.page_spin.setStyleSheet(
            "QSpinBox::up-button, QSpinBox::down-button { width: 0px; border: none; }"
            "QSpinBox::up-arrow, QSpinBox::down-arrow { image: none; width: 0px; height: 0px; }"
        )
        self.page_spin.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.page_spin.setKeyboardTracking(False)
        self.page_spin.setRange(0, 0)
        self.page_spin.setMinimumWidth(44)
        self.page_spin.valueChanged.connect(self._on_page_spin)
        bar.addWidget(self.page_spin)
        self.page_count_label = QLabel("of 0", self.toolbar)
        self.page_count_label.setObjectName("previewPageCount")
        self.page_count_label.setContentsMargins(4, 0, 2, 0)
        bar.addWidget(self.page_count_label)
        self.next_button = self._tool_button("previewNextPage", "next", "Next page", "Page Down")
        self.next_button.clicked.connect(self.next_page)
        bar.addWidget(self.next_button)
        bar.addSpacing(8)

        self.zoom_out_button = self._tool_button("previewZoomOut", "zoom_out", "Zoom out", "-")
        self.zoom_out_button.clicked.connect(self.zoom_out)
        bar.addWidget(self.zoom_out_button)
        self.zoom_box = QComboBox(self.toolbar)
        self.zoom_box.setObjectName("previewZoom")
        self.zoom_box.setAccessibleName("Zoom level")
        self.zoom_box.setToolTip("Zoom level: choose or type a percentage")
        self.zoom_box.setEditable(True)
        self.zoom_box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.zoom_box.addItems(
            ["Fit width", "Fit page", *[f"{step}%" for step in (50, 75, 100, 125, 150, 200, 300, 400)]]
        )
        self.zoom_box.lineEdit().setValidator(None)
        self.zoom_box.setMinimumContentsLength(5)
        self.zoom_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.zoom_box.activated.connect(self._on_zoom_chosen)
        self.zoom_box.lineEdit().returnPressed.connect(self._on_zoom_typed)
        bar.addWidget(self.zoom_box)
        self.zoom_in_button = self._tool_button("previewZoomIn", "zoom_in", "Zoom in", "+")
        self.zoom_in_button.clicked.connect(self.zoom_in)
        bar.addWidget(self.zoom_in_button)
        self.fit_width_button = self._tool_button("previewFitWidth", "fit_width", "Fit width", "Ctrl+2")
        self.fit_width_button.setCheckable(True)
        self.fit_width_button.clicked.connect(self.fit_width)
        bar.addWidget(self.fit_width_button)
        self.fit_page_button = self._tool_button("previewFitPage", "fit_page", "Fit page", "Ctrl+3")
        self.fit_page_button.setCheckable(True)
        self.fit_page_button.clicked.connect(self.fit_page)
        bar.addWidget(self.fit_page_button)
        bar.addSpacing(4)
        self.rotate_button = self._tool_button("previewRotate", "rotate", "Rotate clockwise", "Ctrl+R")
        self.rotate_button.clicked.connect(self.rotate)
        bar.addWidget(self.rotate_button)

        self.view = PageView(self)
        self.view.set_provider(self._image_for)
        self.view.visible_changed.connect(self._schedule_renders)
        self.view.current_page_changed.connect(self._on_current_page)
        self.view.command.connect(self._on_command)
        self.view.region_chosen.connect(self.zoom_to_region)
        self.view.resized.connect(self._on_resized)
        self.message = _MessagePanel(self)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.view)
        self.stack.addWidget(self.message)

        divider = QFrame(self)
        divider.setFrameShape(QFrame.Shape.HLine)
        divider.setFrameShadow(QFrame.Shadow.Plain)
        divider.setStyleSheet("color: palette(mid);")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.toolbar)
        layout.addWidget(divider)
        layout.addWidget(self.stack, 1)
        self.setFocusProxy(self.view)
        self._background()

        for text, keys, slot in (
            ("Actual size", "Ctrl+1", self.zoom_actual_size),
            ("Fit width", "Ctrl+2", self.fit_width),
            ("Fit page", "Ctrl+3", self.fit_page),
            ("Rotate clockwise", "Ctrl+R", self.rotate),
        ):
            action = QAction(text, self)
            action.setShortcut(QKeySequence(keys))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.triggered.connect(slot)
            self.addAction(action)

    def _tool_button(self, object_name: str, icon_name: str, text: str, keys: str) -> QToolButton:
        button = QToolButton(self.toolbar)
        button.setObjectName(object_name)
        button.setAccessibleName(text)
        button.setToolTip(f"{text} ({keys})")
        button.setAutoRaise(True)
        button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        button.setIconSize(QSize(20, 20))
        self._icon_buttons.append((button, icon_name))
        self._paint_icon(button, icon_name)
        return button

    def _paint_icon(self, button: QToolButton, icon_name: str) -> None:
        palette = self.palette()
        button.setIcon(
            icons.icon(
                icon_name,
                palette.color(QPalette.ColorRole.ButtonText),
                palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText),
            )
        )

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        """A theme switched while the window is open repaints the toolbar icons in the new colours."""
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.StyleChange):
            for button, icon_name in getattr(self, "_icon_buttons", ()):
                self._paint_icon(button, icon_name)

    def _background(self) -> None:
        palette = self.message.palette()
        palette.setColor(QPalette.ColorRole.Window, self.view.background_colour())
        self.message.setPalette(palette)

    # -- public interface ----------------------------------------------------------------------------

    def show_document(self, data: bytes | None, content_type: str = "", name: str = "") -> None:
        """Preview ``data``; the type is read from its bytes, ``content_type`` only words the message."""
        self._begin(name)
        sniffed = sniff.sniff(data)
        if data is None:
            self._show_problem("missing", {})
            return
        if sniffed.kind == sniff.EMPTY:
            self._show_problem("empty", {})
            return
        if sniffed.kind == sniff.UNSUPPORTED:
            title, text = messages.unsupported(sniffed.label, content_type)
            self._show_failure(title, text, "document")
            return
        self._kind = sniffed.kind
        # The very bytes read ahead need no second hash (a scan is hundreds of KB).
        known = next((f for f, a in self._ahead.items() if a.data is data), None)
        self._fingerprint = known or _fingerprint(data)
        self._rotation = self._rotations.get(self._fingerprint, 0)
        ahead = self._ahead.pop(self._fingerprint, None)
        if ahead is not None and ahead.info is not None and ahead.kind == self._kind:
            # Read ahead: the page sizes are known and the first page waits in the cache. Lay out
            # now; the worker makes it its current document in the background.
            self._token = ahead.token
            with self.client.held():  # the worker hears of it once the page is painted
                self.client.adopt(self._token, self._kind, bytes(data))
                self._on_opened(self._token, ahead.info)
                if self.isVisible():
                    # On screen now, not at the next update tick; and said so now.
                    self.view.viewport().repaint()
                    if self._painted:
                        self._announce()
            return
        self.state = "loading"
        self.view.clear_document()
        self.stack.setCurrentWidget(self.view)
        self._loading_timer.start()
        # The worker draws the first page as it opens the document, at the size this room gives it
        # (``geometry``): on screen after one round trip, not two.
        first = RenderKey(self._fingerprint, 0, self._rotation, 0, 0)
        self.client.open(self._token, self._kind, bytes(data), first, self._room(self._rotation))

    def read_ahead(self, data: bytes | None) -> None:
        """Prepare ``data`` to be shown next: opened beside the current document in the worker and its
        first page drawn into the cache at the size it will have (while nothing else is asked of the
        worker). Nothing is shown or announced; files that cannot be shown are left alone."""
        if not data:
            return
        kind = sniff.sniff(data).kind
        if kind not in (sniff.PDF, sniff.IMAGE):
            return
        fingerprint = _fingerprint(data)
        if fingerprint == self._fingerprint or fingerprint in self._ahead:
            if fingerprint in self._ahead:
                self._ahead.move_to_end(fingerprint)
            return
        ahead = _Ahead(next(self._tokens), kind, data)
        self._ahead[fingerprint] = ahead
        while len(self._ahead) > AHEAD_DOCUMENTS:
            self._ahead.popitem(last=False)
        self.client.forget_ahead({a.token for a in self._ahead.values()})
        self.client.read_ahead(ahead.token, kind, bytes(data))

    def is_read_ahead(self, data: bytes) -> bool:
        """Whether ``data`` was read ahead and its page sizes are known (tests, the bench)."""
        ahead = self._ahead.get(_fingerprint(data))
        return ahead is not None and ahead.info is not None

    def show_message(self, text: str) -> None:
        """Show ``text`` in the panel instead of a document (e.g. "No documents uploaded yet")."""
        self._begin("")
        self.state = "message"
        self._set_message("", text, "document", self._muted())

    def clear(self) -> None:
        """No document: an empty, quiet panel."""
        self._begin("")
        self.state = "empty"
        self._set_message("", "Select a document to preview it.", "document", self._muted())

    @Slot()
    def zoom_in(self) -> None:
        current = round(self._zoom * 100)
        self._set_zoom(CUSTOM, next((s for s in ZOOM_STEPS if s > current), ZOOM_STEPS[-1]) / 100)

    @Slot()
    def zoom_out(self) -> None:
        current = round(self._zoom * 100)
        self._set_zoom(CUSTOM, next((s for s in reversed(ZOOM_STEPS) if s < current), ZOOM_STEPS[0]) / 100)

    @Slot()
    def zoom_reset(self) -> None:
        """Back to the default view: fit width."""
        self._set_zoom(FIT_WIDTH)

    @Slot()
    def zoom_actual_size(self) -> None:
        self._set_zoom(CUSTOM, 1.0)

    @Slot()
    def fit_width(self) -> None:
        self._set_zoom(FIT_WIDTH)

    @Slot()
    def fit_page(self) -> None:
        self._set_zoom(FIT_PAGE)

    @Slot()
    def rotate(self) -> None:
        """Turn the view a quarter clockwise; the file is untouched and the turn is remembered."""
        if self.state != "document":
            return
        self._rotation = (self._rotation + 90) % 360
        self._rotations[self._fingerprint] = self._rotation
        self._rotations.move_to_end(self._fingerprint)
        while len(self._rotations) > 1000:
            self._rotations.popitem(last=False)
        self.view.set_rotation(self._rotation, self._scale_for(self._zoom_mode, self._zoom))
        self._zoom = self.view.scale / self._unit
        self._sync_toolbar()

    @Slot()
    def next_page(self) -> None:
        """PgDn: the rest of a zoomed-in page a screenful at a time, then the next page (a fitted page:
        the next page at once)."""
        if self.state == "document" and not (self._zoom_mode == CUSTOM and self.view.page_down(1)):
            self.view.scroll_to_page(self.view.current_page + 1)

    @Slot()
    def previous_page(self) -> None:
        if self.state == "document" and not (self._zoom_mode == CUSTOM and self.view.page_down(-1)):
            self.view.scroll_to_page(self.view.current_page - 1)

    def can_pan(self, key: int) -> bool:
        """Whether an arrow key moves the page on show (zoomed in, not at that edge)."""
        return self.state == "document" and self.view.can_pan(key)

    def zoom_to_region(self, page: int, left: float, top: float, right: float, bottom: float) -> None:
        """Zoom so the region (fractions of ``page``) fills the view, centred (Shift+drag)."""
        if self.state != "document":
            return
        region = self.view.page_rect(page)
        width, height = region.width() * (right - left), region.height() * (bottom - top)
        band = QRect(0, 0, max(1, round(width)), max(1, round(height)))
        scale = min(self.view.region_scale(band), MAX_ZOOM * self._unit)
        self._zoom_mode = CUSTOM
        self.view.set_scale(scale)
        self._zoom = self.view.scale / self._unit
        self.view.centre_on(page, (left + right) / 2, (top + bottom) / 2)
        self._sync_toolbar()

    def go_to_page(self, page: int) -> None:
        """Show 1-based ``page``."""
        if self.state == "document":
            self.view.scroll_to_page(page - 1)

    def highlight(self, page: int | None, box: tuple[float, float, float, float] | None = None) -> None:
        """Outline a value read off the page (0-based ``page``, ``box`` as fractions of the page) and
        bring it into view; ``None`` clears the outline."""
        if self.state != "document":
            return
        self.view.set_highlight(page, box)
        marked = self.view.highlight_rect()
        viewport = self.view.viewport().rect()
        if marked is None or QRectF(viewport).contains(marked):
            return
        vertical, horizontal = self.view.verticalScrollBar(), self.view.horizontalScrollBar()
        vertical.setValue(vertical.value() + round(marked.center().y() - viewport.height() / 2))
        horizontal.setValue(horizontal.value() + round(marked.center().x() - viewport.width() / 2))

    # -- introspection (tests, the window, assistive text) -------------------------------------------

    def on_screen(self) -> bool:
        """Whether the document's first page is on screen (``rendered`` was emitted for it)."""
        return self.state == "document" and self._announced

    def page_count(self) -> int:
        return self.view.page_count if self.state == "document" else 0

    def current_page(self) -> int:
        """1-based; 0 when no document is shown."""
        return self.view.current_page + 1 if self.state == "document" else 0

    def zoom_percent(self) -> int:
        return round(self._zoom * 100)

    def rotation(self) -> int:
        return self._rotation

    def message_text(self) -> str:
        """The title and text on show when the panel shows a message rather than a document."""
        title, text = self._message
        return f"{title}. {text}" if title else text

    def page_image(self, page: int) -> QImage | None:
        """The best rendering of 1-based ``page`` received so far."""
        if self.state != "document":
            return None
        return self.cache.best(self._fingerprint, page - 1, self._rotation)

    def shutdown(self) -> None:
        """Stop the render worker (the window calls this on close; app exit does it too)."""
        self.client.shutdown()

    # -- internals -----------------------------------------------------------------------------------

    def _begin(self, name: str) -> None:
        self._token = next(self._tokens)
        name = visible_name(name)  # a learner's file name: no direction tricks, no line breaks
        self._name = name
        self._announced = False
        self._painted = False
        self._fingerprint = ""
        self._loading_timer.stop()
        self._render_timer.stop()
        self.client.close_document()
        self.name_label.set_full_text(name)
        self.view.setAccessibleDescription(name)

    def _muted(self) -> QColor:
        return self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText)

    def _set_message(self, title: str, text: str, icon_name: str, tone: QColor) -> None:
        self._message = (title, text)
        self.view.clear_document()
        self.message.show_text(title, text, icon_name, tone)
        self.stack.setCurrentWidget(self.message)
        self._sync_toolbar()

    def _show_problem(self, code: str, details: dict[str, Any]) -> None:
        title, text = messages.failure(code, details)
        icon_name = {"encrypted": "lock", "timeout": "clock"}.get(code, "warning")
        self._show_failure(title, text, icon_name)

    def _show_failure(self, title: str, text: str, icon_name: str) -> None:
        self._fingerprint = ""
        self.state = "message"
        self._loading_timer.stop()
        self._set_message(
            title, text, icon_name, QColor(176, 96, 16) if icon_name != "document" else self._muted()
        )
        self.render_failed.emit(f"{title}. {text}")

    def _show_loading(self) -> None:
        if self.state == "loading":
            self._set_message("", f"Opening {self._name}…" if self._name else "Opening…", "", self._muted())
            self.state = "loading"

    def _on_opened(self, token: int, info: dict[str, Any]) -> None:
        if token != self._token:
            return
        self._loading_timer.stop()
        self._unit = PDF_POINT if info.get("unit") == "pt" else 1.0
        sizes = [(float(w) * self._unit, float(h) * self._unit) for w, h in info.get("sizes", [])]
        self.state = "document"
        self.stack.setCurrentWidget(self.view)
        self.view.set_document(int(info["pages"]), sizes, self.view.scale, self._rotation)
        self.view.set_rotation(self._rotation, self._scale_for(self._zoom_mode, self._zoom))
        # The scroll area shows or hides its bars on a queued call: settle them now (a bar that comes
        # narrows the view and refits the page) so the pages asked for and painted next have their
        # final size, not a size the next turn replaces.
        QCoreApplication.sendPostedEvents(self.view, QEvent.Type.MetaCall)
        self.view.set_rotation(self._rotation, self._scale_for(self._zoom_mode, self._zoom))
        self.view.scroll_to_page(0)
        self._zoom = self.view.scale / self._unit
        self._sync_toolbar()
        self.page_changed.emit(1, self.view.page_count)
        self._request_renders()

    def _on_worker_opened(self, token: int, info: dict[str, Any]) -> None:
        """The worker opened the document shown (its first page drawn with it, into the cache, when
        the room was right): lay out, and paint that page now, not at the next update tick."""
        with self.client.held():  # the next pages are asked for once this one is painted
            self._on_opened(token, info)
            if token == self._token and self.state == "document" and self.isVisible():
                self.view.viewport().repaint()
                if self._painted:
                    self._announce()

    def _on_ahead_opened(self, token: int, info: dict[str, Any]) -> None:
        found = next(((f, a) for f, a in self._ahead.items() if a.token == token), None)
        if found is None:
            return  # shown or forgotten meanwhile
        fingerprint, ahead = found
        ahead.info = info
        rotation = self._rotations.get(fingerprint, 0)
        width, height = geometry.first_page_pixels(info, self._room(rotation))
        key = RenderKey(fingerprint, 0, rotation, width, height)
        if key not in self.cache:
            self.client.render_ahead(token, key, 0)

    def _on_ahead_failed(self, token: int) -> None:
        for fingerprint, ahead in list(self._ahead.items()):
            if ahead.token == token:
                del self._ahead[fingerprint]

    def _on_failed(self, token: int, code: str, details: dict[str, Any]) -> None:
        if token == self._token and self.state in ("loading", "document"):
            self._show_problem(code, details)

    def _on_page_rendered(self, token: int, key: RenderKey, image: QImage) -> None:
        self.cache.put(key, image)
        if token != self._token or key.fingerprint != self._fingerprint or self.state != "document":
            return  # (a first page drawn with the open arrives just before the open's answer)
        if not self.isVisible():
            self.view.viewport().update()
            self._announce()
        elif not self._announced:
            # A document's first page: on screen now, not at the next update tick; said so now.
            self.view.viewport().repaint()
            if self._painted:
                self._announce()
        else:
            self.view.viewport().update()
        self._schedule_renders()

    def _on_page_failed(self, token: int, key: RenderKey, detail: str) -> None:
        if token == self._token:
            self.view.set_page_failed(key.page)

    def _image_for(self, page: int, size: QSize) -> tuple[QImage | None, bool]:
        """What the page view paints for ``page``: the exact rendering, else any as a stand-in."""
        if not self._fingerprint:
            return None, False
        image = self.cache.get(self._key(page, size))
        exact = image is not None
        if image is None:
            image = self.cache.best(self._fingerprint, page, self._rotation)
        if image is not None and not self._announced:
            self._painted = True
            QTimer.singleShot(0, self._announce)
        return image, exact

    def _announce(self) -> None:
        if not self._announced and self.state == "document":
            self._announced = True
            self.rendered.emit()

    def _key(self, page: int, size: QSize) -> RenderKey:
        return _capped_key(RenderKey(self._fingerprint, page, self._rotation, size.width(), size.height()))

    def _schedule_renders(self) -> None:
        if self.state == "document" and not self._render_timer.isActive():
            self._render_timer.start()

    def _request_renders(self) -> None:
        if self.state != "document":
            return
        ratio = self.view.devicePixelRatioF()
        wanted = []
        for page in self.view.pages_to_render():
            logical = self.view.display_size(page)
            key = self._key(page, QSize(round(logical.width() * ratio), round(logical.height() * ratio)))
            if key not in self.cache:
                wanted.append((key, page))
        self.client.render(self._token, wanted)

    def _room(self, rotation: int) -> geometry.Room:
        """How a document would be shown now (``geometry.first_page_pixels``)."""
        bare_width, bar_extent, height = self.view.fit_room()
        return geometry.Room(
            self._zoom_mode,
            self._zoom,
            rotation,
            self.view.devicePixelRatioF(),
            bare_width,
            bar_extent,
            height,
        )

    def _scale_for(self, mode: str, zoom: float) -> float:
        """View scale (logical px per page unit) for a zoom mode."""
        if mode in (FIT_WIDTH, FIT_PAGE):
            # A fit is a fit: a giant page (a 14,400 pt poster) goes below the smallest typed zoom.
            fit = self.view.fit_width_scale() if mode == FIT_WIDTH else self.view.fit_page_scale()
            return min(max(fit, FIT_MIN_ZOOM * self._unit), MAX_ZOOM * self._unit)
        scale = zoom * self._unit
        return min(max(scale, MIN_ZOOM * self._unit), MAX_ZOOM * self._unit)

    def _set_zoom(self, mode: str, zoom: float = 1.0) -> None:
        self._zoom_mode = mode
        if self.state == "document":
            self.view.set_scale(self._scale_for(mode, zoom))
            if mode == FIT_PAGE:
                self.view.scroll_to_page(self.view.current_page)
            self._zoom = self.view.scale / self._unit
        else:
            self._zoom = zoom
        self._sync_toolbar()

    def _on_resized(self) -> None:
        if self.state == "document" and self._zoom_mode != CUSTOM:
            self.view.set_scale(self._scale_for(self._zoom_mode, self._zoom))
            self._zoom = self.view.scale / self._unit
            self._sync_toolbar()

    def _on_current_page(self, page: int) -> None:
        self._sync_toolbar()
        self.page_changed.emit(page + 1, self.view.page_count)

    def _on_page_spin(self, value: int) -> None:
        if self.state == "document" and value - 1 != self.view.current_page:
            self.view.scroll_to_page(value - 1)

    def _on_zoom_chosen(self, index: int) -> None:
        text = self.zoom_box.itemText(index)
        if text == "Fit width":
            self.fit_width()
        elif text == "Fit page":
            self.fit_page()
        else:
            self._set_zoom(CUSTOM, int(text.rstrip("%")) / 100)
        self.view.setFocus()

    def _on_zoom_typed(self) -> None:
        digits = "".join(ch for ch in self.zoom_box.currentText() if ch.isdigit())
        if digits:
            self._set_zoom(CUSTOM, min(max(int(digits), 10), 400) / 100)
        else:
            self._sync_toolbar()

    def _on_command(self, name: str) -> None:
        if name == "first_page":
            self.go_to_page(1)
        elif name == "last_page":
            self.go_to_page(self.page_count())
        else:
            getattr(self, name)()

    def _sync_toolbar(self) -> None:
        showing = self.state == "document"
        count = self.view.page_count if showing else 0
        current = self.view.current_page + 1 if showing else 0
        for widget in (
            self.zoom_out_button,
            self.zoom_box,
            self.zoom_in_button,
            self.fit_width_button,
            self.fit_page_button,
            self.rotate_button,
        ):
            widget.setEnabled(showing)
        self.page_spin.blockSignals(True)
        self.page_spin.setSpecialValueText("" if count else " ")  # no document: an empty box, not "0"
        self.page_spin.setRange(1 if count else 0, max(count, 0))
        self.page_spin.setValue(current)
        self.page_spin.setEnabled(count > 1)
        self.page_spin.blockSignals(False)
        self.page_count_label.setText(f"of {count:,}" if count else "")
        self.page_count_label.setEnabled(count > 1)
        self.previous_button.setEnabled(showing and current > 1)
        self.next_button.setEnabled(showing and current < count)
        self.zoom_box.lineEdit().setText(f"{round(self._zoom * 100)}%" if showing else "")
        self.fit_width_button.setChecked(showing and self._zoom_mode == FIT_WIDTH)
        self.fit_page_button.setChecked(showing and self._zoom_mode == FIT_PAGE)
        self.zoom_changed.emit(round(self._zoom * 100))

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._background()
        self._schedule_renders()

    def sizeHint(self) -> QSize:
        return QSize(520, 680)


def _fingerprint(data: bytes) -> str:
    """What identifies a document's bytes in the page cache and the remembered rotations."""
    return hashlib.blake2b(bytes(data), digest_size=16).hexdigest()


def _capped_key(key: RenderKey) -> RenderKey:
    """Pages larger than the worker draws are asked for at its largest (and scaled on screen)."""
    width, height = geometry.capped(key.width, key.height)
    return RenderKey(key.fingerprint, key.page, key.rotation, width, height)
