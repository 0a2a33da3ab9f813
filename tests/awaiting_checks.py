"""Checks of the count of uploaded documents awaiting a decision (``queue.STORED_AWAITING``): the value
the database keeps per enrollment equals the live rule, and what the workstation reads follows it; and
DocuSeal's side writing uploads. Shared by tests/core/test_awaiting.py and the sync tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from cohortdesk.db import Database
from cohortdesk.models import CohortEnrollment
from cohortdesk.models.cohorts import AWAITING
from cohortdesk.services.documents.storage import StoredFile, md5_base64, new_blob_key
from cohortdesk.services.review import queue as q


def _stored_and_live(db: Database) -> tuple[dict[int, int], dict[int, int]]:
    """Per enrollment: the stored value (the live one where nothing is stored) and the live rule's."""
    with db.read_session() as s:
        live = {
            eid: int(n)
            for eid, n in s.execute(select(CohortEnrollment.id, q.live_awaiting_count(db.dialect)))
        }
        if db.dialect not in q.STORED_AWAITING:
            return dict(live), live
        stored_rows = s.execute(
            select(
                AWAITING.c.enrollment_id,
                AWAITING.c.documents,
                AWAITING.c.account_id,
                CohortEnrollment.account_id,
            ).join(CohortEnrollment, CohortEnrollment.id == AWAITING.c.enrollment_id)
        ).all()
    assert all(kept == own for _e, _n, kept, own in stored_rows), "a stored row names another account"
    return {eid: int(n) for eid, n, _a, _o in stored_rows}, live


def check(db: Database) -> dict[int, int]:
    """Stored equals live for every enrollment, and the counts, filters and rows read it; returns the
    live values."""
    stored, live = _stored_and_live(db)
    assert stored == live
    with db.read_session() as s:
        enrollments = s.execute(
            select(
                CohortEnrollment.id,
                CohortEnrollment.cohort_id,
                CohortEnrollment.document_verification_state,
                CohortEnrollment.deleted_at,
            )
        ).all()
    expected: dict[int, q.CohortCounts] = {}
    decidable = waiting = 0
    for eid, cohort_id, state, deleted_at in enrollments:
        if deleted_at is not None:
            continue
        to_decide = int(state == "pending" and live[eid] > 0)
        expected[cohort_id] = expected.get(cohort_id, q.CohortCounts()) + q.CohortCounts(
            1, int(state == "pending"), int(state == "verified"), int(state == "rejected"), to_decide
        )
        decidable += to_decide
        waiting += int(state == "pending" and live[eid] == 0)
    assert q.cohort_counts(db) == expected
    assert q.queue_count(db, q.QueueFilter(decidable=True)) == decidable
    assert q.queue_count(db, q.QueueFilter(decidable=False)) == waiting
    shown = q.queue_rows(db, list(live))
    assert {row.enrollment_id: row.documents_awaiting for row in shown} == live
    return live


def upload_entry(checksum_of: str, name: str = "file.pdf") -> dict[str, Any]:
    """An entry as DocuSeal writes it (no file behind it: the count never opens files)."""
    return StoredFile(
        key=new_blob_key(),
        file_name=name,
        content_type="application/pdf",
        size=100,
        checksum=md5_base64(checksum_of.encode()),
        uploaded_at="2026-03-01T10:00:00Z",
    ).as_upload()


def uploads_of(db: Database, enrollment_id: int) -> dict[str, Any]:
    with db.read_session() as s:
        return dict(
            s.scalar(select(CohortEnrollment.uploaded_documents).where(CohortEnrollment.id == enrollment_id))
        )


def docuseal_writes(db: Database, enrollment_id: int, uploaded: dict[str, Any]) -> None:
    """What DocuSeal's web side does when a learner uploads, replaces or removes a file: an UPDATE of
    the enrollment's ``uploaded_documents`` in SQL, nothing else."""
    with db.engine.begin() as conn:
        conn.execute(
            update(CohortEnrollment)
            .where(CohortEnrollment.id == enrollment_id)
            .values(uploaded_documents=uploaded)
        )
