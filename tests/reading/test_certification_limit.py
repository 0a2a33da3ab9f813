"""The student pane judges a certified copy's age by its cohort's own limit: a real certified ID
(PDF with its text layer) read by the real reading process, the limit read with the plan from the
cohort, and the verdict said in words."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from cohortdesk.db import Database
from cohortdesk.services.configuration import edits as ce
from cohortdesk.services.demo import files
from cohortdesk.services.documents.reading import compare, engine
from cohortdesk.services.documents.reading.cache import ReadingCache
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.views.runner import Runner
from cohortdesk.views.workstation.reading import DocumentReader, checks_html
from tests import factories

pytestmark = pytest.mark.skipif(not engine.available(), reason="the OCR engine is not installed")
ID_NUMBER = "9909155135083"


def _enrollment(db: Database, store: DocumentStore, max_age_days: int | None, certified_days_ago: int) -> int:
    account = factories.account(db)
    institution = ce.create_institution(db, ce.NewInstitution(account_id=account, name="Acme")).row
    cohort = ce.create_cohort(
        db,
        ce.NewCohort(
            institution_id=institution.id,
            name="Retail learnership",
            program_type="learnership",
            certification_max_age_days=max_age_days,
        ),
    ).row
    learner = factories.user(db, account, "Thandiwe", "Mokoena")
    today = datetime.now(UTC).date()
    person = files.Person(
        "Thandiwe", "Mokoena", ID_NUMBER, today.replace(year=1999, month=9, day=15), "M", "Durban"
    )
    document = files.id_document_pdf(person, today - timedelta(days=certified_days_ago), "A. Naidoo")
    upload = store.put(document.data, document.file_name, document.content_type).as_upload()
    return ce.enroll(
        db,
        ce.NewEnrollment(
            cohort_id=cohort.id,
            user_id=learner,
            student_data={"sa_id_number": ID_NUMBER},
            uploaded_documents={"id_document": upload},
        ),
    ).row.id


def _read(qtbot, reader: DocumentReader, enrollment_id: int) -> list[compare.Check]:
    reader.forget(enrollment_id)
    reader.statuses.pop(enrollment_id, None)
    reader.want([enrollment_id])
    deadline = time.monotonic() + 120
    while enrollment_id not in reader.statuses:
        assert time.monotonic() < deadline, "the document was not read"
        qtbot.wait(20)
    return reader.checks(enrollment_id, reveal=False)


def test_the_cohorts_limit_decides_and_the_pane_says_it(qtbot, sqlite_db, tmp_path):
    store = DocumentStore(tmp_path / "storage")
    enrollment = _enrollment(sqlite_db, store, 30, certified_days_ago=50)
    runner = Runner()
    reader = DocumentReader(runner, sqlite_db, store, cache=ReadingCache(tmp_path / "readings.sqlite3"))
    try:
        checks = {c.key: c for c in _read(qtbot, reader, enrollment)}
        certified = checks["certification_date"]
        assert certified.status == compare.FLAGGED
        assert certified.message.endswith(", 50 days ago; this cohort accepts 1 month.")
        assert checks["sa_id_number"].status == compare.MATCH  # the captured number, read off the text
        assert reader.statuses[enrollment] == compare.PRECHECK_MISMATCH
        html = checks_html(list(checks.values()), [], True, True)
        assert "this cohort accepts 1 month" in html

        # The super admin widens the limit: the same reading (cached) now passes, in words.
        cohort_id = ce.get_enrollment(sqlite_db, enrollment).cohort_id
        ce.update_cohort(sqlite_db, cohort_id, {"certification_max_age_days": 90})
        certified = {c.key: c for c in _read(qtbot, reader, enrollment)}["certification_date"]
        assert certified.status == compare.MATCH
        assert certified.message.endswith("50 days ago ✓ (this cohort accepts 3 months)")

        # And a cohort that accepts any age says so instead of judging.
        ce.update_cohort(sqlite_db, cohort_id, {"certification_max_age_days": 0})
        certified = {c.key: c for c in _read(qtbot, reader, enrollment)}["certification_date"]
        assert certified.status == compare.INFO
        assert certified.message.endswith("this cohort accepts a certification of any age.")
    finally:
        reader.shutdown()
        runner.shutdown(wait=True)
