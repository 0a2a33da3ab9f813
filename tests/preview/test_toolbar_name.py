"""The preview toolbar's document name: shortened with "…" to fit, never cut mid-letter, empty when
too little would be left; the full name stays in the tooltip and the accessible name."""

from __future__ import annotations

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
