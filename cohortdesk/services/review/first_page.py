"""The queue's first page on the embedded SQLite store, read with the standard library's ``sqlite3``:
what the window shows the moment it opens, before SQLAlchemy and the ORM load (importing them is about
half of a cold start's CPU time).

It answers exactly one question, the one every start asks: the default view ("To decide", every
cohort, oldest first) at offset 0, and returns what ``queue.queue_page`` returns for it, row for row
(a test compares the two on the demo data and on edge cases). Anything else, a store whose schema is
not this version's head, or a file that is missing or unreadable, gets ``None``: the window then opens
the database the usual way (the schema brought up to date first) and reads the page through
``queue.queue_page``. The SQL mirrors ``queue.queue_statement`` for SQLite; change both together.

Like every read it runs on the database lane of the runner, never on the GUI thread. It reads no
special personal information and records nothing, as ``queue.queue_page`` on SQLite does not.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote

from cohortdesk.db.migrate import HEAD_REVISION, VERSION_TABLE
from cohortdesk.services.review.queue_rows import QueueFilter, QueuePage, QueueSort, row_from_columns
from cohortdesk.services.validation import LEGACY_DOCUMENT_KEYS

#: The one view this read answers: the queue every start opens on.
START_FILTER = QueueFilter(verification_state="pending", decidable=True)
START_SORT = QueueSort()


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


#: ``validation.canonical_document_type`` in SQL (legacy upload keys become today's types).
_CANONICAL_KEY = (
    "CASE "
    + " ".join(
        f"WHEN upload.key = {_literal(old)} THEN {_literal(new)}" for old, new in LEGACY_DOCUMENT_KEYS.items()
    )
    + " ELSE upload.key END"
)

#: Uploaded documents with no decision on the file as it is now (``queue.live_awaiting_count``).
_AWAITING = f"""(
    SELECT count(*) FROM json_each(cohort_enrollments.uploaded_documents) AS upload
    WHERE NOT EXISTS (
        SELECT latest_decision.id FROM document_verifications AS latest_decision
        WHERE latest_decision.id = (
            SELECT decision.id FROM document_verifications AS decision
            WHERE decision.cohort_enrollment_id = cohort_enrollments.id
              AND decision.document_type = {_CANONICAL_KEY}
              AND decision.action IN ('approved', 'rejected')
              AND NOT EXISTS (SELECT undo.id FROM document_verifications AS undo WHERE undo.reverses_id = decision.id)
            ORDER BY decision.created_at DESC, decision.id DESC
            LIMIT 1
        )
        AND latest_decision.action IN ('approved', 'rejected')
        AND (
            json_extract(latest_decision.metadata, '$.checksum') IS NULL
            OR json_extract(upload.value, '$.checksum') IS NULL
            OR json_extract(latest_decision.metadata, '$.checksum') = json_extract(upload.value, '$.checksum')
        )
    )
)"""

_ORDER = "cohort_enrollments.pending_since ASC NULLS LAST, cohort_enrollments.id ASC"

#: ``queue.queue_statement`` for the start view on SQLite: the page's ids first, then their columns.
PAGE_SQL = f"""
SELECT
    cohort_enrollments.id,
    cohort_enrollments.cohort_id,
    cohorts.institution_id,
    cohort_enrollments.user_id,
    trim(coalesce(users.first_name, '') || ' ' || coalesce(users.last_name, '')),
    users.email,
    cohorts.name,
    cohorts.program_type,
    cohort_enrollments.state,
    cohort_enrollments.document_verification_state,
    (SELECT count(*) FROM json_each(cohort_enrollments.uploaded_documents)),
    coalesce(json_array_length(cohorts.required_document_types), 0),
    cohort_enrollments.pending_since,
    cohort_enrollments.row_version,
    cohort_enrollments.claimed_by_user_id,
    coalesce(
        (
            SELECT coalesce(
                nullif(trim(coalesce(holder.first_name, '') || ' ' || coalesce(holder.last_name, '')), ''),
                holder.email
            )
            FROM users AS holder WHERE holder.id = cohort_enrollments.claimed_by_user_id
        ),
        cohort_enrollments.claimed_by
    ),
    cohort_enrollments.claim_expires_at,
    cohort_enrollments.document_verification_state = 'pending' AND EXISTS (
        SELECT rejection.id FROM document_verifications AS rejection
        WHERE rejection.cohort_enrollment_id = cohort_enrollments.id
          AND rejection.action = 'rejected'
          AND NOT EXISTS (SELECT undo.id FROM document_verifications AS undo WHERE undo.reverses_id = rejection.id)
    ),
    (
        SELECT count(*) FROM json_each(cohort_enrollments.uploaded_documents) AS upload
        WHERE {_CANONICAL_KEY} IN (
            SELECT required_type.value FROM json_each(cohorts.required_document_types) AS required_type
        )
    ),
    {_AWAITING}
FROM cohort_enrollments
JOIN cohorts ON cohorts.id = cohort_enrollments.cohort_id
JOIN users ON users.id = cohort_enrollments.user_id
JOIN (
    SELECT cohort_enrollments.id AS id FROM cohort_enrollments
    WHERE cohort_enrollments.deleted_at IS NULL
      AND cohort_enrollments.document_verification_state = 'pending'
      AND {_AWAITING} > 0
    ORDER BY {_ORDER}
    LIMIT :limit OFFSET 0
) AS page ON page.id = cohort_enrollments.id
ORDER BY {_ORDER}
"""


def answers(flt: QueueFilter, sort: QueueSort, offset: int) -> bool:
    """Whether this read can stand in for ``queue.queue_page`` here (the start view's first page)."""
    return flt == START_FILTER and sort == START_SORT and offset == 0


def read_first_page(path: Path, flt: QueueFilter, sort: QueueSort, limit: int) -> QueuePage | None:
    """The start view's first page from the SQLite file at ``path``; None when this read cannot answer
    (another view, a missing file, a schema other than this version's head)."""
    if not answers(flt, sort, 0) or limit <= 0 or not path.is_file():
        return None
    try:
        conn = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error:
        return None
    try:
        conn.execute("BEGIN")  # one snapshot for the version check and the page
        try:
            versions = [row[0] for row in conn.execute(f"SELECT version_num FROM {VERSION_TABLE}")]
        except sqlite3.OperationalError:  # no version table: a new or foreign file
            return None
        if versions != [HEAD_REVISION]:
            return None
        rows = conn.execute(PAGE_SQL, {"limit": limit}).fetchall()
        conn.execute("ROLLBACK")
    finally:
        conn.close()
    return QueuePage(rows=tuple(row_from_columns(values) for values in rows), offset=0, limit=limit)
