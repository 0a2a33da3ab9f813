"""One document's reading from its pages: OCR for page images, the PDF's own text where it has one.

The render worker process calls these with the pages it decoded or rendered; benchmarks and tests
call them directly with images. ``MAX_PAGES`` bounds the work per document: what an officer
compares is on the first pages (an ID's two sides, a certificate's face).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from cohortdesk.services.documents.reading import engine, extract
from cohortdesk.services.documents.reading.model import (
    SOURCE_NONE,
    SOURCE_OCR,
    SOURCE_TEXT,
    DocumentReading,
    Line,
)

MAX_PAGES = 3
#: A PDF page with fewer letters and digits than this in its text layer is a scan: it is OCRed.
MIN_TEXT_CHARACTERS = 40


def text_is_usable(text: str) -> bool:
    return sum(c.isalnum() for c in text) >= MIN_TEXT_CHARACTERS


def reading_from_lines(
    document_type: str, lines: Sequence[Line], sources: Iterable[str], pages: int, started: float
) -> DocumentReading:
    sources = set(sources)
    if not any(line.words for line in lines):
        return DocumentReading(
            document_type,
            SOURCE_NONE,
            pages,
            problem="No text could be read on this document (a blank page, a photo without text, "
            "or a scan too poor to read).",
            engine=engine.engine_name(),
            seconds=time.perf_counter() - started,
        )
    source = SOURCE_OCR if SOURCE_OCR in sources else SOURCE_TEXT
    return DocumentReading(
        document_type,
        source,
        pages,
        fields=extract.extract(document_type, lines),
        engine=engine.engine_name(),
        seconds=time.perf_counter() - started,
    )


def read_images(document_type: str, images: Iterable[Any]) -> DocumentReading:
    """OCR each page image (Pillow) and extract the document type's fields."""
    started = time.perf_counter()
    lines: list[Line] = []
    pages = 0
    for page, image in enumerate(images):
        if page >= MAX_PAGES:
            break
        page_lines, _timings = engine.recognise(image, page)
        lines.extend(page_lines)
        pages += 1
    return reading_from_lines(document_type, lines, [SOURCE_OCR], pages, started)


def failed(document_type: str, problem: str) -> DocumentReading:
    return DocumentReading(document_type, SOURCE_NONE, 0, problem=problem, engine=engine.engine_name())
