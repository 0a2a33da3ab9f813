"""A zoomed page moves from the keyboard (arrows, PgUp/PgDn with the preview focused) and Shift+drag
zooms to a region."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from tests.preview import samples
from tests.preview.test_preview import make_preview, show_and_wait


@pytest.fixture
def preview(qtbot):
    widget = make_preview(qtbot)
    widget.resize(700, 800)
    yield widget
    widget.shutdown()


def test_arrows_pan_a_zoomed_page_and_stop_at_its_edges(qtbot, preview):
    show_and_wait(qtbot, preview, samples.pdf(2), "application/pdf")
    view = preview.view
    assert not preview.can_pan(Qt.Key.Key_Right)  # fit width: nothing to pan sideways
    preview._set_zoom("custom", 3.0)
    view.setFocus()
    horizontal, vertical = view.horizontalScrollBar(), view.verticalScrollBar()
    horizontal.setValue(0)
    vertical.setValue(0)
    assert preview.can_pan(Qt.Key.Key_Right) and not preview.can_pan(Qt.Key.Key_Left)
    assert not preview.can_pan(Qt.Key.Key_Up) and preview.can_pan(Qt.Key.Key_Down)
    QTest.keyClick(view, Qt.Key.Key_Right)
    QTest.keyClick(view, Qt.Key.Key_Down)
    assert horizontal.value() > 0 and vertical.value() > 0
    QTest.keyClick(view, Qt.Key.Key_Left)
    assert horizontal.value() == 0


def test_page_down_reads_a_zoomed_page_a_screenful_at_a_time(qtbot, preview):
    show_and_wait(qtbot, preview, samples.pdf(2), "application/pdf")
    preview._set_zoom("custom", 3.0)
    preview.view.scroll_to_page(0)
    before = preview.view.verticalScrollBar().value()
    preview.next_page()
    assert preview.view.verticalScrollBar().value() > before and preview.current_page() == 1
    for _ in range(20):
        preview.next_page()
    assert preview.current_page() == 2


def test_shift_drag_zooms_to_the_region(qtbot, preview):
    show_and_wait(qtbot, preview, samples.pdf(1), "application/pdf")
    view = preview.view
    zoom_before = preview._zoom
    page = view.page_rect(0)
    start = page.topLeft() + QPoint(page.width() // 10, page.height() // 10)
    end = start + QPoint(page.width() // 5, page.height() // 10)
    viewport = view.viewport()
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, start)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, end)
    assert preview._zoom > zoom_before * 3
    assert not preview.fit_width_button.isChecked()
    # The region's centre is now near the centre of the view.
    rect = view.page_rect(0)
    centre_x = rect.left() + rect.width() * 0.2
    assert abs(centre_x - viewport.width() / 2) < viewport.width() * 0.1
