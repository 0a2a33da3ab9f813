"""What the server's own rules refuse reaches the laptop's inbox: an enrollment made offline in a
cohort cancelled meanwhile, and an offline cohort delete while a learner was enrolled online (one
conflict for the whole delete; nothing of it applied)."""

from __future__ import annotations

import pytest

from cohortdesk.services.configuration import edits as ce
from cohortdesk.services.sync import conflicts, engine

pytestmark = pytest.mark.pg


def test_an_enrollment_made_offline_in_a_cohort_cancelled_meanwhile_is_refused_in_the_inbox(
    world, new_laptop
):
    a = new_laptop("a")
    engine.sync(a, world.server)
    ce.enroll(a, ce.NewEnrollment(world.cohort, world.users[0]))
    ce.change_cohort_state(world.server, world.cohort, "cancelled")
    report = engine.sync(a, world.server)
    assert report.rejected == 1
    [refused] = conflicts.list_conflicts(a)
    assert refused.kind == "rejected" and "cancelled" in refused.detail
    assert ce.list_enrollments(world.server, world.cohort) == []


def test_an_offline_cohort_delete_meeting_an_online_enrollment_is_one_conflict(world, new_laptop):
    a = new_laptop("a")
    engine.sync(a, world.server)
    for user in world.users[:3]:
        ce.enroll(a, ce.NewEnrollment(world.cohort, user))
    engine.sync(a, world.server)
    ce.delete_cohort(a, world.cohort)  # offline: three enrollment deletes, then the cohort's
    ce.enroll(world.server, ce.NewEnrollment(world.cohort, world.users[3]))  # meanwhile, online
    report = engine.sync(a, world.server)
    assert report.applied == 0 and report.conflicts == 4
    [conflict] = conflicts.list_conflicts(a)
    assert conflict.kind == "delete_vs_edit" and conflict.table_name == "cohorts"
    assert "1 live enrollment" in conflict.detail and "3 enrollment(s)" in conflict.detail
    assert ce.get_cohort(world.server, world.cohort).id == world.cohort  # still live
    assert len(ce.list_enrollments(world.server, world.cohort)) == 4  # nothing half deleted
