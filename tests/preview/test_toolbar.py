"""The preview toolbar: the document name shortened with "…" to fit (empty when too little would be
left; the full name stays in the tooltip and the accessible name), icons repainted on a theme switch."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette

from cohortdesk.views.preview import DocumentPreview
from cohortdesk.views.preview.widget import _ElidedLabel

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
