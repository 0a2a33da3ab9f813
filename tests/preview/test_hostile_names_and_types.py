"""The bytes at offset 0 decide a file's type, a learner's file name is shown without direction tricks
or line breaks, and a giant page fits."""

from __future__ import annotations

import pytest

from cohortdesk.views.display_text import CONTROL_MARK, visible_name
from cohortdesk.views.preview import sniff
from tests.preview import samples
from tests.preview.test_preview import make_preview, show_and_wait


@pytest.fixture
def preview(qtbot):
    widget = make_preview(qtbot)
    yield widget
    widget.shutdown()


def test_a_jpeg_that_mentions_or_hides_a_pdf_is_a_jpeg(qapp):
    hidden = samples.jpeg_with_comment(samples.pdf(1))
    mention = samples.jpeg_with_comment(b"see %PDF-1.7 for details")
    assert sniff.sniff(hidden) == sniff.Sniffed(sniff.IMAGE, "JPEG")
    assert sniff.sniff(mention) == sniff.Sniffed(sniff.IMAGE, "JPEG")
    assert sniff.sniff(b"\xef\xbb\xbf\n" + samples.pdf(1)).kind == sniff.PDF  # a BOM before the header
    assert sniff.sniff(b"junk junk %PDF-1.7\n").kind == sniff.UNSUPPORTED


def test_a_jpeg_hiding_a_pdf_shows_the_photo(qtbot, preview):
    show_and_wait(qtbot, preview, samples.jpeg_with_comment(samples.pdf(3)), "image/jpeg")
    assert preview.state == "document" and preview.page_count() == 1


def test_file_names_show_without_direction_tricks_or_line_breaks():
    assert visible_name("learner_cv\u202egnp.pdf") == "learner_cvgnp.pdf"
    assert visible_name("id\u2066copy\u2069.pdf\u200b") == "idcopy.pdf"
    assert visible_name("two\nlines\t.pdf") == f"two{CONTROL_MARK}lines{CONTROL_MARK}.pdf"
    assert visible_name("Ngcobo – ID (certified).pdf") == "Ngcobo – ID (certified).pdf"
    assert visible_name(None) == ""


def test_the_preview_shows_the_visible_name(qtbot, preview):
    show_and_wait(qtbot, preview, samples.pdf(1), "application/pdf", "learner\u202egnp.pdf\nx")
    assert preview.name_label.full_text() == f"learnergnp.pdf{CONTROL_MARK}x"


def test_a_giant_page_fits(qtbot, preview):
    show_and_wait(qtbot, preview, samples.giant_pdf(), "application/pdf", "poster.pdf")
    preview.fit_width()
    qtbot.wait(50)
    assert preview.fit_width_button.isChecked()
    page = preview.view.display_size(0)
    assert page.width() <= preview.view.viewport().width()  # the whole width shows
    assert preview._zoom < 0.1  # below the smallest zoom one types
