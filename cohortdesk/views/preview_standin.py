"""A minimal stand-in for the document preview (``cohortdesk.views.preview.DocumentPreview``), with the
same interface, used until the real, isolated preview engine is available.

It renders on the GUI thread and has none of the real engine's time limits: a placeholder only.
"""

from __future__ import annotations

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QSize, Qt
from PySide6.QtGui import QImage, QPixmap, QTransform
from PySide6.QtPdf import QPdfDocument
from PySide6.QtWidgets import QLabel, QScrollArea, QStackedWidget, QVBoxLayout, QWidget


class DocumentPreview(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("documentPreview")
        self.setAccessibleName("Document preview")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._stack = QStackedWidget(self)
        self._message = QLabel(self)
        self._message.setObjectName("previewMessage")
        self._message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._message.setWordWrap(True)
        self._scroll = QScrollArea(self)
        self._scroll.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._image_label = QLabel(self._scroll)
        self._image_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._scroll.setWidget(self._image_label)
        self._scroll.setWidgetResizable(True)
        self._stack.addWidget(self._message)
        self._stack.addWidget(self._scroll)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._stack)
        self._pdf: QPdfDocument | None = None
        self._buffer: QBuffer | None = None
        self._image: QImage | None = None
        self._page = 0
        self._zoom = 1.0
        self._rotation = 0
        self._fit = "width"
        self.show_message("Select an enrollment to see its documents.")

    # --- interface ---------------------------------------------------------------------------

    def show_document(self, data: bytes, content_type: str, name: str) -> None:
        self._reset()
        if content_type == "application/pdf":
            self._buffer = QBuffer(self)
            self._buffer.setData(QByteArray(data))
            self._buffer.open(QIODevice.OpenModeFlag.ReadOnly)
            self._pdf = QPdfDocument(self)
            self._pdf.load(self._buffer)
            if self._pdf.status() != QPdfDocument.Status.Ready or self._pdf.pageCount() < 1:
                self.show_message(f"{name} cannot be opened as a PDF.")
                return
        else:
            image = QImage.fromData(data)
            if image.isNull():
                self.show_message(f"{name} is not an image this preview can show.")
                return
            self._image = image
        self._render()

    def show_message(self, text: str) -> None:
        self._message.setText(text)
        self._stack.setCurrentWidget(self._message)

    def clear(self) -> None:
        self._reset()
        self.show_message("")

    def zoom_in(self) -> None:
        self._zoom_by(1.25)

    def zoom_out(self) -> None:
        self._zoom_by(0.8)

    def zoom_reset(self) -> None:
        self._fit, self._zoom = "", 1.0
        self._render()

    def fit_width(self) -> None:
        self._fit = "width"
        self._render()

    def fit_page(self) -> None:
        self._fit = "page"
        self._render()

    def rotate(self) -> None:
        self._rotation = (self._rotation + 90) % 360
        self._render()

    def next_page(self) -> None:
        if self._pdf is not None and self._page + 1 < self._pdf.pageCount():
            self._page += 1
            self._render()

    def previous_page(self) -> None:
        if self._pdf is not None and self._page > 0:
            self._page -= 1
            self._render()

    # --- internals ---------------------------------------------------------------------------

    def _zoom_by(self, factor: float) -> None:
        self._zoom = max(0.1, min(8.0, self._effective_zoom() * factor))
        self._fit = ""
        self._render()

    def _natural_size(self) -> QSize:
        if self._pdf is not None:
            points = self._pdf.pagePointSize(self._page)
            return QSize(int(points.width() * 96 / 72), int(points.height() * 96 / 72))
        if self._image is not None:
            return self._image.size()
        return QSize(1, 1)

    def _effective_zoom(self) -> float:
        natural = self._natural_size()
        if self._rotation in (90, 270):
            natural = natural.transposed()
        viewport = self._scroll.viewport().size()
        if self._fit == "width" and natural.width() > 0:
            return max(0.05, (viewport.width() - 24) / natural.width())
        if self._fit == "page" and natural.width() > 0 and natural.height() > 0:
            return max(
                0.05,
                min((viewport.width() - 24) / natural.width(), (viewport.height() - 24) / natural.height()),
            )
        return self._zoom

    def _render(self) -> None:
        if self._pdf is None and self._image is None:
            return
        zoom = self._effective_zoom()
        natural = self._natural_size()
        size = QSize(max(1, int(natural.width() * zoom)), max(1, int(natural.height() * zoom)))
        if self._pdf is not None:
            image = self._pdf.render(self._page, size)
        else:
            assert self._image is not None
            image = self._image.scaled(
                size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
        if self._rotation:
            image = image.transformed(QTransform().rotate(self._rotation))
        self._image_label.setPixmap(QPixmap.fromImage(image))
        self._stack.setCurrentWidget(self._scroll)

    def _reset(self) -> None:
        if self._pdf is not None:
            self._pdf.close()
            self._pdf.deleteLater()
        if self._buffer is not None:
            self._buffer.close()
            self._buffer.deleteLater()
        self._pdf, self._buffer, self._image = None, None, None
        self._page, self._rotation = 0, 0
        self._image_label.clear()

    def resizeEvent(self, event) -> None:  # noqa: ANN001
        super().resizeEvent(event)
        if self._fit:
            self._render()
