"""Reading real generated documents with the real engine: a handful of pages, so CI stays quick."""

from __future__ import annotations

import io
from datetime import date

import pytest
from PIL import Image

from cohortdesk.services.demo import files as demo_files
from cohortdesk.services.documents.reading import compare, engine
from cohortdesk.services.documents.reading.model import SOURCE_NONE, SOURCE_OCR, SOURCE_TEXT
from cohortdesk.views.preview.reading_client import ReadingProcess
from cohortdesk.views.preview.render_worker import Renderer

pytestmark = pytest.mark.skipif(not engine.available(), reason="the OCR engine is not installed")

PERSON = demo_files.Person("Thandiwe", "Mokoena", "9909151135087", date(1999, 9, 15), "F", "Soweto")
CAPTURED = compare.Captured("Thandiwe", "Mokoena", "9909151135087", "1999-09-15")
TODAY = date(2025, 4, 1)
POOR = demo_files.ScanQuality(skew=3.0, noise=14, scale=0.8, blur=0.4, jpeg_quality=55, stamp_angle=-2)


def read(data: bytes, kind: str, document_type: str = "id_document"):
    renderer = Renderer()
    renderer.open(1, kind, data)
    try:
        return renderer.read(document_type)
    finally:
        renderer.close()


def test_a_poor_scan_of_a_certified_copy_is_read() -> None:
    scan = demo_files.certified_id_scan_jpeg(PERSON, date(2025, 3, 14), "J. Smith", POOR)
    reading = read(scan.data, "image")
    assert reading.source == SOURCE_OCR
    found = {f.name: f for f in reading.fields}
    assert found["sa_id_number"].value == "9909151135087" and found["sa_id_number"].sure
    assert found["surname"].value == "MOKOENA"
    left, top, right, bottom = found["sa_id_number"].box
    assert 0 < left < right < 1 and 0 < top < bottom < 1
    checks = {c.key: c for c in compare.compare_document(reading, CAPTURED, TODAY)}
    assert checks["sa_id_number"].status == compare.MATCH


def test_a_sideways_phone_photo_with_another_number_is_a_mismatch() -> None:
    photo = demo_files.id_card_photo_scan_jpeg(
        PERSON, demo_files.ScanQuality(skew=-2.5, noise=10), orientation=6, id_number_shown="8001015009087"
    )
    reading = read(photo.data, "image")
    checks = compare.compare_document(reading, CAPTURED, TODAY)
    id_check = next(c for c in checks if c.key == "sa_id_number")
    assert id_check.status == compare.MISMATCH, id_check.message
    assert compare.precheck(checks) == compare.PRECHECK_MISMATCH


def test_a_pdf_text_layer_is_taken_directly() -> None:
    pdf = demo_files.id_document_pdf(PERSON, date(2024, 10, 1), "J. Smith")
    reading = read(pdf.data, "pdf")
    assert reading.source == SOURCE_TEXT
    found = {f.name: f for f in reading.fields}
    assert found["sa_id_number"].confidence == 1.0
    assert found["certification_date"].value == "2024-10-01"
    checks = {c.key: c for c in compare.compare_document(reading, CAPTURED, TODAY)}
    assert checks["certification_date"].status == compare.FLAGGED  # six months old, limit three


def test_the_bare_engine_reads_the_same_image() -> None:
    card = demo_files.id_card_photo_scan_jpeg(PERSON)
    image = Image.open(io.BytesIO(card.data)).convert("L")
    assert "9909151135087" in engine.bare_text(image).replace(" ", "")


def test_the_reading_process_reads_and_explains_a_blank_page() -> None:
    blank = io.BytesIO()
    Image.new("L", (600, 800), 250).save(blank, "PNG")
    process = ReadingProcess(timeout_s=60)
    try:
        nothing = process.read(blank.getvalue(), "id_document")
        assert nothing.source == SOURCE_NONE and "No text could be read" in nothing.problem
        assert (
            compare.precheck(compare.compare_document(nothing, CAPTURED, TODAY))
            == compare.PRECHECK_UNREADABLE
        )
        refused = process.read(b"PK\x03\x04 not a document", "id_document")
        assert refused.source == SOURCE_NONE and "not a PDF or an image" in refused.problem
    finally:
        process.close()
