"""The preview toolbar: the document name shortened with "…" to fit (empty when too little would be
left; the full name stays in the tooltip and the accessible name), icons repainted on a theme switch,
the page box showing the page number."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from cohortdesk.views.preview import DocumentPreview
from cohortdesk.views.preview.widget import _ElidedLabel
from cohortdesk.views.style import stylesheet
from tests.preview import samples
from tests.preview.test_preview import make_preview, show_and_wait

NAME = "certified_id_lesego_ntuli_2026-02-12.pdf"


def test_document_name_fits_its_room(qtbot):
    label = _ElidedLabel()
    qtbot.addWidget(label)
    label.show()
    label.resize(2000, 20)
    label.set_full_text(NAME)
    assert label.text() == NAME and label.toolTip() == NAME and label.accessibleName() == NAME
    label.resize(label.fontMetrics().horizontalAdvance(NAME) // 2, 20)
    shortened = label.text()
    assert "…" in shortened and shortened.startswith("certified") and shortened.endswith(".pdf")
    label.resize(30, 20)
    assert label.text() == "" and label.full_text() == NAME and label.toolTip() == NAME


def test_toolbar_icons_follow_a_theme_switch(qtbot):
    preview = DocumentPreview()
    qtbot.addWidget(preview)
    try:
        before = preview.zoom_in_button.icon().pixmap(20, 20).toImage()
        dark = QPalette(preview.palette())
        dark.setColor(QPalette.ColorRole.ButtonText, QColor("#f0f0f0"))
        dark.setColor(QPalette.ColorRole.Window, QColor("#1e1e1e"))
        preview.setPalette(dark)
        after = preview.zoom_in_button.icon().pixmap(20, 20).toImage()
        assert after != before  # repainted in the new text colour
    finally:
        preview.shutdown()


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_page_box_shows_the_page_number_under_the_workstation_style(qtbot, dark):
    """The page box is read as a person reads it: its text, and a text field wide enough to show it
    (under a style sheet a spin box without arrows once laid its field out 1 px wide: "  of 3")."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    app.setStyleSheet(stylesheet(dark))
    preview = make_preview(qtbot)
    try:
        spin = preview.page_spin

        def shown() -> str:
            field = spin.lineEdit()
            assert field.width() >= field.fontMetrics().horizontalAdvance(field.text()), "clipped"
            return field.text().strip()

        assert shown() == "" and preview.page_count_label.text() == ""
        show_and_wait(qtbot, preview, samples.pdf(3), "application/pdf", "certified_id.pdf")
        assert (spin.text(), shown(), preview.page_count_label.text()) == ("1", "1", "of 3")
        preview.next_page()
        assert shown() == "2"
        preview.go_to_page(3)
        assert shown() == "3"
        preview.previous_page()
        assert shown() == "2"
        spin.lineEdit().selectAll()
        qtbot.keyClicks(spin, "1")
        qtbot.keyClick(spin, Qt.Key.Key_Return)
        assert preview.current_page() == 1 and shown() == "1"
        preview.show_message("No documents uploaded yet")
        assert shown() == "" and preview.page_count_label.text() == ""
    finally:
        preview.shutdown()
        app.setStyleSheet("")
