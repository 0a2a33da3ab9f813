"""On PostgreSQL an officer's workstation reads ID documents whose captured number it sees masked, and
asks the server (on the runner's database lane) to compare the hidden digits: a clearly read number
shows "matches captured ✓", another number with the same visible digits a mismatch in words; each
answer is in the access log. Real PostgreSQL logins, real certified-ID PDFs, the real reading process."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from cohortdesk.services.configuration import edits as ce
from cohortdesk.services.demo import files
from cohortdesk.services.documents.reading import compare, engine
from cohortdesk.services.documents.reading.cache import ReadingCache
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.services.validation import luhn_valid
from cohortdesk.views.runner import Runner
from cohortdesk.views.workstation.reading import DocumentReader
from tests import factories
from tests.pg.security_fixtures import Secured, Tenant, secured_database

pytestmark = [
    pytest.mark.pg,
    pytest.mark.skipif(not engine.available(), reason="the OCR engine is not installed"),
]
CAPTURED = "0501014800087"
#: Another valid number with the same visible digits (birth date, last two): only the server can tell.
OTHER = next(
    n for n in (CAPTURED[:6] + f"{m:05d}" + CAPTURED[11:] for m in range(48001, 99999)) if luhn_valid(n)
)


@pytest.fixture(scope="module")
def sec(tmp_path_factory, migrated) -> Secured:
    with secured_database(tmp_path_factory, migrated) as secured:
        yield secured


def _learner(sec: Secured, tenant: Tenant, store: DocumentStore, printed: str) -> int:
    """A learner who captured ``CAPTURED`` and uploaded a certified ID carrying ``printed``."""
    learner = factories.user(sec.admin, tenant.account, "Thandiwe", "Mokoena")
    person = files.Person("Thandiwe", "Mokoena", printed, date(2005, 1, 1), "F", "Polokwane")
    document = files.id_document_pdf(person, datetime.now(UTC).date() - timedelta(days=10), "A. Naidoo")
    upload = store.put(document.data, document.file_name, document.content_type).as_upload()
    return ce.enroll(
        sec.admin,
        ce.NewEnrollment(
            cohort_id=tenant.cohort,
            user_id=learner,
            student_data={"sa_id_number": CAPTURED},
            uploaded_documents={"id_document": upload},
        ),
    ).row.id


def test_the_server_finishes_the_comparison_the_masked_number_cannot(qtbot, sec: Secured, tmp_path):
    a = sec.a
    store = DocumentStore(tmp_path / "storage")
    same, other = _learner(sec, a, store, CAPTURED), _learner(sec, a, store, OTHER)
    login = sec.add_login(a, "officer", name="officer_reads")
    officer = sec.database(login)
    runner = Runner()
    reader = DocumentReader(runner, officer, store, cache=ReadingCache(tmp_path / "readings.sqlite3"))
    try:
        reader.want([same, other])
        deadline = time.monotonic() + 120
        while not {same, other} <= reader.statuses.keys():
            assert time.monotonic() < deadline, "the documents were not read"
            qtbot.wait(20)
        assert "*" in reader.plans[same].captured.sa_id_number  # the login sees the captured number masked
        matched = {c.key: c for c in reader.checks(same, reveal=False)}["sa_id_number"]
        assert matched.status == compare.MATCH
        assert matched.message == (
            "On the document: 050101*****87 — matches captured ✓ (the hidden digits compared by the server)"
        )
        assert reader.statuses[same] == compare.PRECHECK_MATCHES
        differs = {c.key: c for c in reader.checks(other, reveal=False)}["sa_id_number"]
        assert differs.status == compare.MISMATCH
        assert differs.message == (
            "On the document: 050101*****87 — differs from captured 050101*****87 in the hidden digits "
            "(compared by the server)."
        )
        assert reader.statuses[other] == compare.PRECHECK_MISMATCH
        # Each number read was asked once, and each answer is on the record.
        with sec.admin.session() as s:
            logged = s.execute(
                text(
                    "SELECT object_id, details ->> 'answer' FROM cohortdesk_access_log "
                    "WHERE kind = 'id_number_check' AND actor = :a ORDER BY object_id"
                ),
                {"a": login},
            ).all()
        assert logged == sorted([(same, "matches"), (other, "differs")])
        # Reading again (a re-plan) asks nothing more: the answers are kept per number read.
        reader.forget(same)
        reader.statuses.pop(same)
        reader.want([same])
        while same not in reader.statuses:
            qtbot.wait(20)
        assert reader.statuses[same] == compare.PRECHECK_MATCHES
        with sec.admin.session() as s:
            count = s.scalar(
                text(
                    "SELECT count(*) FROM cohortdesk_access_log WHERE kind = 'id_number_check' AND actor = :a"
                ),
                {"a": login},
            )
        assert count == 2
    finally:
        reader.shutdown()
        runner.shutdown(wait=True)


def test_a_refusal_leaves_the_number_unsure_with_the_servers_words(qtbot, sec: Secured, tmp_path):
    a = sec.a
    store = DocumentStore(tmp_path / "storage")
    learner = _learner(sec, a, store, CAPTURED)
    runner = Runner()
    # A report viewer may not ask: the workstation says so and shows the number as unsure.
    viewer = sec.database(a.logins["report_viewer"])
    reader = DocumentReader(runner, viewer, store, cache=ReadingCache(tmp_path / "readings.sqlite3"))
    try:
        reader.want([learner])
        deadline = time.monotonic() + 120
        while learner not in reader.statuses:
            assert time.monotonic() < deadline, "the document was not read"
            qtbot.wait(20)
        check = {c.key: c for c in reader.checks(learner, reveal=False)}["sa_id_number"]
        assert check.status == compare.UNSURE
        assert "the server did not compare the hidden digits: Permission denied" in check.message
        assert reader.statuses[learner] == compare.PRECHECK_UNREADABLE
    finally:
        reader.shutdown()
        runner.shutdown(wait=True)
