"""DocumentPreview renders real PDFs and images off the GUI thread, and says plainly what it cannot show."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QImage

from cohortdesk.views.preview import DocumentPreview
from cohortdesk.views.preview.render_worker import TEST_HOOKS_ENV
from tests.preview import samples

WAIT_MS = 20_000


@pytest.fixture
def preview(qtbot):
    widget = DocumentPreview(timeout_ms=4000, worker_environment={TEST_HOOKS_ENV: "1"})
    widget.resize(520, 640)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    widget.shutdown()


def ink(image: QImage) -> int:
    """How many sampled pixels are clearly not white (the page is drawn, not blank)."""
    step = max(1, min(image.width(), image.height()) // 60)
    return sum(
        1
        for x in range(0, image.width(), step)
        for y in range(0, image.height(), step)
        if image.pixelColor(x, y).lightness() < 200
    )


def show_and_wait(qtbot, preview, data, content_type="", name="doc"):
    with qtbot.waitSignal(preview.rendered, timeout=WAIT_MS):
        preview.show_document(data, content_type, name)


def test_pdf_renders_pages_with_ink(qtbot, preview):
    show_and_wait(qtbot, preview, samples.pdf(3), "application/pdf", "certified_id.pdf")
    assert preview.state == "document"
    assert preview.page_count() == 3
    image = preview.page_image(1)
    assert image is not None and ink(image) > 50
    assert ink(preview.view.viewport().grab().toImage()) > 50


def test_unsupported_file_says_what_it_is(qtbot, preview):
    with qtbot.waitSignal(preview.render_failed, timeout=WAIT_MS) as blocker:
        preview.show_document(samples.zip_archive(), "application/pdf", "pack.pdf")
    assert "ZIP archive" in blocker.args[0]
    assert preview.state == "message"
