"""What reading a document yields: words and lines with their boxes, the fields extracted from them,
and one document's reading as a whole. Frozen values, JSON round-trip for the cache and the pipe.

Boxes are fractions of the page (x0, y0, x1, y1 in 0..1, origin top-left), so a box found on a
300 dpi image lands on the preview's rendering of the same page whatever its size or zoom.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Box = tuple[float, float, float, float]

#: Below this a value is shown as unsure and never counted as a match.
SURE_CONFIDENCE = 0.80

#: How the text came off the page.
SOURCE_TEXT = "text"  # the PDF's own text layer: exact, confidence 1
SOURCE_OCR = "ocr"
SOURCE_NONE = "none"  # nothing readable (a blank scan, a picture, a failure: see ``problem``)


@dataclass(frozen=True)
class Word:
    text: str
    confidence: float  # 0..1
    box: Box


@dataclass(frozen=True)
class Line:
    page: int
    words: tuple[Word, ...]

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    @property
    def box(self) -> Box:
        return union(w.box for w in self.words)

    @property
    def confidence(self) -> float:
        return min((w.confidence for w in self.words), default=0.0)


def union(boxes: Any) -> Box:
    boxes = list(boxes)
    if not boxes:
        return (0.0, 0.0, 0.0, 0.0)
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


@dataclass(frozen=True)
class Field:
    """One value read off a document: ``value`` normalised (digits, ISO date, upper-case name)."""

    name: str  # "sa_id_number", "surname", "names", "date_of_birth", "certification_date", ...
    value: str
    confidence: float
    page: int
    box: Box
    note: str = ""  # e.g. "the check digit does not match"

    @property
    def sure(self) -> bool:
        return self.confidence >= SURE_CONFIDENCE

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "confidence": round(self.confidence, 3),
            "page": self.page,
            "box": [round(v, 4) for v in self.box],
            "note": self.note,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Field:
        return cls(
            str(raw["name"]),
            str(raw["value"]),
            float(raw["confidence"]),
            int(raw["page"]),
            tuple(float(v) for v in raw["box"]),  # type: ignore[arg-type]
            str(raw.get("note", "")),
        )


@dataclass(frozen=True)
class DocumentReading:
    document_type: str
    source: str  # SOURCE_TEXT, SOURCE_OCR or SOURCE_NONE
    pages_read: int
    fields: tuple[Field, ...] = ()
    problem: str = ""  # why nothing could be read, in words
    engine: str = ""
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    def all(self, name: str) -> list[Field]:
        return [f for f in self.fields if f.name == name]

    def to_json(self) -> dict[str, Any]:
        return {
            "document_type": self.document_type,
            "source": self.source,
            "pages_read": self.pages_read,
            "fields": [f.to_json() for f in self.fields],
            "problem": self.problem,
            "engine": self.engine,
            "seconds": round(self.seconds, 4),
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> DocumentReading:
        return cls(
            document_type=str(raw["document_type"]),
            source=str(raw["source"]),
            pages_read=int(raw.get("pages_read", 0)),
            fields=tuple(Field.from_json(f) for f in raw.get("fields", ())),
            problem=str(raw.get("problem", "")),
            engine=str(raw.get("engine", "")),
            seconds=float(raw.get("seconds", 0.0)),
        )
