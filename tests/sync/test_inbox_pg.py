"""The conflict inbox on conflicts a real server makes: learner and cohort names, only the fields a
person edits, the base value, the server's value of a refused change, and one decision for a parent
and everything that waits under it."""

from __future__ import annotations

import pytest

from cohortdesk.services.configuration import edits as ce
from cohortdesk.services.configuration import sync_actions as admin_sync
from cohortdesk.services.sync import conflicts, engine, sync_status
from tests.sync.helpers import assert_same_as_server, server_sql

pytestmark = pytest.mark.pg


def _entries(laptop):
    return {e.kind: e for e in admin_sync.conflict_entries(laptop)}


@pytest.mark.parametrize("choice", ["keep_mine", "keep_theirs"])
def test_learners_under_a_sponsor_deleted_on_the_server_are_one_decision(world, new_laptop, choice):
    laptop = new_laptop("a")
    sponsor = ce.create_sponsor(world.server, ce.NewSponsor(world.institution, "Limpopo Mining")).row
    engine.sync(laptop, world.server)
    # offline: a cohort for the sponsor and its learners; meanwhile the sponsor is deleted on the server
    cohort = ce.create_cohort(
        laptop, ce.NewCohort(world.institution, "Mining 2026", "learnership", sponsor_id=sponsor.id)
    ).row
    ce.enroll_many(laptop, [ce.NewEnrollment(cohort.id, u, {"city": "Polokwane"}) for u in world.users])
    ce.delete_sponsor(world.server, sponsor.id)
    engine.sync(laptop, world.server)
    [entry] = admin_sync.conflict_entries(laptop)
    assert entry.title == "Cohort “Mining 2026” and 4 enrollments"
    assert len(entry.conflict_ids) == 5 and entry.kind == "parent_deleted"
    assert entry.contents().startswith("enrollment of Learner0 Test; enrollment of Learner1 Test")
    assert entry.children[0].what == "enrollment of Learner0 Test in “Mining 2026”"
    fields = [line.label for line in entry.lines]
    assert "Name" in fields and "Sponsor" in fields
    assert not {"Claim token", "Row version", "Uuid", "Pending since"} & set(fields)
    sponsor_line = next(line for line in entry.lines if line.label == "Sponsor")
    assert sponsor_line.mine == "Limpopo Mining"  # a name, not an id

    resolved = conflicts.resolve_group(laptop, entry.conflict_ids, choice)
    assert resolved.status == ("kept_mine" if choice == "keep_mine" else "kept_theirs")
    assert sync_status(laptop).conflicts == 0
    engine.sync(laptop, world.server)
    live = server_sql(
        world.server,
        "SELECT count(*) FROM cohort_enrollments WHERE cohort_id = :c AND deleted_at IS NULL",
        c=cohort.id,
    )[0][0]
    assert live == (4 if choice == "keep_mine" else 0)
    assert sync_status(laptop).describe() == "0 changes waiting · 0 conflicts"
    assert_same_as_server(laptop, world.server, world.account)


def test_a_deleted_row_shows_its_base_and_a_refused_change_the_servers_value(world, new_laptop):
    laptop = new_laptop("a")
    enrolled = ce.enroll(world.server, ce.NewEnrollment(world.cohort, world.users[0], {"city": "Durban"})).row
    kept = ce.create_sponsor(world.server, ce.NewSponsor(world.institution, "Kasi Retail")).row
    gone = ce.create_sponsor(world.server, ce.NewSponsor(world.institution, "Gone Ltd")).row
    ce.update_cohort(world.server, world.cohort, {"sponsor_id": kept.id})
    engine.sync(laptop, world.server)
    ce.update_enrollment(laptop, enrolled.id, {"student_data": {"city": "Musina"}})
    ce.update_cohort(laptop, world.cohort, {"sponsor_id": gone.id})
    ce.delete_enrollment(world.server, enrolled.id)
    ce.delete_sponsor(world.server, gone.id)
    engine.sync(laptop, world.server)
    entries = _entries(laptop)

    deleted = entries["row_deleted"]
    assert deleted.what == "enrollment of Learner0 Test in “Server cohort”"
    [line] = deleted.lines
    assert (line.label, line.base, line.mine, line.theirs) == (
        "Student: city",
        "Durban",
        "Musina",
        "(deleted); it was Durban",
    )

    refused = entries["rejected"]
    assert refused.what == "cohort “Server cohort”"
    [line] = refused.lines
    assert (line.label, line.base, line.mine, line.theirs) == (
        "Sponsor",
        "Kasi Retail",
        "Gone Ltd",
        "Kasi Retail",
    )


def test_a_cohort_delete_meeting_an_online_enrollment_says_what_it_holds(world, new_laptop):
    laptop = new_laptop("a")
    engine.sync(laptop, world.server)
    for user in world.users[:3]:
        ce.enroll(laptop, ce.NewEnrollment(world.cohort, user))
    engine.sync(laptop, world.server)
    ce.delete_cohort(laptop, world.cohort)  # offline: three enrollment deletes, then the cohort's
    ce.enroll(world.server, ce.NewEnrollment(world.cohort, world.users[3]))  # meanwhile, online
    engine.sync(laptop, world.server)
    [entry] = admin_sync.conflict_entries(laptop)
    assert entry.what == "cohort “Server cohort”" and entry.kind == "delete_vs_edit"
    lines = {line.label: line for line in entry.lines}
    mine = lines["Deleted with it by you"]
    assert mine.mine == "3 enrollments: Learner0 Test, Learner1 Test, Learner2 Test"
    assert mine.theirs == "kept: none of your delete was applied"
    assert lines["Still in it on the server"].theirs == "1 enrollment: Learner3 Test"
    conflicts.resolve_group(laptop, entry.conflict_ids, "keep_theirs")  # Keep it: all four stay
    engine.sync(laptop, world.server)
    assert len(ce.list_enrollments(laptop, world.cohort)) == 4
    assert_same_as_server(laptop, world.server, world.account)
