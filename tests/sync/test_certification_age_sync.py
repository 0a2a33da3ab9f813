"""A cohort's certification age limit travels like every cohort field: set offline on a laptop it
reaches the server (as a super admin's own login, through ``cohortdesk_write``), set on the server it
reaches the laptops, and two different limits meet as a field conflict worded for people."""

from __future__ import annotations

import json
import uuid

import pytest

from cohortdesk.db import Database
from cohortdesk.errors import ValidationError
from cohortdesk.services.access import logins as admin_users
from cohortdesk.services.configuration import edits as ce
from cohortdesk.services.configuration.sync_actions import field_label, show_value
from cohortdesk.services.sync import conflicts, engine
from tests import factories
from tests.pg.security_fixtures import drop_roles
from tests.sync.helpers import assert_same_as_server, outbox

pytestmark = pytest.mark.pg

FIELD = "certification_max_age_days"


@pytest.fixture
def login(world):
    names: list[str] = []
    name = f"cdt_cert_{uuid.uuid4().hex[:10]}"
    names.append(name)
    person = factories.user(world.server, world.account, "Admin", "Login")
    admin_users.add_user(
        world.server,
        admin_users.NewLogin(
            login=name, role="super_admin", user_id=person, institution_id=world.institution
        ),
        password=None,
    )
    server = Database(world.server.url.set(username=name))
    yield server
    server.dispose()
    drop_roles(names)


def test_the_limit_goes_both_ways_through_a_super_admins_login(world, new_laptop, login):
    a, b = new_laptop("a"), new_laptop("b")
    engine.sync(a, login), engine.sync(b, login)
    assert ce.get_cohort(a, world.cohort).certification_max_age_days is None  # the default

    # Laptop → server: an edit offline and a new cohort made offline, each carrying a limit.
    ce.update_cohort(a, world.cohort, {FIELD: 45})
    made = ce.create_cohort(
        a,
        ce.NewCohort(
            institution_id=world.institution,
            name="Any age accepted",
            program_type="internship",
            certification_max_age_days=0,
        ),
    ).row
    queued = [json.loads(row.changes_json) for row in outbox(a)]
    assert queued[0] == {FIELD: [None, 45]} and queued[1][FIELD] == 0
    report = engine.sync(a, login)
    assert report.applied == 2 and report.conflicts == 0
    assert ce.get_cohort(world.server, world.cohort).certification_max_age_days == 45
    assert ce.get_cohort(world.server, made.id).certification_max_age_days == 0

    # Server → laptop: the other laptop pulls both; a change made online comes back too.
    engine.sync(b, login)
    assert ce.get_cohort(b, world.cohort).certification_max_age_days == 45
    assert ce.get_cohort(b, made.id).certification_max_age_days == 0
    ce.update_cohort(login, world.cohort, {FIELD: None})  # back to the default, online
    engine.sync(a, login), engine.sync(b, login)
    for laptop in (a, b):
        assert ce.get_cohort(laptop, world.cohort).certification_max_age_days is None
        assert_same_as_server(laptop, world.server, world.account)


def test_two_limits_meet_as_a_conflict_in_words(world, new_laptop):
    a, b = new_laptop("a"), new_laptop("b")
    engine.sync(a, world.server), engine.sync(b, world.server)
    ce.update_cohort(a, world.cohort, {FIELD: 180})
    ce.update_cohort(b, world.cohort, {FIELD: 0})
    engine.sync(a, world.server)
    report = engine.sync(b, world.server)
    assert report.conflicts == 1
    [c] = conflicts.list_conflicts(b)
    assert (c.field, c.base, c.mine, c.theirs) == (FIELD, None, 0, 180)
    assert field_label(c.field) == "Certification age limit"
    assert [show_value(v, FIELD) for v in (c.base, c.mine, c.theirs)] == [
        "The default, 3 months",
        "No limit",
        "6 months",
    ]
    conflicts.keep_mine(b, c.id)
    engine.sync(b, world.server)
    assert ce.get_cohort(world.server, world.cohort).certification_max_age_days == 0


def test_a_limit_out_of_range_is_refused_before_it_is_queued(world, new_laptop):
    laptop = new_laptop("a")
    engine.sync(laptop, world.server)
    for bad, words in ((-1, "cannot be negative"), (3651, "at most 3650 days"), ("soon", "not a number")):
        with pytest.raises(ValidationError, match=words):
            ce.update_cohort(laptop, world.cohort, {FIELD: bad})
    assert outbox(laptop) == []
