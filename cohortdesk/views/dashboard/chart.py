"""A horizontal bar chart drawn with QPainter (QtCharts is not part of PySide6-Essentials): one bar per
row, optionally stacked from several series, a legend above, each row's total at the end of its bar,
and a tooltip naming the segment under the mouse. Colours come from the caller; text and grid lines
from the palette, so it follows the theme."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QHelpEvent, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget


@dataclass(frozen=True)
class Series:
    name: str
    color: str


@dataclass(frozen=True)
class Bar:
    label: str
    values: tuple[float, ...]  # one per series
    tooltips: tuple[str, ...] = ()  # one per series (default: "<series>: <value>")

    @property
    def total(self) -> float:
        return sum(self.values)


class BarChart(QWidget):
    ROW_HEIGHT = 22
    GAP = 8

    def __init__(
        self, series: Sequence[Series], parent: QWidget | None = None, *, legend: bool = True
    ) -> None:
        super().__init__(parent)
        self.series = tuple(series)
        self.legend = legend
        self.bars: tuple[Bar, ...] = ()
        self.empty_text = "Nothing to show."
        self._segments: list[tuple[QRectF, str]] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMouseTracking(True)

    def set_bars(self, bars: Sequence[Bar]) -> None:
        self.bars = tuple(bars)
        self.setAccessibleDescription(
            "; ".join(
                f"{b.label}: "
                + ", ".join(f"{s.name} {v:g}" for s, v in zip(self.series, b.values, strict=False) if v)
                for b in self.bars
            )
            or self.empty_text
        )
        self.updateGeometry()
        self.update()

    def _legend_height(self) -> int:
        return QFontMetrics(self.font()).height() + 10 if self.legend and len(self.series) > 1 else 0

    def sizeHint(self) -> QSize:
        rows = max(len(self.bars), 1)
        return QSize(480, self._legend_height() + rows * (self.ROW_HEIGHT + self.GAP) + 4)

    def minimumSizeHint(self) -> QSize:
        return QSize(240, self.sizeHint().height())

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.WindowText)
        muted = palette.color(QPalette.ColorRole.PlaceholderText)
        metrics = QFontMetrics(self.font())
        self._segments = []
        top = 0.0
        if self._legend_height():
            x = 0.0
            for s in self.series:
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(QColor(s.color))
                painter.drawRoundedRect(QRectF(x, top + 3, 12, 12), 2, 2)
                painter.setPen(text)
                painter.drawText(QPointF(x + 17, top + 3 + metrics.ascent() - 1), s.name)
                x += 17 + metrics.horizontalAdvance(s.name) + 18
            top += self._legend_height()
        if not self.bars:
            painter.setPen(muted)
            painter.drawText(
                QRectF(0, top, self.width(), self.ROW_HEIGHT), Qt.AlignmentFlag.AlignVCenter, self.empty_text
            )
            return
        label_width = min(
            max(metrics.horizontalAdvance(b.label) for b in self.bars) + 12, max(120, self.width() * 0.38)
        )
        biggest = max((b.total for b in self.bars), default=0) or 1
        number_width = metrics.horizontalAdvance(f"{biggest:,.0f}") + 10
        span = max(self.width() - label_width - number_width, 20)
        for row, bar in enumerate(self.bars):
            y = top + row * (self.ROW_HEIGHT + self.GAP)
            painter.setPen(text)
            label = metrics.elidedText(bar.label, Qt.TextElideMode.ElideRight, int(label_width - 8))
            painter.drawText(
                QRectF(0, y, label_width - 8, self.ROW_HEIGHT),
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                label,
            )
            x = label_width
            painter.setPen(Qt.PenStyle.NoPen)
            for index, (series, value) in enumerate(zip(self.series, bar.values, strict=False)):
                if value <= 0:
                    continue
                width = span * value / biggest
                rect = QRectF(x, y + 2, max(width, 1.5), self.ROW_HEIGHT - 4)
                painter.setBrush(QColor(series.color))
                painter.drawRect(rect)
                tip = bar.tooltips[index] if index < len(bar.tooltips) else f"{series.name}: {value:,.0f}"
                self._segments.append((rect, f"{bar.label}\n{tip}"))
                x += width
            painter.setPen(muted)
            painter.drawText(
                QRectF(x + 6, y, number_width, self.ROW_HEIGHT),
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                f"{bar.total:,.0f}",
            )

    def event(self, event: object) -> bool:
        if isinstance(event, QHelpEvent) and event.type() == QHelpEvent.Type.ToolTip:
            point = QPointF(event.pos())
            for rect, tip in self._segments:
                if rect.contains(point):
                    QToolTip.showText(event.globalPos(), tip, self)
                    return True
            QToolTip.hideText()
            event.ignore()
            return True
        return super().event(event)  # type: ignore[arg-type]
