"""Hostile clients against special personal information and the access log: raw psycopg connections
logged in as each role (officer with and without ``special_pi``, report viewer, super admins of two
institutions) try to read race, disability, ID numbers and health documents' storage keys from every
table and view, and to write access-log entries that did not happen. Every attempt is refused; the
application's own paths (reveal, document fetch, exports) still work through the logged gates.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg import errors as pgerr
from sqlalchemy import text

from cohortdesk.errors import PermissionDenied
from cohortdesk.models import ActiveStorageAttachment, ActiveStorageBlob
from cohortdesk.services import reports
from cohortdesk.services.access import log as access_log
from cohortdesk.services.access import privacy
from cohortdesk.services.access.identity import resolve_identity
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.services.review import queue
from cohortdesk.services.review.queue import MASK
from tests import factories
from tests.pg.security_fixtures import Secured, secured_database

pytestmark = pytest.mark.pg

ROLES = ("super_admin", "officer", "officer_pi", "report_viewer")
ID_NUMBER = "0501014800087"  # the fixture learner's
MASKED_ID = "050101*****87"
SPECIAL_COLUMNS = ("student_data", "uploaded_documents")
LETTER_KEYS: dict[int, str] = {}  # account -> its learner's disability letter's storage key
LETTER_STORES: dict[int, DocumentStore] = {}  # account -> where that letter's bytes are


@pytest.fixture(scope="module")
def sec(tmp_path_factory, migrated) -> Secured:
    with secured_database(tmp_path_factory, migrated) as secured:
        store = DocumentStore(tmp_path_factory.mktemp("letters"))
        for tenant in (secured.a, secured.b):
            letter = factories.upload(store, "letter.pdf", b"%PDF disability letter")
            with secured.admin.session() as s:
                s.execute(
                    text(
                        "UPDATE cohort_enrollments SET uploaded_documents = uploaded_documents || "
                        "jsonb_build_object('disability_proof', CAST(:entry AS jsonb)) WHERE id = :id"
                    ),
                    {"entry": json.dumps(letter), "id": tenant.enrollment},
                )
                blob = ActiveStorageBlob(
                    key=letter["storage_key"],
                    filename="letter.pdf",
                    byte_size=22,
                    created_at=datetime.now(UTC),
                )
                s.add(blob)
                s.flush()
                s.add(
                    ActiveStorageAttachment(
                        name="documents",
                        record_type="Submitter",
                        record_id=tenant.submitter,
                        blob_id=blob.id,
                        uuid=str(uuid.uuid4()),
                        created_at=datetime.now(UTC),
                    )
                )
            LETTER_KEYS[tenant.account] = letter["storage_key"]
            LETTER_STORES[tenant.account] = store
        yield secured


def _refused(
    conn: psycopg.Connection, sql: str, params: tuple = (), errors=(pgerr.InsufficientPrivilege,)
) -> bool:
    try:
        with conn.transaction():
            cursor = conn.execute(sql, params)
            if cursor.description is not None:
                cursor.fetchall()
    except errors:
        return True
    return False


def _copy_refused(conn: psycopg.Connection, sql: str) -> bool:
    try:
        with conn.transaction(), conn.cursor().copy(sql) as copy:
            for _ in copy:
                pass
    except pgerr.InsufficientPrivilege:
        return True
    return False


def _log_count(sec: Secured, kind: str) -> int:
    with sec.admin.session() as s:
        return s.scalar(text("SELECT count(*) FROM cohortdesk_access_log WHERE kind = :k"), {"k": kind})


# --- attack 1: special PI cannot be read from any table or view -----------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_the_table_refuses_the_special_columns_to_every_login(sec: Secured, role: str):
    with sec.connect(sec.a.logins[role]) as conn:
        for column in SPECIAL_COLUMNS:
            assert _refused(conn, f"SELECT {column} FROM public.cohort_enrollments")
            assert _refused(conn, f"SELECT id FROM public.cohort_enrollments WHERE {column} IS NOT NULL")
            assert _refused(conn, f"SELECT count(*) FROM public.cohort_enrollments GROUP BY {column}")
        assert _refused(conn, "SELECT * FROM public.cohort_enrollments")
        assert _refused(conn, "SELECT e FROM public.cohort_enrollments e")  # whole-row reference
        assert _refused(conn, "SELECT to_jsonb(e) FROM public.cohort_enrollments e")
        assert _copy_refused(conn, "COPY public.cohort_enrollments TO STDOUT")
        assert _copy_refused(conn, "COPY (SELECT student_data FROM public.cohort_enrollments) TO STDOUT")
        # An oracle through a write: the WHERE and RETURNING of an UPDATE need SELECT too.
        assert _refused(
            conn,
            "UPDATE public.cohort_enrollments SET state = state WHERE student_data ->> 'race' = 'BA'",
        )
        assert _refused(
            conn,
            f"UPDATE public.cohort_enrollments SET state = state WHERE id = {sec.a.enrollment} RETURNING student_data",
        )
        # Planner statistics show only columns the login may read.
        stats = conn.execute(
            "SELECT attname FROM pg_stats WHERE tablename = 'cohort_enrollments' "
            "AND attname IN ('student_data', 'uploaded_documents')"
        ).fetchall()
        assert stats == []
        # The non-special columns stay readable in the table itself (policies and joins use them).
        assert conn.execute(
            "SELECT count(*) FROM public.cohort_enrollments WHERE id = %s", (sec.a.enrollment,)
        ).fetchone() == (1,)


@pytest.mark.parametrize("role", ROLES)
def test_a_failing_condition_sees_neither_another_account_nor_a_stored_value(sec: Secured, role: str):
    # The enrollments view is planned through (no security barrier; migration 0022): a login's own
    # condition, here one that fails with the value in its error message, may run inside the view, but
    # only on rows the table's row-level security already let through, and on masked columns.
    a = sec.a
    for relation in ("cohort_enrollments", "cohortdesk_docuseal.cohort_enrollments"):
        with sec.connect(a.logins[role]) as conn:
            leaked = conn.execute(
                f"SELECT count(*) FROM {relation} "
                "WHERE CASE WHEN account_id <> %s THEN (id::text || ' of another account')::int ELSE 0 END = 1",
                (a.account,),
            ).fetchone()[0]
            assert leaked == 0
            with pytest.raises(pgerr.InvalidTextRepresentation) as raised:
                conn.execute(
                    f"SELECT count(*) FROM {relation} WHERE id = %s AND (student_data ->> 'sa_id_number')::bigint = 0",
                    (a.enrollment,),
                )
            assert MASKED_ID in str(raised.value) and ID_NUMBER not in str(raised.value)
            conn.rollback()
            # The same through a join and a sort, where the planner is freest to move conditions.
            leaked = conn.execute(
                f"SELECT count(*) FROM {relation} e JOIN cohorts c ON c.id = e.cohort_id "
                "WHERE CASE WHEN e.account_id <> %s THEN (e.student_data::text)::int ELSE 0 END = 1",
                (a.account,),
            ).fetchone()[0]
            assert leaked == 0


@pytest.mark.parametrize("role", ROLES)
def test_every_view_shows_special_pi_masked(sec: Secured, role: str):
    a = sec.a
    with sec.connect(a.logins[role]) as conn:
        for relation in ("cohort_enrollments", "cohortdesk_docuseal.cohort_enrollments"):
            data, documents = conn.execute(
                f"SELECT student_data, uploaded_documents FROM {relation} WHERE id = %s", (a.enrollment,)
            ).fetchone()
            assert (data["race"], data["disability"], data["sa_id_number"]) == (MASK, MASK, MASKED_ID)
            assert (data["gender"], data["city"]) == ("F", "Polokwane")  # not special: as stored
            assert "storage_key" not in documents["disability_proof"]
            assert documents["disability_proof"]["checksum"]
            assert documents["id_document"]["storage_key"]  # an ordinary document keeps its key
            text_dump = conn.execute(
                f"SELECT e::text FROM {relation} e WHERE id = %s", (a.enrollment,)
            ).fetchone()[0]
            assert ID_NUMBER not in text_dump and LETTER_KEYS[a.account] not in text_dump
        # The blobs view: the health document's blob is listed, without its key.
        keys = {
            row[0]
            for row in conn.execute(
                "SELECT key FROM cohortdesk_docuseal.active_storage_blobs WHERE filename = 'letter.pdf'"
            )
        }
        assert keys == {None}
        # Nothing else a login reads carries the values: the whole schema, searched as text.
        found = []
        for (relation,) in conn.execute(
            "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables "
            "WHERE table_schema IN ('public', 'cohortdesk_docuseal') "
            "AND has_table_privilege(quote_ident(table_schema) || '.' || quote_ident(table_name), 'SELECT')"
        ).fetchall():
            with conn.transaction():
                hit = conn.execute(
                    f"SELECT count(*) FROM {relation} r WHERE r::text LIKE %s OR r::text LIKE %s",
                    (f"%{ID_NUMBER}%", f"%{LETTER_KEYS[a.account]}%"),
                ).fetchone()[0]
            if hit:
                found.append(relation)
        assert found == []


def test_a_masked_value_written_back_keeps_the_real_one(sec: Secured):
    """A read-modify-write from masked data (a laptop's sync, any writer) changes what was edited and
    never stores the masks: the trigger holds whoever writes."""
    a = sec.a
    with sec.connect(a.logins["super_admin"]) as conn:
        masked_data, masked_documents = conn.execute(
            "SELECT student_data, uploaded_documents FROM cohort_enrollments WHERE id = %s", (a.enrollment,)
        ).fetchone()
    with sec.admin.session() as s:
        s.execute(
            text(
                "UPDATE cohort_enrollments SET student_data = CAST(:d AS jsonb), uploaded_documents = CAST(:u AS jsonb) "
                "WHERE id = :id"
            ),
            {
                "d": json.dumps({**masked_data, "city": "Tzaneen"}),
                "u": json.dumps(masked_documents),
                "id": a.enrollment,
            },
        )
        data, documents = s.execute(
            text("SELECT student_data, uploaded_documents FROM cohort_enrollments WHERE id = :id"),
            {"id": a.enrollment},
        ).one()
        s.execute(
            text(
                'UPDATE cohort_enrollments SET student_data = student_data || \'{"city": "Polokwane"}\' WHERE id = :id'
            ),
            {"id": a.enrollment},
        )
    assert (data["race"], data["disability"], data["sa_id_number"], data["city"]) == (
        "BA",
        "N",
        ID_NUMBER,
        "Tzaneen",
    )
    assert documents["disability_proof"]["storage_key"] == LETTER_KEYS[a.account]


def test_reveal_is_one_logged_call_for_a_capability_holder_and_one_visible_learner(sec: Secured):
    a, b = sec.a, sec.b
    for role in ("officer", "report_viewer"):
        with sec.connect(a.logins[role]) as conn:
            assert _refused(conn, "SELECT cohortdesk_reveal_special_pi(%s, 'checking')", (a.enrollment,))
    with sec.connect(a.logins["officer_pi"]) as conn:
        assert _refused(
            conn,
            "SELECT cohortdesk_reveal_special_pi(%s, 'checking')",
            (b.enrollment,),
            errors=(pgerr.NoDataFound,),
        )
        assert _refused(
            conn,
            "SELECT cohortdesk_reveal_special_pi(%s, '')",
            (a.enrollment,),
            errors=(pgerr.InvalidParameterValue,),
        )
        before = _log_count(sec, "special_pi_reveal")
        revealed = conn.execute(
            "SELECT cohortdesk_reveal_special_pi(%s, 'Checking the ID copy')", (a.enrollment,)
        ).fetchone()[0]
    assert revealed["values"] == {"race": "BA", "disability": "N", "sa_id_number": ID_NUMBER}
    assert _log_count(sec, "special_pi_reveal") == before + 1
    # The workstation's path: masked details, then the logged reveal through the same function.
    db = sec.database(a.logins["officer_pi"])
    me = resolve_identity(db)
    masked = queue.student_details(db, a.enrollment, me)
    assert masked.id_check is not None and masked.id_check.number.masked
    assert masked.id_check.date_of_birth is not None and masked.id_check.sex == "F"
    assert masked.id_check.checksum_valid and not masked.id_check.problems  # facts from the server
    details = privacy.reveal_details(db, me, a.enrollment, "Checking the ID copy")
    assert details.id_check.number.display == ID_NUMBER and details.race.display == "Black: African"
    officer_db = sec.database(a.logins["officer"])
    with pytest.raises(PermissionDenied):
        privacy.reveal_student_pi(officer_db, resolve_identity(officer_db), a.enrollment, "curious")


def test_a_health_document_is_fetched_only_through_the_logged_gate(sec: Secured):
    a, b = sec.a, sec.b
    with sec.connect(a.logins["officer"]) as conn:
        before = _log_count(sec, "document_view")
        assert _refused(conn, "SELECT cohortdesk_fetch_document(%s, 'disability_proof')", (a.enrollment,))
        assert _refused(
            conn,
            "SELECT cohortdesk_fetch_document(%s, 'id_document')",
            (b.enrollment,),
            errors=(pgerr.NoDataFound,),
        )
        assert _log_count(sec, "document_view") == before
    # The workstation's path: the document list carries no key; the logged fetch gives it, then the bytes.
    db = sec.database(a.logins["officer_pi"])
    me = resolve_identity(db)
    (letter,) = [d for d in queue.enrollment_detail(db, a.enrollment, me).documents if d.special_pi]
    assert letter.uploaded and "storage_key" not in letter.upload
    entry = privacy.fetch_document(db, me, a.enrollment, letter.document_type)
    assert entry["storage_key"] == LETTER_KEYS[a.account]
    assert LETTER_STORES[a.account].read(entry) == b"%PDF disability letter"
    assert _log_count(sec, "document_view") == before + 1
    officer_db = sec.database(a.logins["officer"])
    with pytest.raises(PermissionDenied):
        privacy.fetch_document(officer_db, resolve_identity(officer_db), a.enrollment, "disability_proof")


def test_exports_read_special_pi_only_through_the_gate(sec: Secured, tmp_path):
    a, b = sec.a, sec.b
    for role in ("officer", "report_viewer"):
        with sec.connect(a.logins[role]) as conn:
            assert _refused(
                conn,
                "SELECT * FROM cohortdesk_export_special_pi(ARRAY[%s]::bigint[], 'ee_report', '{}')",
                (a.cohort,),
            )
    with sec.connect(a.logins["officer_pi"]) as conn:
        assert _refused(
            conn,
            "SELECT * FROM cohortdesk_export_special_pi(ARRAY[%s]::bigint[], 'ee_report', '{}')",
            (b.cohort,),
        )
    # A report viewer's roster: no special columns; a capability holder's: the real values, logged once.
    viewer_db = sec.database(a.logins["report_viewer"])
    plain = reports.export_report(
        viewer_db,
        reports.ExportRequest(report="roster", format="csv", cohort_id=a.cohort),
        tmp_path / "plain.csv",
    )
    assert not plain.special_pi_included and ID_NUMBER not in plain.path.read_text(encoding="utf-8-sig")
    before = _log_count(sec, "export")
    pi_db = sec.database(a.logins["officer_pi"])
    full = reports.export_report(
        pi_db,
        reports.ExportRequest(report="roster", format="csv", cohort_id=a.cohort, purpose="ee_report"),
        tmp_path / "full.csv",
    )
    content = full.path.read_text(encoding="utf-8-sig")
    assert full.special_pi_included and ID_NUMBER in content and "Black: African" in content
    assert _log_count(sec, "export") == before + 1
    demographics = reports.export_report(
        pi_db,
        reports.ExportRequest(report="demographics", format="csv", cohort_id=a.cohort, purpose="ee_report"),
        tmp_path / "demo.csv",
    )
    assert "Black: African" in demographics.path.read_text(encoding="utf-8-sig")


# --- attack 10: no access-log entry for something that did not happen -----------------------------


@pytest.mark.parametrize("role", ROLES)
def test_no_login_writes_a_free_form_access_log_entry(sec: Secured, role: str):
    a, b = sec.a, sec.b
    with sec.connect(a.logins[role]) as conn:
        for kind in ("document_view", "special_pi_reveal", "export", "permission_change"):
            assert _refused(conn, f"SELECT cohortdesk_log_access('{kind}', 'cohorts', {a.cohort}, 'x', NULL)")
        assert _refused(
            conn,
            "INSERT INTO cohortdesk_access_log (actor, account_id, kind) VALUES ('x', %s, 'export')",
            (a.account,),
        )
        # An export of another institution's cohort, or claiming special PI one may not see.
        assert _refused(
            conn, "SELECT cohortdesk_log_export('internal_use', 'cohorts', %s, '{}')", (b.cohort,)
        )
        assert _refused(
            conn,
            "SELECT cohortdesk_log_export('internal_use', NULL, NULL, %s)",
            (json.dumps({"filters": {"cohort_ids": [b.cohort]}}),),
        )
        assert _refused(
            conn,
            "SELECT cohortdesk_log_export('', 'cohorts', %s, '{}')",
            (a.cohort,),
            errors=(pgerr.InvalidParameterValue,),
        )
        # A document view of another institution's enrollment.
        assert _refused(
            conn,
            "SELECT cohortdesk_fetch_document(%s, 'id_document')",
            (b.enrollment,),
            errors=(pgerr.NoDataFound,),
        )
    with sec.connect(a.logins["report_viewer"]) as conn:
        assert _refused(
            conn,
            "SELECT cohortdesk_log_export('ee_report', 'cohorts', %s, '{\"special_pi\": true}')",
            (a.cohort,),
        )


def test_the_services_log_through_the_gates(sec: Secured):
    a = sec.a
    db = sec.database(a.logins["officer"])
    me = resolve_identity(db)
    entry = access_log.log_document_view(db, me, a.enrollment, "matric_certificate")
    logged = access_log.log_export(
        db, me, "internal_use", row_count=1, object_table="cohorts", object_id=a.cohort
    )
    with pytest.raises(PermissionDenied):
        access_log.log_export(
            db, me, "internal_use", row_count=1, object_table="cohorts", object_id=sec.b.cohort
        )
    with sec.admin.session() as s:
        rows = s.execute(
            text("SELECT id, actor, kind FROM cohortdesk_access_log WHERE id IN (:a, :b) ORDER BY id"),
            {"a": entry, "b": logged},
        ).all()
    assert [tuple(r) for r in rows] == [
        (entry, a.logins["officer"], "document_view"),
        (logged, a.logins["officer"], "export"),
    ]


def test_a_whole_id_number_finds_its_learner_only_for_a_capability_holder(sec: Secured):
    """The queue's search matches the masked column by its birth date part for everyone; a whole number
    is matched by the server only for holders of special_pi (for anyone else, a loop over the five
    hidden digits would recover the number), and only in the login's own institution."""
    a, b = sec.a, sec.b
    officer = sec.database(a.logins["officer"])
    holder = sec.database(a.logins["officer_pi"])
    for search in (ID_NUMBER[:6], "Lerato 050101"):
        assert queue.queue_count(officer, queue.QueueFilter(verification_state=None, search=search)) == 1
    whole = queue.QueueFilter(verification_state=None, search=ID_NUMBER)
    assert queue.queue_count(officer, whole) == 0
    assert queue.queue_count(holder, whole) == 1
    with sec.connect(a.logins["officer"]) as conn:
        assert conn.execute("SELECT cohortdesk_enrollments_with_id_number(%s)", (ID_NUMBER,)).fetchall() == []
    with sec.connect(b.logins["super_admin"]) as conn:
        found = {r[0] for r in conn.execute("SELECT cohortdesk_enrollments_with_id_number(%s)", (ID_NUMBER,))}
    assert a.enrollment not in found and b.enrollment in found  # both learners carry the same number


def test_the_sync_push_reads_enrollments_masked(sec: Secured):
    """A laptop's push locks and merges against what a login may read; no function hands the values out."""
    a = sec.a
    with sec.connect(a.logins["super_admin"], autocommit=False) as conn:
        (row,) = conn.execute(
            "SELECT cohortdesk_sync_lock('cohort_enrollments', ARRAY[%s]::bigint[])", (a.enrollment,)
        ).fetchone()
        conn.rollback()
    assert row["student_data"]["sa_id_number"] == MASKED_ID and row["student_data"]["race"] == MASK
    assert "storage_key" not in row["uploaded_documents"]["disability_proof"]


def test_a_sync_conflict_records_the_servers_values_masked(sec: Secured):
    """Whoever records a conflict (the push function, a maintenance session), the server's side of an
    enrollment is stored masked: super admins read conflicts, and laptops receive them."""
    a = sec.a
    with sec.admin.session() as s:
        row = s.scalar(
            text("SELECT to_jsonb(e) FROM cohort_enrollments e WHERE id = :id"), {"id": a.enrollment}
        )
        ids = []
        for field_name, theirs in (
            (None, row),
            ("student_data.sa_id_number", ID_NUMBER),
            ("student_data.race", "BA"),
        ):
            ids.append(
                s.scalar(
                    text(
                        "INSERT INTO sync_conflict (account_id, device_id, mutation_id, op, table_name, row_id, field,"
                        " kind, theirs, status, created_at) VALUES (:a, :d, 1, 'update', 'cohort_enrollments', :r,"
                        " :f, 'field_conflict', CAST(:t AS jsonb), 'open', now()) RETURNING id"
                    ),
                    {
                        "a": a.account,
                        "d": str(uuid.uuid4()),
                        "r": a.enrollment,
                        "f": field_name,
                        "t": json.dumps(theirs),
                    },
                )
            )
    with sec.connect(a.logins["super_admin"]) as conn:
        stored = [
            conn.execute("SELECT theirs FROM sync_conflict WHERE id = %s", (i,)).fetchone()[0] for i in ids
        ]
    assert stored[0]["student_data"]["sa_id_number"] == MASKED_ID
    assert "storage_key" not in stored[0]["uploaded_documents"]["disability_proof"]
    assert stored[1:] == [MASKED_ID, MASK]
