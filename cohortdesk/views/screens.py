"""Window placement across monitors: a remembered layout is used only when it lands on a monitor that is
present now (a laptop undocked from its second screen must not open its window out of sight)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

#: Share of the window that must be visible on the present monitors for a remembered place to count.
MIN_VISIBLE_SHARE = 0.5


def on_present_screens(rect: QRect, available: Sequence[QRect]) -> bool:
    """True when the top middle of ``rect`` (where the title bar is) lies on one of the ``available``
    screen areas and at least half of ``rect`` is visible on them."""
    if rect.isEmpty() or not available:
        return False
    title = QPoint(rect.center().x(), rect.top() + 1)
    if not any(area.contains(title) for area in available):
        return False
    visible = 0
    for area in available:  # monitors do not overlap
        part = area.intersected(rect)
        if not part.isEmpty():
            visible += part.width() * part.height()
    return visible >= MIN_VISIBLE_SHARE * rect.width() * rect.height()


def centred_on(area: QRect, size: tuple[int, int]) -> QRect:
    """A rectangle of ``size`` (shrunk to fit) centred on ``area``."""
    width = min(size[0], int(area.width() * 0.95))
    height = min(size[1], int(area.height() * 0.95))
    rect = QRect(0, 0, width, height)
    rect.moveCenter(area.center())
    return rect


def available_areas() -> list[QRect]:
    return [screen.availableGeometry() for screen in QGuiApplication.screens()]


def keep_on_present_screens(window: QWidget, default_size: tuple[int, int]) -> bool:
    """After ``restoreGeometry``: when the window is not on a present monitor, give it ``default_size``
    centred on the primary screen. Returns True when it had to be moved."""
    areas = available_areas()
    if on_present_screens(window.geometry(), areas):
        return False
    primary = QGuiApplication.primaryScreen()
    if primary is None:
        return False
    window.setWindowState(
        window.windowState() & ~(Qt.WindowState.WindowMaximized | Qt.WindowState.WindowFullScreen)
    )
    window.setGeometry(centred_on(primary.availableGeometry(), default_size))
    return True
