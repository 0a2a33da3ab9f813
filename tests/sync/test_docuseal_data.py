"""Sync against a server shaped like a real DocuSeal database: learners who have signed (submissions and
submitters exist for their enrollments), several accounts, the whole demo data set."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from cohortdesk.db import Database
from cohortdesk.services import demo
from cohortdesk.services.configuration import edits as ce
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.services.sync import engine, sync_status
from tests import factories
from tests.sync.helpers import assert_same_as_server, server_sql

pytestmark = pytest.mark.pg


def _accounts(server: Database) -> list[int]:
    return [r[0] for r in server_sql(server, "SELECT DISTINCT account_id FROM institutions ORDER BY 1")]


@pytest.mark.slow
def test_the_whole_demo_syncs_to_a_laptop_per_account(server_url, new_laptop, tmp_path):
    server = Database(server_url)
    try:
        demo.load_demo(server, students=200, seed=7, store=DocumentStore(tmp_path / "files"))
        signed = server_sql(server, "SELECT count(*) FROM cohort_enrollments WHERE submission_id IS NOT NULL")
        assert signed[0][0] > 100
        for account in _accounts(server):
            laptop = new_laptop(f"laptop-{account}")
            report = engine.sync(laptop, server, account_id=account)
            assert report.pulled > 0
            status = sync_status(laptop)
            assert status.online and status.last_error is None
            assert_same_as_server(laptop, server, account)
            # An edit made on the laptop after the pull travels back, and a second sync is quiet.
            cohort = ce.list_cohorts(laptop)[0]
            ce.update_cohort(laptop, cohort.id, {"student_count": cohort.student_count + 1})
            again = engine.sync(laptop, server, account_id=account)
            assert (again.applied, again.conflicts, again.rejected) == (1, 0, 0)
            assert_same_as_server(laptop, server, account)
    finally:
        server.dispose()


def test_a_learner_signing_on_the_server_reaches_the_laptop(world, new_laptop):
    laptop = new_laptop("a")
    engine.sync(laptop, world.server)
    enrollment = ce.enroll(
        laptop,
        ce.NewEnrollment(cohort_id=world.cohort, user_id=world.users[0], student_data={"city": "Durban"}),
    ).row
    engine.sync(laptop, world.server)
    # DocuSeal: the learner signs (a submission and its submitter appear); CohortDesk links it.
    now = datetime.now(UTC).replace(tzinfo=None)
    submission = factories.submission(world.server, world.account, world.template, completed_at=now)
    server_sql(
        world.server,
        "UPDATE cohort_enrollments SET submission_id = :s WHERE id = :e",
        s=submission,
        e=enrollment.id,
    )
    report = engine.sync(laptop, world.server)
    assert report.pulled >= 1 and sync_status(laptop).last_error is None
    assert_same_as_server(laptop, world.server, world.account)
    with laptop.engine.connect() as conn:
        linked = conn.execute(
            text("SELECT submission_id FROM cohort_enrollments WHERE id = :e"), {"e": enrollment.id}
        ).scalar()
    assert linked == submission
    # DocuSeal deletes the submission for good: the server sets the link to NULL and the laptop follows.
    server_sql(world.server, "DELETE FROM submitters WHERE submission_id = :s", s=submission)
    server_sql(world.server, "DELETE FROM submissions WHERE id = :s", s=submission)
    engine.sync(laptop, world.server)
    assert_same_as_server(laptop, world.server, world.account)
