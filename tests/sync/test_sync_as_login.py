"""Sync under the security the database enforces: a super admin's own login pushes and pulls, and
sees only its own institution; an officer's login cannot sync configuration at all."""

from __future__ import annotations

import uuid

import pytest

from cohortdesk.db import Database
from cohortdesk.services.access import logins as admin_users
from cohortdesk.services.configuration import edits as ce
from cohortdesk.services.review import queue as q
from cohortdesk.services.sync import engine
from tests import factories
from tests.pg.security_fixtures import drop_roles
from tests.sync.conftest import seed_server

pytestmark = pytest.mark.pg


@pytest.fixture
def logins():
    names: list[str] = []
    yield names
    drop_roles(names)


def _login(world, logins, role: str) -> Database:
    name = f"cdt_sync_{uuid.uuid4().hex[:10]}"
    logins.append(name)
    person = factories.user(world.server, world.account, role.title(), "Login")
    admin_users.add_user(
        world.server,
        admin_users.NewLogin(login=name, role=role, user_id=person, institution_id=world.institution),
        password=None,
    )
    return Database(world.server.url.set(username=name))


def test_a_super_admin_login_syncs_only_its_institution(world, new_laptop, logins):
    other = seed_server(world.server)  # institution B on the same server
    server = _login(world, logins, "super_admin")
    laptop = new_laptop("a")
    try:
        report = engine.sync(laptop, server)
        assert [c.id for c in ce.list_cohorts(laptop)] == [world.cohort]
        assert other.cohort not in {c.id for c in ce.list_cohorts(laptop)}
        sponsor = ce.create_sponsor(
            laptop, ce.NewSponsor(institution_id=world.institution, company_name="Sasol")
        )
        ce.update_cohort(laptop, world.cohort, {"name": "Renamed offline", "sponsor_id": sponsor.row.id})
        report = engine.sync(laptop, server)
        assert report.applied == 2 and report.conflicts == 0
        pushed = ce.get_cohort(world.server, world.cohort)
        assert (pushed.name, pushed.sponsor_id) == ("Renamed offline", sponsor.row.id)
        assert ce.get_cohort(world.server, other.cohort).name == "Server cohort"
    finally:
        server.dispose()


def test_an_officer_login_cannot_push_configuration(world, new_laptop, logins):
    server = _login(world, logins, "officer")
    laptop = new_laptop("b")
    try:
        with pytest.raises(Exception) as info:
            engine.sync(laptop, server)
        assert "permission denied" in str(info.value).lower()
    finally:
        server.dispose()


def test_a_super_admin_login_previews_and_imports_without_touching_sync_state(
    world, logins, tmp_path, capsys
):
    from sqlalchemy import select

    from cohortdesk.cli import main
    from cohortdesk.models import User
    from tests.sync.helpers import server_sql

    server = _login(world, logins, "super_admin")
    try:
        with world.server.read_session() as s:
            emails = [s.scalar(select(User.email).where(User.id == u)) for u in world.users]
        path = tmp_path / "learners.csv"
        rows = [f"{e},Learner{i},Test" for i, e in enumerate(emails)]
        path.write_text("\n".join(["Email,First name,Last name", *rows]) + "\n", encoding="utf-8")
        url = server.url.render_as_string(hide_password=False)
        before = server_sql(world.server, "SELECT count(*) FROM sync_state")[0][0]
        assert main(["--url", url, "import-enrollments", "--cohort", str(world.cohort), str(path)]) == 0
        out = capsys.readouterr()
        assert "dry run: nothing written" in out.out and "Traceback" not in out.err
        assert server_sql(world.server, "SELECT count(*) FROM sync_state")[0][0] == before
        assert server_sql(world.server, "SELECT count(*) FROM cohort_enrollments")[0][0] == 0
        code = main(
            ["--url", url, "import-enrollments", "--cohort", str(world.cohort), str(path), "--commit"]
        )
        out = capsys.readouterr()
        assert code == 0, out.err
        assert f"Enrolled {len(emails)} learners" in out.out
        assert server_sql(world.server, "SELECT count(*) FROM sync_state")[0][0] == before
        enrolled = server_sql(
            world.server, "SELECT count(*) FROM cohort_enrollments WHERE cohort_id = :c", c=world.cohort
        )
        assert enrolled[0][0] == len(emails)
    finally:
        server.dispose()


def test_enrollments_pushed_by_a_login_are_counted_by_the_server(world, new_laptop, logins):
    """The count of documents awaiting a decision (migration 0024) follows what a laptop pushes (new
    enrollments, which arrive without documents, an edit of a learner's details, a tombstone) and the
    uploads DocuSeal's side writes on the server in between."""
    from tests.awaiting_checks import check, docuseal_writes, upload_entry
    from tests.sync.helpers import server_sql

    server = _login(world, logins, "super_admin")
    laptop = new_laptop("c")
    try:
        engine.sync(laptop, server)
        made = ce.enroll_many(
            laptop, [ce.NewEnrollment(cohort_id=world.cohort, user_id=learner) for learner in world.users[:3]]
        ).rows
        assert engine.sync(laptop, server).applied == 3
        on_server = dict(server_sql(world.server, "SELECT uuid, id FROM cohort_enrollments"))
        pushed = [on_server[row.uuid] for row in made]
        assert [check(world.server)[e] for e in pushed] == [0, 0, 0]
        for i, enrollment in enumerate(pushed):
            uploads = {key: upload_entry(f"{enrollment} {key}") for key in ("id_document", "cv")[:i]}
            docuseal_writes(world.server, enrollment, uploads)
        assert [check(world.server)[e] for e in pushed] == [0, 1, 2]
        engine.sync(laptop, server)  # the laptop learns the uploads and the new row versions
        ce.update_enrollment(laptop, made[1].id, {"student_data": {"city": "Durban"}})
        ce.delete_enrollment(laptop, made[2].id)
        assert engine.sync(laptop, server).applied == 2
        assert [check(world.server)[e] for e in pushed] == [0, 1, 2]
        assert q.cohort_counts(server)[world.cohort] == q.CohortCounts(2, 2, 0, 0, 1)
    finally:
        server.dispose()
