"""What the workstation asks of reading: which documents of which enrollments to read, with the
captured details to compare them against, and one document read through the cache.

``reading_plan`` runs on the database thread; ``read_document`` on a background (io) thread with a
``read_bytes`` function that does the OCR in another process. Health documents (``disability_proof``)
are never read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from cohortdesk.errors import StorageError
from cohortdesk.models.cohorts import Cohort, CohortEnrollment
from cohortdesk.models.docuseal import User
from cohortdesk.services.documents.reading import engine, reader
from cohortdesk.services.documents.reading.cache import ReadingCache
from cohortdesk.services.documents.reading.compare import Captured
from cohortdesk.services.documents.reading.model import DocumentReading
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.services.validation import canonical_document_type

#: The documents whose content is compared (in the order they are read).
READ_TYPES = ("id_document", "matric_certificate", "tertiary_qualification", "international_certificate")


@dataclass(frozen=True)
class PlannedDocument:
    enrollment_id: int
    document_type: str
    upload: dict[str, Any]

    @property
    def version(self) -> tuple[str, str]:
        return str(self.upload.get("storage_key") or ""), str(self.upload.get("checksum") or "")


@dataclass(frozen=True)
class PlannedEnrollment:
    enrollment_id: int
    captured: Captured
    documents: tuple[PlannedDocument, ...]
    #: The cohort's certification age limit as stored: None the default (90 days), 0 no limit.
    certification_max_age_days: int | None = None


def reading_plan(db: Any, enrollment_ids: Sequence[int]) -> list[PlannedEnrollment]:
    """The readable documents and captured details of these enrollments, and their cohort's
    certification age limit, in the order given."""
    if not enrollment_ids:
        return []
    with db.read_session() as session:
        rows = session.execute(
            select(
                CohortEnrollment.id,
                CohortEnrollment.student_data,
                CohortEnrollment.uploaded_documents,
                User.first_name,
                User.last_name,
                Cohort.certification_max_age_days,
            )
            .join(User, User.id == CohortEnrollment.user_id)
            .join(Cohort, Cohort.id == CohortEnrollment.cohort_id)
            .where(CohortEnrollment.id.in_(list(enrollment_ids)))
        ).all()
    found: dict[int, PlannedEnrollment] = {}
    for enrollment_id, student_data, uploaded, first, last, max_age_days in rows:
        data = dict(student_data or {})
        captured = Captured(
            first_name=first or "",
            last_name=last or "",
            sa_id_number=str(data.get("sa_id_number") or "").strip(),
            date_of_birth=str(data.get("date_of_birth") or ""),
        )
        uploads = {canonical_document_type(k): v for k, v in (uploaded or {}).items() if isinstance(v, dict)}
        documents = tuple(
            PlannedDocument(enrollment_id, doc_type, dict(uploads[doc_type]))
            for doc_type in READ_TYPES
            if doc_type in uploads and uploads[doc_type].get("storage_key")
        )
        found[enrollment_id] = PlannedEnrollment(enrollment_id, captured, documents, max_age_days)
    return [found[i] for i in enrollment_ids if i in found]


def read_document(
    store: DocumentStore,
    cache: ReadingCache,
    read_bytes: Callable[[bytes, str], DocumentReading],
    document: PlannedDocument,
    engine_name: str | None = None,
) -> DocumentReading:
    """The document's reading from the cache, else read now (and kept unless reading failed).
    ``engine_name`` (the cache key's engine) defaults to this installation's OCR engine."""
    key, checksum = document.version
    engine_name = engine_name or engine.engine_name()
    cached = cache.get(key, checksum, engine_name)
    if cached is not None:
        return cached
    try:
        data = store.read(document.upload)
    except StorageError as exc:
        return reader.failed(document.document_type, str(exc))
    reading = read_bytes(data, document.document_type)
    if reading.pages_read or reading.fields:
        cache.put(key, checksum, engine_name, reading)
    return reading
