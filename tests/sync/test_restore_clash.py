"""A restore that clashes with a row made meanwhile (the learner enrolled again) is refused with a
message on the laptop, and, when the clash only shows on the server, becomes a refused change in the
inbox instead of stopping every later sync."""

from __future__ import annotations

import pytest

from cohortdesk.errors import ConflictError
from cohortdesk.services.configuration import edits as ce
from cohortdesk.services.sync import conflicts, engine, sync_status
from tests.sync.helpers import assert_same_as_server

pytestmark = pytest.mark.pg


def _deleted_on_server_while_edited(world, laptop):
    engine.sync(laptop, world.server)
    first = ce.enroll(laptop, ce.NewEnrollment(world.cohort, world.users[0])).row
    engine.sync(laptop, world.server)
    ce.delete_enrollment(world.server, first.id)
    ce.update_enrollment(laptop, first.id, {"student_data": {"city": "Musina"}})
    engine.sync(laptop, world.server)
    [c] = conflicts.list_conflicts(laptop)
    assert c.kind == "row_deleted"
    return c


def test_restore_clashing_on_the_laptop_is_refused_in_words(world, new_laptop):
    a = new_laptop("a")
    c = _deleted_on_server_while_edited(world, a)
    ce.enroll(world.server, ce.NewEnrollment(world.cohort, world.users[0]))  # enrolled again
    engine.sync(a, world.server)
    with pytest.raises(ConflictError, match="cannot be restored"):
        conflicts.keep_mine(a, c.id)
    conflicts.keep_theirs(a, c.id)
    engine.sync(a, world.server)
    assert sync_status(a).describe() == "0 changes waiting · 0 conflicts"
    assert_same_as_server(a, world.server, world.account)


def test_restore_clashing_on_the_server_waits_in_the_inbox(world, new_laptop):
    a = new_laptop("a")
    c = _deleted_on_server_while_edited(world, a)
    conflicts.keep_mine(a, c.id)  # restored here; the server meanwhile enrolls the learner again
    ce.enroll(world.server, ce.NewEnrollment(world.cohort, world.users[0]))
    ce.update_cohort(a, world.cohort, {"student_count": 7})  # a later edit is not blocked
    report = engine.sync(a, world.server)
    assert report.rejected == 1 and report.waiting == 0
    [refused] = conflicts.list_conflicts(a)
    assert refused.kind == "rejected" and "refused" in refused.detail
    assert ce.get_cohort(world.server, world.cohort).student_count == 7
    conflicts.keep_theirs(a, refused.id)
    engine.sync(a, world.server)
    assert sync_status(a).describe() == "0 changes waiting · 0 conflicts"
    assert_same_as_server(a, world.server, world.account)
