"""The configuration write path on a laptop store: row and outbox entry in one transaction, chained
edits, reserved ids, guards, tombstones (no server needed)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from cohortdesk.db import Database
from cohortdesk.errors import InvalidTransition, NotFoundError, SyncError, ValidationError
from cohortdesk.models import SyncOutbox
from cohortdesk.services.configuration import edits as ce
from cohortdesk.services.sync import local, sync_status
from tests import factories


@pytest.fixture
def world(sqlite_db: Database):
    acc = factories.account(sqlite_db)
    user = factories.user(sqlite_db, acc)
    template = factories.template(sqlite_db, acc, user)
    inst = ce.create_institution(sqlite_db, ce.NewInstitution(account_id=acc, name="Acme Training")).row
    return {"db": sqlite_db, "account": acc, "user": user, "template": template, "institution": inst}


def _pair(db: Database, account: int, pools: dict[str, list[int]]) -> None:
    with db.session() as s:
        local.update_state(s, account_id=account, server_url="postgresql://server/cohortdesk")
        for table, ids in pools.items():
            local.add_to_pool(s, table, ids)


def _outbox(db: Database) -> list:
    table = SyncOutbox.__table__
    with db.read_session() as s:
        return list(s.execute(select(table).order_by(table.c.mutation_id)))


def test_unpaired_store_queues_nothing(world):
    db = world["db"]
    cohort = ce.create_cohort(db, ce.NewCohort(world["institution"].id, "Q1", "learnership")).row
    edit = ce.update_cohort(db, cohort.id, {"name": "Q1 2026"})
    assert edit.mutation_ids == () and _outbox(db) == []
    assert sync_status(db).paired is False


def test_edits_chain_in_the_outbox(world):
    db = world["db"]
    _pair(db, world["account"], {"cohorts": [500, 501]})
    cohort = ce.create_cohort(db, ce.NewCohort(world["institution"].id, "Q1", "learnership")).row
    assert cohort.id == 500
    ce.update_cohort(db, cohort.id, {"name": "Q1 2026", "student_count": 20})
    ce.update_cohort(db, cohort.id, {"name": "Q1 2026 (Durban)"})
    ce.update_cohort(db, cohort.id, {"name": "Q1 2026 (Durban)"})  # no change: nothing queued
    entries = _outbox(db)
    assert [e.op for e in entries] == ["insert", "update", "update"]
    assert entries[0].changes_json["name"] == "Q1" and entries[0].base_row_version is None
    assert entries[1].changes_json == {"name": ["Q1", "Q1 2026"], "student_count": [0, 20]}
    assert entries[2].changes_json == {"name": ["Q1 2026", "Q1 2026 (Durban)"]}
    assert entries[1].base_row_version == entries[2].base_row_version == 1
    ids = [e.mutation_id for e in entries]
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert sync_status(db).describe() == "3 changes waiting · 0 conflicts"


def test_mutation_ids_never_repeat_after_pruning(world):
    db = world["db"]
    _pair(db, world["account"], {})
    inst = world["institution"]
    first = ce.update_institution(db, inst.id, {"name": "Acme One"}).mutation_ids[0]
    with db.session() as s:
        s.execute(SyncOutbox.__table__.delete())
    second = ce.update_institution(db, inst.id, {"name": "Acme Two"}).mutation_ids[0]
    assert second == first + 1


def test_failed_edit_writes_neither_row_nor_outbox(world):
    db = world["db"]
    _pair(db, world["account"], {"cohorts": [500]})
    cohort = ce.create_cohort(db, ce.NewCohort(world["institution"].id, "Q1", "learnership")).row
    with pytest.raises(ValidationError, match="end_date"):
        ce.update_cohort(db, cohort.id, {"start_date": date(2026, 6, 1), "end_date": date(2026, 1, 1)})
    with pytest.raises(ValidationError, match="student_count"):
        ce.update_cohort(db, cohort.id, {"student_count": -3})
    with pytest.raises(ValidationError, match="state"):
        ce.update_cohort(db, cohort.id, {"state": "active"})
    assert ce.get_cohort(db, cohort.id).start_date is None
    assert len(_outbox(db)) == 1


def test_empty_pool_refuses_new_rows_offline(world):
    db = world["db"]
    _pair(db, world["account"], {"cohorts": [500]})
    ce.create_cohort(db, ce.NewCohort(world["institution"].id, "Q1", "learnership"))
    with pytest.raises(SyncError, match="reserved ids"):
        ce.create_cohort(db, ce.NewCohort(world["institution"].id, "Q2", "learnership"))
    assert [c.name for c in ce.list_cohorts(db)] == ["Q1"]


def test_state_change_guards_in_words(world):
    db = world["db"]
    _pair(db, world["account"], {"cohorts": [500]})
    cohort = ce.create_cohort(db, ce.NewCohort(world["institution"].id, "Q1", "learnership")).row
    blockers = ce.cohort_state_blockers(db, cohort.id, "active")
    assert "choose the main agreement template first" in blockers
    with pytest.raises(InvalidTransition, match="main agreement template"):
        ce.change_cohort_state(db, cohort.id, "active")
    ce.update_cohort(
        db,
        cohort.id,
        {
            "main_template_id": world["template"],
            "student_count": 10,
            "start_date": "2026-02-01",
            "end_date": "2026-12-31",
        },
    )
    active = ce.change_cohort_state(db, cohort.id, "active").row
    assert active.state == "active" and active.admin_signed_at is not None
    last = _outbox(db)[-1]
    assert last.op == "change_state" and last.changes_json["state"] == ["draft", "active"]


def test_settings_merge_per_key_and_reasons_validated(world):
    db = world["db"]
    _pair(db, world["account"], {})
    inst = world["institution"]
    reasons = [{"code": "blurry", "label": "Blurry", "message": "Please rescan."}]
    edit = ce.set_rejection_reasons(db, inst.id, reasons)
    assert ce.rejection_reasons(db, inst.id) == reasons
    assert _outbox(db)[-1].changes_json == {"settings.rejection_reasons": [None, reasons]}
    ce.update_institution(db, inst.id, {"settings": {**edit.row.settings, "hosting_location": "Durban"}})
    assert _outbox(db)[-1].changes_json == {"settings.hosting_location": [None, "Durban"]}
    with pytest.raises(ValidationError, match="used twice"):
        ce.set_rejection_reasons(db, inst.id, reasons * 2)


def test_enrollments_tombstones_and_cascade(world):
    db = world["db"]
    _pair(db, world["account"], {"cohorts": [500], "cohort_enrollments": [900, 901, 902]})
    cohort = ce.create_cohort(db, ce.NewCohort(world["institution"].id, "Q1", "learnership")).row
    other = factories.user(db, world["account"], "Sipho", "Dlamini")
    bulk = ce.enroll_many(
        db,
        [
            ce.NewEnrollment(cohort.id, world["user"], student_data={"city": "Durban"}),
            ce.NewEnrollment(cohort.id, other),
        ],
    )
    assert [r.id for r in bulk.rows] == [900, 901]
    with pytest.raises(ValidationError, match=r"rows\[1\].user_id"):
        ce.enroll_many(
            db,
            [
                ce.NewEnrollment(cohort.id, factories.user(db, world["account"])),
                ce.NewEnrollment(cohort.id, other),
            ],
        )
    edit = ce.update_enrollment(db, 900, {"student_data": {"city": "Cape Town", "gender": "F"}})
    assert edit.row.student_data == {"city": "Cape Town", "gender": "F"}
    ce.update_enrollment(db, 900, {"student_data": {"city": "Polokwane"}})  # a patch: gender stays
    assert ce.get_enrollment(db, 900).student_data == {"city": "Polokwane", "gender": "F"}
    assert _outbox(db)[-1].changes_json == {"student_data.city": ["Cape Town", "Polokwane"]}
    ce.update_enrollment(db, 900, {"student_data": {"gender": None}})  # None removes one key
    assert ce.get_enrollment(db, 900).student_data == {"city": "Polokwane"}
    assert _outbox(db)[-1].changes_json == {"student_data.gender": ["F", None]}
    ce.delete_enrollment(db, 901)
    again = ce.enroll(db, ce.NewEnrollment(cohort.id, other)).row  # a tombstone does not block re-enrolling
    assert again.id == 902
    deleted = ce.delete_cohort(db, cohort.id)
    assert len(deleted.mutation_ids) == 3  # two live enrollments, then the cohort
    assert ce.list_cohorts(db) == [] and ce.list_enrollments(db, cohort.id) == []
    with pytest.raises(NotFoundError):
        ce.get_cohort(db, cohort.id)
    with db.read_session() as s:
        assert s.scalar(select(func.count()).select_from(SyncOutbox).where(SyncOutbox.op == "delete")) == 4


def test_sponsor_in_use_cannot_be_deleted(world):
    db = world["db"]
    _pair(db, world["account"], {"cohorts": [500], "sponsors": [70]})
    sponsor = ce.create_sponsor(db, ce.NewSponsor(world["institution"].id, "Sasol", "hr@sasol.example")).row
    ce.create_cohort(db, ce.NewCohort(world["institution"].id, "Q1", "learnership", sponsor_id=sponsor.id))
    with pytest.raises(ValidationError, match="cohorts still use this sponsor"):
        ce.delete_sponsor(db, sponsor.id)
    assert ce.list_cohorts(db)[0].sponsor_email == "hr@sasol.example"
