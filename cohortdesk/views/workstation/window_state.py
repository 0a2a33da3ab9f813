"""The workstation's remembered state (geometry, dock state, splitters, queue columns, "Save and next")
and where the window opens the first time: within the screen it is on, centred, or maximised when the
screen is small.

Restoring splitters waits for the first show: restoring them before the window has its final size lets
the later resize share the space out again by stretch factor.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMainWindow, QSplitter

from cohortdesk.views import screens
from cohortdesk.views.workstation.layout import WorkstationView

SETTINGS_VERSION = 1
#: The size the window asks for on a screen that has room for it (logical pixels).
PREFERRED_SIZE = (1600, 960)
#: Below this available width or height (logical pixels) the window opens maximised.
MAXIMISE_BELOW = (1400, 860)


def first_geometry(area: QRect) -> tuple[QRect, bool]:
    """Where the window opens without remembered state on a screen whose available area is ``area``:
    the rectangle, and whether to maximise (small screens: every pixel counts)."""
    maximise = area.width() < MAXIMISE_BELOW[0] or area.height() < MAXIMISE_BELOW[1]
    return screens.centred_on(area, PREFERRED_SIZE), maximise


class WindowState:
    def __init__(self, window: QMainWindow, ui: WorkstationView, settings: Any) -> None:
        self.window = window
        self.ui = ui
        self.settings = settings
        self._pending_splitters: dict[str, Any] = {}
        self._default_splitters = False

    def splitters(self) -> dict[str, QSplitter]:
        return {
            "main": self.ui.main_splitter,
            "detail": self.ui.detail_splitter,
            "side": self.ui.side_splitter,
        }

    def place_first_time(self) -> None:
        """No remembered geometry: open within the available area of the screen the window is on."""
        screen = self.window.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            self.window.resize(*PREFERRED_SIZE)
            return
        rect, maximise = first_geometry(screen.availableGeometry())
        self.window.setGeometry(rect)
        if maximise:
            self.window.setWindowState(self.window.windowState() | Qt.WindowState.WindowMaximized)

    def restore(self, reset_sort: Any) -> None:
        s = self.settings
        window = self.window
        if s.value("version") is None:
            self.place_first_time()
            self._default_splitters = True
            return
        if geometry := s.value("window/geometry"):
            window.restoreGeometry(geometry)
            screens.keep_on_present_screens(window, PREFERRED_SIZE)
        else:
            self.place_first_time()
        if state := s.value("window/state"):
            window.restoreState(state)
        self._pending_splitters = {
            key: value for key in self.splitters() if (value := s.value(f"splitters/{key}"))
        }
        if header := s.value("queue/header"):
            self.ui.queue_table.horizontalHeader().restoreState(header)
            reset_sort()  # every start opens on the default view: oldest first
        save_next = s.value("review/save_and_next")
        if save_next is not None:
            self.ui.save_and_next.setChecked(str(save_next).lower() in ("true", "1"))

    def apply_default_layout(self) -> None:
        """First start: share the width and height out in proportions that suit the window's size."""
        ui = self.ui
        width = max(ui.main_splitter.width(), 900)
        cohorts, queue_width = int(width * 0.165), int(width * 0.345)
        ui.main_splitter.setSizes([cohorts, queue_width, width - cohorts - queue_width])
        detail = max(ui.detail_splitter.width(), 600)
        ui.detail_splitter.setSizes([int(detail * 0.56), detail - int(detail * 0.56)])
        height = max(ui.side_splitter.height(), 500)
        documents, history = int(height * 0.3), int(height * 0.18)
        ui.side_splitter.setSizes([documents, height - documents - history, history])

    def shown(self) -> None:
        """The first show: the window has its size now; lay the splitters out."""
        if self._default_splitters:
            self._default_splitters = False
            self.apply_default_layout()
        if self._pending_splitters:
            pending, self._pending_splitters = self._pending_splitters, {}
            splitters = self.splitters()
            for key, value in pending.items():
                splitters[key].restoreState(value)

    def save(self) -> None:
        s = self.settings
        s.setValue("version", SETTINGS_VERSION)
        s.setValue("window/geometry", self.window.saveGeometry())
        s.setValue("window/state", self.window.saveState())
        for key, splitter in self.splitters().items():
            s.setValue(f"splitters/{key}", splitter.saveState())
        s.setValue("queue/header", self.ui.queue_table.horizontalHeader().saveState())
        s.setValue("review/save_and_next", self.ui.save_and_next.isChecked())
        s.sync()
