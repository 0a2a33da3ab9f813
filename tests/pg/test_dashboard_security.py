"""The cohort dashboard under real application logins: each reads its own institution's figures through
row-level security (DocuSeal's submitters through the filtered views), never another's."""

from __future__ import annotations

import pytest

from cohortdesk.errors import NotFoundError
from cohortdesk.services.reports import dashboard
from tests.pg.security_fixtures import Secured, secured_database

pytestmark = pytest.mark.pg


@pytest.fixture(scope="module")
def sec(tmp_path_factory, migrated) -> Secured:
    with secured_database(tmp_path_factory, migrated) as secured:
        yield secured


@pytest.mark.parametrize("role", ["officer", "report_viewer", "super_admin"])
def test_each_login_sees_its_own_institution_only(sec: Secured, role: str):
    for mine, theirs in ((sec.a, sec.b), (sec.b, sec.a)):
        db = sec.database(mine.logins[role])
        data = dashboard.institution_dashboard(db, mine.institution)
        expected = dashboard.institution_dashboard(sec.admin, mine.institution)
        assert (data.total, data.active, data.completed, data.stages, data.stuck) == (
            expected.total,
            expected.active,
            expected.completed,
            expected.stages,
            expected.stuck,
        )
        assert data.total >= 1
        with pytest.raises(NotFoundError, match="no institution"):
            dashboard.institution_dashboard(db, theirs.institution)
        with pytest.raises(NotFoundError, match="no cohort"):
            dashboard.institution_dashboard(db, mine.institution, theirs.cohort)
