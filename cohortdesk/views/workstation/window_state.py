"""The workstation's remembered state (geometry, dock state, splitters, queue columns, "Save and next"),
where the window opens the first time (within the screen it is on, centred, or maximised when the
screen is small) and which arrangement suits its width (``layout.COMPACT_BELOW``).

Restoring splitters waits for the first show: restoring them before the window has its final size lets
the later resize share the space out again by stretch factor.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMainWindow, QSplitter

from cohortdesk.views import screens
from cohortdesk.views.workstation.layout import COMPACT_BELOW, WorkstationView

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
        self._restore_splitters = False
        self._default_splitters = False
        self._shown = False

    def splitters(self) -> dict[str, QSplitter]:
        """The splitters of the current arrangement, by their settings key."""
        if self.ui.compact:
            return {
                "compact_main": self.ui.main_splitter,
                "compact_left": self.ui.left_splitter,
                "compact_detail": self.ui.detail_splitter,
            }
        return {
            "main": self.ui.main_splitter,
            "detail": self.ui.detail_splitter,
            "side": self.ui.side_splitter,
        }

    def adapt(self) -> None:
        """Choose the arrangement for the window's width; a change lays the splitters out again (as
        remembered for that arrangement, else in default proportions)."""
        compact = self.window.width() < COMPACT_BELOW
        if compact == self.ui.compact:
            return
        if self._shown:
            self._remember_splitters()
        self.ui.arrange(compact)
        if not self._shown:
            return
        remembered = {
            key: value for key in self.splitters() if (value := self.settings.value(f"splitters/{key}"))
        }
        if remembered:
            for key, splitter in self.splitters().items():
                if key in remembered:
                    splitter.restoreState(remembered[key])
        else:
            self.apply_default_layout()

    def _remember_splitters(self) -> None:
        for key, splitter in self.splitters().items():
            self.settings.setValue(f"splitters/{key}", splitter.saveState())

    def place_first_time(self) -> None:
        """No remembered geometry: open within the available area of the screen the window is on."""
        screen = self.window.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            self.window.resize(*PREFERRED_SIZE)
            return
        area = screen.availableGeometry()
        rect, maximise = first_geometry(area)
        # Maximised, the window takes the whole area (also where no window manager maximises it).
        self.window.setGeometry(area if maximise else rect)
        if maximise:
            self.window.setWindowState(self.window.windowState() | Qt.WindowState.WindowMaximized)

    def restore(self, reset_sort: Any) -> None:
        self._restore(reset_sort)
        # Arrange for the width the window opens at now, before it is shown: moving widgets about in a
        # shown window restyles every one moved (~100 ms of the start where it opens compact, as on a
        # 1366x768 laptop); ``shown`` adapts again should the opened size differ.
        self.adapt()

    def _restore(self, reset_sort: Any) -> None:
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
        self._restore_splitters = True
        if header := s.value("queue/header"):
            self.ui.queue_table.horizontalHeader().restoreState(header)
            reset_sort()  # every start opens on the default view: oldest first
        save_next = s.value("review/save_and_next")
        if save_next is not None:
            self.ui.save_and_next.setChecked(str(save_next).lower() in ("true", "1"))

    def apply_default_layout(self) -> None:
        """First start: share the width and height out in proportions that suit the window's size."""
        ui = self.ui
        if ui.compact:
            width = max(ui.main_splitter.width(), 700)
            left = int(width * 0.36)
            ui.main_splitter.setSizes([left, width - left])
            height = max(ui.left_splitter.height(), 400)
            ui.left_splitter.setSizes([int(height * 0.36), height - int(height * 0.36)])
            detail = max(ui.detail_splitter.width(), 500)
            preview = int(detail * 0.64)
            ui.detail_splitter.setSizes([preview, detail - preview])
            return
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
        self.adapt()
        self._shown = True
        if self._default_splitters:
            self._default_splitters = False
            self.apply_default_layout()
        if self._restore_splitters:
            self._restore_splitters = False
            remembered = False
            for key, splitter in self.splitters().items():
                if value := self.settings.value(f"splitters/{key}"):
                    splitter.restoreState(value)
                    remembered = True
            if not remembered:
                self.apply_default_layout()

    def save(self) -> None:
        s = self.settings
        s.setValue("version", SETTINGS_VERSION)
        s.setValue("window/geometry", self.window.saveGeometry())
        s.setValue("window/state", self.window.saveState())
        self._remember_splitters()
        s.setValue("queue/header", self.ui.queue_table.horizontalHeader().saveState())
        s.setValue("review/save_and_next", self.ui.save_and_next.isChecked())
        s.sync()
