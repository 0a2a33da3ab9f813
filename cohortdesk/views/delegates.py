"""Item delegates shared by the workstation's lists: a two-line item with a coloured badge (cohort
browser, document list) and a pill-shaped state badge inside a table cell (queue states)."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from cohortdesk.views import style, theme

Index = QModelIndex | QPersistentModelIndex

SUBTITLE_ROLE = Qt.ItemDataRole.UserRole + 50
BADGE_TEXT_ROLE = Qt.ItemDataRole.UserRole + 51
BADGE_STATE_ROLE = Qt.ItemDataRole.UserRole + 52
EMPHASIS_ROLE = Qt.ItemDataRole.UserRole + 53


def _draw_background(painter: QPainter, opt: QStyleOptionViewItem) -> None:
    widget: QWidget | None = opt.widget  # type: ignore[assignment]
    qstyle = widget.style() if widget is not None else None
    if qstyle is not None:
        qstyle.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, opt, painter, widget)


def draw_pill(painter: QPainter, rect: QRect, text: str, state: str, font: QFont, align_right: bool) -> int:
    """Draw a rounded badge inside ``rect`` (vertically centred); returns the width it took."""
    metrics = QFontMetrics(font)
    width = min(rect.width(), metrics.horizontalAdvance(text) + 16)
    height = metrics.height() + 4
    left = rect.right() - width + 1 if align_right else rect.left()
    pill = QRect(left, rect.center().y() - height // 2 + 1, width, height)
    fg, bg = theme.badge_colours(state)
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(bg)
    painter.drawRoundedRect(pill, height / 2, height / 2)
    painter.setFont(font)
    painter.setPen(fg)
    painter.drawText(
        pill,
        int(Qt.AlignmentFlag.AlignCenter),
        metrics.elidedText(text, Qt.TextElideMode.ElideRight, width - 8),
    )
    painter.restore()
    return width


class TwoLineBadgeDelegate(QStyledItemDelegate):
    """Title (bold when ``EMPHASIS_ROLE``), a muted subtitle, and an optional badge on the right."""

    PADDING = 7

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        metrics = QFontMetrics(option.font)
        small = QFontMetrics(style.small_font(option.font))
        # Narrow on purpose: the title is elided to the width there is (never a sideways scroll bar).
        return QSize(120, metrics.height() + small.height() + 2 * self.PADDING + 3)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        _draw_background(painter, opt)
        rect = opt.rect.adjusted(self.PADDING + 2, self.PADDING, -self.PADDING, -self.PADDING)
        badge_text = str(index.data(BADGE_TEXT_ROLE) or "")
        badge_width = 0
        if badge_text:
            badge_font = style.small_font(opt.font, bold=True)
            badge_width = draw_pill(
                painter, rect, badge_text, str(index.data(BADGE_STATE_ROLE) or ""), badge_font, True
            )
        text_rect = rect.adjusted(0, 0, -(badge_width + 8 if badge_width else 0), 0)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        palette = opt.palette
        text_colour = palette.color(
            QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        )
        painter.save()
        title_font = QFont(opt.font)
        title_font.setBold(bool(index.data(EMPHASIS_ROLE)))
        title_metrics = QFontMetrics(title_font)
        painter.setFont(title_font)
        painter.setPen(text_colour)
        title = title_metrics.elidedText(opt.text, Qt.TextElideMode.ElideRight, text_rect.width())
        painter.drawText(
            QRect(text_rect.left(), text_rect.top(), text_rect.width(), title_metrics.height()),
            int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
            title,
        )
        small = style.small_font(opt.font)
        small_metrics = QFontMetrics(small)
        painter.setFont(small)
        painter.setPen(text_colour if selected else style.muted(palette))
        subtitle = small_metrics.elidedText(
            str(index.data(SUBTITLE_ROLE) or ""), Qt.TextElideMode.ElideRight, text_rect.width()
        )
        painter.drawText(
            QRect(
                text_rect.left(),
                text_rect.top() + title_metrics.height() + 1,
                text_rect.width(),
                small_metrics.height() + 3,
            ),
            int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
            subtitle,
        )
        painter.restore()


class StateBadgeDelegate(QStyledItemDelegate):
    """Paints a table cell's display text as a coloured pill, coloured by ``state_role``'s value."""

    def __init__(self, state_role: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state_role = state_role

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        text = opt.text
        opt.text = ""
        _draw_background(painter, opt)
        rect = opt.rect.adjusted(6, 2, -4, -2)
        draw_pill(
            painter,
            rect,
            text,
            str(index.data(self.state_role) or ""),
            style.small_font(opt.font, True),
            False,
        )

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        hint = super().sizeHint(option, index)
        return QSize(hint.width() + 20, hint.height() + 4)
