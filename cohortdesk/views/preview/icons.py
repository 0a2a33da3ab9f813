"""Line icons for the preview, drawn with QPainter so they are crisp at any scale and need no files."""

from __future__ import annotations

import math
from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap

Drawer = Callable[[QPainter], None]


def _chevron(up: bool) -> Drawer:
    def draw(p: QPainter) -> None:
        y0, y1 = (14.5, 9.5) if up else (9.5, 14.5)
        p.drawPolyline([QPointF(7, y0), QPointF(12, y1), QPointF(17, y0)])

    return draw


def _minus(p: QPainter) -> None:
    p.drawLine(QPointF(6, 12), QPointF(18, 12))


def _plus(p: QPainter) -> None:
    p.drawLine(QPointF(6, 12), QPointF(18, 12))
    p.drawLine(QPointF(12, 6), QPointF(12, 18))


def _fit_width(p: QPainter) -> None:
    p.drawLine(QPointF(4, 5), QPointF(4, 19))
    p.drawLine(QPointF(20, 5), QPointF(20, 19))
    p.drawLine(QPointF(7.5, 12), QPointF(16.5, 12))
    p.drawPolyline([QPointF(10, 9.5), QPointF(7.5, 12), QPointF(10, 14.5)])
    p.drawPolyline([QPointF(14, 9.5), QPointF(16.5, 12), QPointF(14, 14.5)])


def _fit_page(p: QPainter) -> None:
    p.drawRoundedRect(QRectF(6.5, 4, 11, 16), 1.5, 1.5)
    for x, y, dx, dy in ((9, 7, 1, 1), (15, 7, -1, 1), (9, 17, 1, -1), (15, 17, -1, -1)):
        p.drawLine(QPointF(x, y), QPointF(x + 2.2 * dx, y))
        p.drawLine(QPointF(x, y), QPointF(x, y + 2.2 * dy))


def _rotate(p: QPainter) -> None:
    rect = QRectF(5.5, 5.5, 13, 13)
    path = QPainterPath()
    path.arcMoveTo(rect, 100)
    path.arcTo(rect, 100, 290)  # counter-clockwise in Qt's angles: ends at the top right
    p.drawPath(path)
    angle = math.radians(30)
    end = QPointF(12 + 6.5 * math.cos(angle), 12 - 6.5 * math.sin(angle))
    p.drawPolyline([QPointF(end.x() - 3.5, end.y() - 1.0), end, QPointF(end.x() + 0.6, end.y() - 3.6)])


def _warning(p: QPainter) -> None:
    path = QPainterPath()
    path.moveTo(12, 3.5)
    path.lineTo(21, 19.5)
    path.lineTo(3, 19.5)
    path.closeSubpath()
    p.drawPath(path)
    p.drawLine(QPointF(12, 9.5), QPointF(12, 14))
    p.drawPoint(QPointF(12, 16.8))


def _lock(p: QPainter) -> None:
    p.drawRoundedRect(QRectF(5.5, 11, 13, 9), 1.5, 1.5)
    path = QPainterPath()
    path.moveTo(8.5, 11)
    path.lineTo(8.5, 8)
    path.arcTo(QRectF(8.5, 4.5, 7, 7), 180, -180)
    path.lineTo(15.5, 11)
    p.drawPath(path)
    p.drawPoint(QPointF(12, 15.5))


def _document(p: QPainter) -> None:
    path = QPainterPath()
    path.moveTo(6, 3.5)
    path.lineTo(14, 3.5)
    path.lineTo(18.5, 8)
    path.lineTo(18.5, 20.5)
    path.lineTo(6, 20.5)
    path.closeSubpath()
    p.drawPath(path)
    p.drawPolyline([QPointF(14, 3.5), QPointF(14, 8), QPointF(18.5, 8)])
    for y in (12, 15, 18):
        p.drawLine(QPointF(9, y), QPointF(15.5, y))


def _clock(p: QPainter) -> None:
    p.drawEllipse(QRectF(4, 4, 16, 16))
    p.drawPolyline([QPointF(12, 7.5), QPointF(12, 12), QPointF(15, 14)])


DRAWERS: dict[str, Drawer] = {
    "previous": _chevron(up=True),
    "next": _chevron(up=False),
    "zoom_out": _minus,
    "zoom_in": _plus,
    "fit_width": _fit_width,
    "fit_page": _fit_page,
    "rotate": _rotate,
    "warning": _warning,
    "lock": _lock,
    "document": _document,
    "clock": _clock,
}


def pixmap(name: str, color: QColor, size: int = 24, ratio: float = 2.0, width: float = 1.6) -> QPixmap:
    """``name`` drawn in ``color`` on a ``size`` (logical px) transparent square."""
    result = QPixmap(round(size * ratio), round(size * ratio))
    result.setDevicePixelRatio(ratio)
    result.fill(Qt.GlobalColor.transparent)
    painter = QPainter(result)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.scale(size / 24, size / 24)
    pen = QPen(color, width * 24 / size if size > 24 else width)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    DRAWERS[name](painter)
    painter.end()
    return result


def icon(name: str, color: QColor, disabled: QColor | None = None) -> QIcon:
    result = QIcon()
    result.addPixmap(pixmap(name, color), QIcon.Mode.Normal)
    if disabled is not None:
        result.addPixmap(pixmap(name, disabled), QIcon.Mode.Disabled)
    return result
