"""The scrolling page area: lays out every page of a document at the current zoom and rotation, and
paints whatever renderings exist, asking for the visible ones only.

It never holds a page per widget or a bitmap per page: a 20,000-page PDF costs a list of page tops.
Scroll positions are plain pixels (a QAbstractScrollArea, not a QScrollArea with a giant child,
whose height Qt caps at 16 million pixels).
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable

from PySide6.QtCore import QPoint, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFocusEvent,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QAbstractScrollArea, QFrame, QRubberBand, QWidget

from cohortdesk.views.preview.geometry import GAP, MARGIN

ImageProvider = Callable[[int, QSize], tuple[QImage | None, bool]]


class PageView(QAbstractScrollArea):
    """Pages stacked vertically and centred, on a neutral background, each with a soft shadow."""

    visible_changed = Signal()  # scrolled, resized, zoomed or rotated: time to render what shows
    current_page_changed = Signal(int)  # 0-based
    command = Signal(str)  # keyboard/mouse requests for the owner: "zoom_in", "next_page", ...
    #: Shift+drag chose a region to zoom to: (page, left, top, right, bottom) as fractions of the page.
    region_chosen = Signal(int, float, float, float, float)
    resized = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("previewPages")
        self.setAccessibleName("Document pages")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.viewport().setAutoFillBackground(False)
        self.setMinimumSize(160, 160)
        self._base: list[tuple[float, float]] = []  # page sizes at 100 %, unrotated, logical px
        self._count = 0
        self._scale = 1.0
        self._rotation = 0
        self._widths: list[int] = []
        self._heights: list[int] = []
        self._tops: list[int] = []
        self._content = QSize(0, 0)
        self._current = 0
        self._failed: set[int] = set()
        self._provider: ImageProvider = lambda page, size: (None, False)
        self._drag_from: QPoint | None = None
        self._band_from: QPoint | None = None  # Shift+drag: where the zoom region started
        self._band = QRubberBand(QRubberBand.Shape.Rectangle, self.viewport())
        self._band.hide()
        self._uniform_tail = False  # pages past the known sizes repeat the last size
        #: (page, (x0, y0, x1, y1) as fractions of the unrotated page): a value read off the page.
        self._highlight: tuple[int, tuple[float, float, float, float]] | None = None

    # -- document and geometry -----------------------------------------------------------------------

    def set_provider(self, provider: ImageProvider) -> None:
        self._provider = provider

    def set_document(
        self, count: int, base_sizes: list[tuple[float, float]], scale: float, rotation: int
    ) -> None:
        self._count = count
        self._highlight = None
        self._base = base_sizes or [(612.0, 792.0)]
        self._scale = scale
        self._rotation = rotation
        self._failed = set()
        self._current = 0
        self._relayout()
        self.verticalScrollBar().setValue(0)
        self.horizontalScrollBar().setValue(0)
        self._centre_horizontally()
        self.viewport().update()

    def set_highlight(self, page: int | None, box: tuple[float, float, float, float] | None = None) -> None:
        """Outline ``box`` on ``page`` (fractions of the page before rotation); None clears it."""
        self._highlight = (page, box) if page is not None and box is not None else None
        self.viewport().update()

    def highlight_rect(self) -> QRectF | None:
        """Where the highlight is drawn, in viewport coordinates."""
        if self._highlight is None or not 0 <= self._highlight[0] < self._count:
            return None
        page, (x0, y0, x1, y1) = self._highlight
        if self._rotation == 90:
            x0, y0, x1, y1 = 1 - y1, x0, 1 - y0, x1
        elif self._rotation == 180:
            x0, y0, x1, y1 = 1 - x1, 1 - y1, 1 - x0, 1 - y0
        elif self._rotation == 270:
            x0, y0, x1, y1 = y0, 1 - x1, y1, 1 - x0
        rect = self.page_rect(page)
        pad = 4
        return QRectF(
            rect.left() + x0 * rect.width() - pad,
            rect.top() + y0 * rect.height() - pad,
            (x1 - x0) * rect.width() + 2 * pad,
            (y1 - y0) * rect.height() + 2 * pad,
        )

    def clear_document(self) -> None:
        self._highlight = None
        self._count = 0
        self._base = []
        self._failed = set()
        self._relayout()
        self.viewport().update()

    @property
    def page_count(self) -> int:
        return self._count

    @property
    def scale(self) -> float:
        return self._scale

    def base_size(self, page: int) -> tuple[float, float]:
        """Page size at 100 % in logical pixels, after rotation."""
        width, height = self._base[min(page, len(self._base) - 1)]
        return (height, width) if self._rotation in (90, 270) else (width, height)

    def set_scale(self, scale: float) -> None:
        """Zoom, keeping the point at the centre of the view where it was on the page."""
        if abs(scale - self._scale) < 1e-6:
            return
        anchor = self._anchor()
        self._scale = scale
        self._relayout()
        self._restore(anchor)

    def set_rotation(self, rotation: int, scale: float) -> None:
        page = self._current
        self._rotation = rotation % 360
        self._scale = scale
        self._relayout()
        self.scroll_to_page(page)
        self._centre_horizontally()

    def fit_width_scale(self) -> float:
        if not self._count:
            return 1.0
        widest = max(self.base_size(i)[0] for i in range(min(self._count, len(self._base))))
        available = self.viewport().width() - 2 * MARGIN
        return max(available, 40) / widest

    def fit_page_scale(self, page: int | None = None) -> float:
        if not self._count:
            return 1.0
        width, height = self.base_size(self._current if page is None else page)
        available_w = self.viewport().width() - 2 * MARGIN
        available_h = self.viewport().height() - 2 * MARGIN
        return max(min(available_w / width, available_h / height), 0.01)

    def fit_room(self) -> tuple[int, int, int]:
        """The room a fit is computed in: the viewport's width without the vertical scroll bar, the
        bar's width, and the viewport's height (``geometry.fit_scale``)."""
        bar = self.verticalScrollBar()
        extent = bar.sizeHint().width()
        bare_width = self.viewport().width() + (extent if bar.isVisibleTo(self) else 0)
        return bare_width, extent, self.viewport().height()

    def display_size(self, page: int) -> QSize:
        if page < len(self._widths):
            return QSize(self._widths[page], self._heights[page])
        width, height = self.base_size(page)
        return QSize(max(1, round(width * self._scale)), max(1, round(height * self._scale)))

    def _relayout(self) -> None:
        known = min(self._count, len(self._base))
        self._widths, self._heights = [], []
        for page in range(known):
            size = self.display_size_uncached(page)
            self._widths.append(size.width())
            self._heights.append(size.height())
        if self._count > known and known:
            # Sizes of pages past the first few thousand were not asked for: assume the last one.
            self._widths.extend(itertools.repeat(self._widths[-1], self._count - known))
            self._heights.extend(itertools.repeat(self._heights[-1], self._count - known))
        self._tops = list(itertools.accumulate((h + GAP for h in self._heights[:-1]), initial=MARGIN))
        if not self._count:
            self._tops = []
            self._content = QSize(0, 0)
        else:
            self._content = QSize(max(self._widths) + 2 * MARGIN, self._tops[-1] + self._heights[-1] + MARGIN)
        self._update_scrollbars()
        self.viewport().update()
        self.visible_changed.emit()

    def display_size_uncached(self, page: int) -> QSize:
        width, height = self.base_size(page)
        return QSize(max(1, round(width * self._scale)), max(1, round(height * self._scale)))

    def _update_scrollbars(self) -> None:
        viewport = self.viewport().size()
        vertical, horizontal = self.verticalScrollBar(), self.horizontalScrollBar()
        vertical.setRange(0, max(0, self._content.height() - viewport.height()))
        vertical.setPageStep(viewport.height())
        vertical.setSingleStep(48)
        horizontal.setRange(0, max(0, self._content.width() - viewport.width()))
        horizontal.setPageStep(viewport.width())
        horizontal.setSingleStep(48)

    def _centre_horizontally(self) -> None:
        bar = self.horizontalScrollBar()
        bar.setValue(bar.maximum() // 2)

    def page_rect(self, page: int) -> QRect:
        """Where ``page`` is in the viewport's coordinates."""
        viewport_width = self.viewport().width()
        content_width = max(self._content.width(), viewport_width)
        x = (content_width - self._widths[page]) // 2 - self.horizontalScrollBar().value()
        y = self._tops[page] - self.verticalScrollBar().value()
        return QRect(x, y, self._widths[page], self._heights[page])

    def visible_pages(self) -> list[int]:
        if not self._count:
            return []
        top = self.verticalScrollBar().value()
        bottom = top + self.viewport().height()
        first = max(0, bisect.bisect_right(self._tops, top) - 1)
        pages = []
        for page in range(first, self._count):
            if self._tops[page] >= bottom:
                break
            if self._tops[page] + self._heights[page] > top:
                pages.append(page)
        return pages

    def pages_to_render(self) -> list[int]:
        """Visible pages (most visible first), then one page either side for smooth paging."""
        visible = self.visible_pages()
        if not visible:
            return []
        ordered = sorted(visible, key=lambda page: -self._visible_height(page))
        neighbours = [p for p in (visible[-1] + 1, visible[0] - 1) if 0 <= p < self._count]
        return ordered + [p for p in neighbours if p not in ordered]

    def _visible_height(self, page: int) -> int:
        rect = self.page_rect(page)
        return max(0, min(rect.bottom(), self.viewport().height()) - max(rect.top(), 0))

    @property
    def current_page(self) -> int:
        return self._current

    def _update_current(self) -> None:
        visible = self.visible_pages()
        if not visible:
            return
        bar = self.verticalScrollBar()
        if bar.value() >= bar.maximum() > 0:
            current = visible[-1]  # at the very end the last page is current even if short
        else:
            current = max(visible, key=lambda page: (self._visible_height(page), -page))
        if current != self._current:
            self._current = current
            self.current_page_changed.emit(current)

    def scroll_to_page(self, page: int) -> None:
        if not self._count:
            return
        page = max(0, min(page, self._count - 1))
        self.verticalScrollBar().setValue(self._tops[page] - MARGIN)
        if self._current != page:
            self._current = page
            self.current_page_changed.emit(page)

    def set_page_failed(self, page: int) -> None:
        self._failed.add(page)
        self.viewport().update()

    # -- panning and zooming to a region ----------------------------------------------------------

    _PAN_KEYS = {
        Qt.Key.Key_Left: (-1, 0),
        Qt.Key.Key_Right: (1, 0),
        Qt.Key.Key_Up: (0, -1),
        Qt.Key.Key_Down: (0, 1),
    }

    def can_pan(self, key: int) -> bool:
        """Whether an arrow key would move a zoomed page (it is larger than the view that way and not
        at its edge); otherwise the arrow keeps its workstation meaning (next learner, document)."""
        step = self._PAN_KEYS.get(Qt.Key(key))
        if step is None or not self._count:
            return False
        bar = self.horizontalScrollBar() if step[0] else self.verticalScrollBar()
        direction = step[0] or step[1]
        return bar.maximum() > 0 and (bar.value() < bar.maximum() if direction > 0 else bar.value() > 0)

    def pan(self, key: int) -> bool:
        """Move the page a tenth of the view for an arrow key; False when it cannot move that way."""
        if not self.can_pan(key):
            return False
        dx, dy = self._PAN_KEYS[Qt.Key(key)]
        viewport = self.viewport()
        if dx:
            bar = self.horizontalScrollBar()
            bar.setValue(bar.value() + dx * max(48, viewport.width() // 10))
        else:
            bar = self.verticalScrollBar()
            bar.setValue(bar.value() + dy * max(48, viewport.height() // 10))
        return True

    def page_down(self, step: int) -> bool:
        """PgDn/PgUp on a page taller than the view: a screenful within the current page; False at
        its end (the caller goes to the next/previous page)."""
        if not self._count:
            return False
        rect = self.page_rect(self._current)
        height = self.viewport().height()
        if step > 0 and rect.bottom() > height + 1:
            self.verticalScrollBar().setValue(
                self.verticalScrollBar().value() + min(int(height * 0.9), rect.bottom() - height + MARGIN)
            )
            return True
        if step < 0 and rect.top() < -1:
            self.verticalScrollBar().setValue(
                self.verticalScrollBar().value() - min(int(height * 0.9), -rect.top() + MARGIN)
            )
            return True
        return False

    def region_scale(self, region: QRect) -> float:
        """The scale at which ``region`` (viewport coordinates, at today's scale) fills the view."""
        viewport = self.viewport()
        factor = min(
            (viewport.width() - 2 * MARGIN) / max(region.width(), 1),
            (viewport.height() - 2 * MARGIN) / max(region.height(), 1),
        )
        return self._scale * factor

    def centre_on(self, page: int, fx: float, fy: float) -> None:
        """Scroll so the point (fractions of ``page``) is at the centre of the view."""
        if not self._count:
            return
        page = max(0, min(page, self._count - 1))
        content_width = max(self._content.width(), self.viewport().width())
        x = (content_width - self._widths[page]) // 2 + fx * self._widths[page]
        y = self._tops[page] + fy * self._heights[page]
        self.horizontalScrollBar().setValue(round(x - self.viewport().width() / 2))
        self.verticalScrollBar().setValue(round(y - self.viewport().height() / 2))

    def _region_from(self, band: QRect) -> tuple[int, float, float, float, float] | None:
        centre = band.center()
        for page in self.visible_pages():
            rect = self.page_rect(page)
            if rect.contains(centre):
                area = band.intersected(rect)
                if area.width() < 8 or area.height() < 8:
                    return None
                return (
                    page,
                    (area.left() - rect.left()) / rect.width(),
                    (area.top() - rect.top()) / rect.height(),
                    (area.right() - rect.left()) / rect.width(),
                    (area.bottom() - rect.top()) / rect.height(),
                )
        return None

    def _anchor(self) -> tuple[int, float, float]:
        if not self._count:
            return (0, 0.0, 0.5)
        centre_y = self.verticalScrollBar().value() + self.viewport().height() / 2
        page = max(0, bisect.bisect_right(self._tops, centre_y) - 1)
        fraction = (centre_y - self._tops[page]) / max(1, self._heights[page])
        bar = self.horizontalScrollBar()
        horizontal = (bar.value() + self.viewport().width() / 2) / max(1, max(self._content.width(), 1))
        return (page, fraction, horizontal)

    def _restore(self, anchor: tuple[int, float, float]) -> None:
        if not self._count:
            return
        page, fraction, horizontal = anchor
        page = min(page, self._count - 1)
        centre_y = self._tops[page] + fraction * self._heights[page]
        self.verticalScrollBar().setValue(round(centre_y - self.viewport().height() / 2))
        self.horizontalScrollBar().setValue(
            round(horizontal * self._content.width() - self.viewport().width() / 2)
        )

    # -- painting ------------------------------------------------------------------------------------

    def background_colour(self) -> QColor:
        window = self.palette().color(QPalette.ColorRole.Window)
        return window.darker(112) if window.lightness() > 128 else window.lighter(130)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self.viewport())
        background = self.background_colour()
        painter.fillRect(event.rect(), background)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        clip = event.rect()
        for page in self.visible_pages():
            rect = self.page_rect(page)
            if not rect.intersects(clip.adjusted(-8, -8, 8, 8)):
                continue
            self._paint_shadow(painter, rect, background, clip)
            painter.fillRect(rect, QColor(255, 255, 255))
            ratio = self.devicePixelRatioF()
            image, _exact = self._provider(
                page, QSize(round(rect.width() * ratio), round(rect.height() * ratio))
            )
            if image is not None:
                painter.drawImage(QRectF(rect), image)
            else:
                self._paint_placeholder(painter, rect, page)
            _outline(painter, rect.adjusted(0, 0, -1, -1), QColor(0, 0, 0, 38), clip)
        marked = self.highlight_rect()
        if marked is not None:
            painter.setPen(QPen(QColor(230, 120, 0), 2.5))
            painter.setBrush(QColor(255, 200, 0, 60))
            painter.drawRoundedRect(marked, 3, 3)
            painter.setBrush(Qt.BrushStyle.NoBrush)
        if self.hasFocus():
            highlight = self.palette().color(QPalette.ColorRole.Highlight)
            painter.setPen(QPen(highlight, 2))
            painter.drawRect(QRectF(self.viewport().rect()).adjusted(1, 1, -1, -1))
        painter.end()

    @staticmethod
    def _paint_shadow(painter: QPainter, rect: QRect, background: QColor, clip: QRect) -> None:
        # Rings, not filled rectangles: the page covers the inside anyway. Each ring is black at a
        # little alpha over the plain background, so it is drawn in that colour, opaque: blending
        # thin lines of a page taller than the view cost the raster engine ~1.5 ms a paint.
        for spread, alpha in ((1, 34), (2, 20), (3, 12), (4, 7), (5, 4)):
            keep = 1 - alpha / 255
            shade = QColor(
                round(background.red() * keep),
                round(background.green() * keep),
                round(background.blue() * keep),
            )
            _outline(painter, rect.adjusted(-spread, -spread + 1, spread - 1, spread), shade, clip)

    def _paint_placeholder(self, painter: QPainter, rect: QRect, page: int) -> None:
        failed = page in self._failed
        text = f"Page {page + 1} could not be drawn" if failed else f"Loading page {page + 1}…"
        painter.setPen(QColor(150, 60, 50) if failed else QColor(140, 140, 140))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, text)

    # -- events --------------------------------------------------------------------------------------

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        self.viewport().update()
        self._update_current()
        self.visible_changed.emit()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._update_scrollbars()
        self.resized.emit()
        self.visible_changed.emit()

    def focusInEvent(self, event: QFocusEvent) -> None:
        super().focusInEvent(event)
        self.viewport().update()

    def focusOutEvent(self, event: QFocusEvent) -> None:
        super().focusOutEvent(event)
        self.viewport().update()

    _KEYS = {
        Qt.Key.Key_Plus: "zoom_in",
        Qt.Key.Key_Equal: "zoom_in",
        Qt.Key.Key_Minus: "zoom_out",
        Qt.Key.Key_0: "zoom_reset",
        Qt.Key.Key_PageDown: "next_page",
        Qt.Key.Key_PageUp: "previous_page",
        Qt.Key.Key_Home: "first_page",
        Qt.Key.Key_End: "last_page",
    }

    def keyPressEvent(self, event: QKeyEvent) -> None:
        modifiers = (
            event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier & ~Qt.KeyboardModifier.ShiftModifier
        )
        if modifiers == Qt.KeyboardModifier.NoModifier and self.pan(event.key()):
            event.accept()
            return
        name = self._KEYS.get(Qt.Key(event.key())) if modifiers == Qt.KeyboardModifier.NoModifier else None
        if name:
            self.command.emit(name)
            event.accept()
            return
        super().keyPressEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            delta = event.angleDelta().y()
            if delta:
                self.command.emit("zoom_in" if delta > 0 else "zoom_out")
            event.accept()
            return
        super().wheelEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if (
            event.button() == Qt.MouseButton.LeftButton
            and event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        ):
            # Shift+drag: draw the region to zoom to.
            self._band_from = event.position().toPoint()
            self._band.setGeometry(QRect(self._band_from, QSize()))
            self._band.show()
            event.accept()
            return
        if event.button() == Qt.MouseButton.LeftButton:
            self._drag_from = event.position().toPoint()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._band_from is not None:
            self._band.setGeometry(QRect(self._band_from, event.position().toPoint()).normalized())
            event.accept()
            return
        if self._drag_from is not None:
            position = event.position().toPoint()
            delta = position - self._drag_from
            self._drag_from = position
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._band_from is not None:
            band = QRect(self._band_from, event.position().toPoint()).normalized()
            self._band_from = None
            self._band.hide()
            region = self._region_from(band)
            if region is not None:
                self.region_chosen.emit(*region)
            event.accept()
            return
        self._drag_from = None
        self.viewport().unsetCursor()
        super().mouseReleaseEvent(event)


def _outline(painter: QPainter, rect: QRect, colour: QColor, clip: QRect) -> None:
    """The pixels ``drawRect(rect)`` strokes with a 1 px pen (``rect`` plus one to the right and
    below), as four filled edges cut to ``clip``: the raster engine fills those quickly, where it
    strokes a rectangle reaching past the device slowly."""
    x, y, width, height = rect.x(), rect.y(), rect.width(), rect.height()
    for edge in (
        QRect(x, y, width + 1, 1),
        QRect(x, y + height, width + 1, 1),
        QRect(x, y + 1, 1, height - 1),
        QRect(x + width, y + 1, 1, height - 1),
    ):
        visible = edge.intersected(clip)
        if not visible.isEmpty():
            painter.fillRect(visible, colour)
