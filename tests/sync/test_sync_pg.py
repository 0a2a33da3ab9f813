"""Push, pull and conflicts between laptop SQLite stores and a real PostgreSQL server."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from cohortdesk.cli import main
from cohortdesk.db import Database
from cohortdesk.errors import SchemaError, SyncError, SyncSchemaTooOld
from cohortdesk.services.configuration import edits as ce
from cohortdesk.services.sync import conflicts, engine, sync_status
from tests.sync.helpers import assert_same_as_server, outbox, server_sql

pytestmark = pytest.mark.pg


def _sync(laptop: Database, world, **kw):
    return engine.sync(laptop, world.server, **kw)


def test_first_sync_pairs_and_pulls_everything(world, new_laptop):
    laptop = new_laptop("a")
    report = _sync(laptop, world)
    assert report.pulled == 2 and report.reserved["cohorts"] == 50
    status = sync_status(laptop)
    assert status.paired and status.online and status.describe() == "0 changes waiting · 0 conflicts"
    assert [c.name for c in ce.list_cohorts(laptop)] == ["Server cohort"]
    assert [t.name for t in ce.list_templates(laptop, world.account)] == ["Learnership agreement"]
    assert_same_as_server(laptop, world.server, world.account)
    device = server_sql(world.server, "SELECT db_role, last_pulled_seq FROM sync_device")
    assert device == [("postgres", report.last_seq)]


def test_edits_to_different_fields_merge(world, new_laptop):
    a, b = new_laptop("a"), new_laptop("b")
    _sync(a, world), _sync(b, world)
    ce.update_cohort(a, world.cohort, {"name": "Renamed on A"})
    ce.update_cohort(b, world.cohort, {"student_count": 30, "end_date": "2027-01-31"})
    cs_row = ce.get_cohort(world.server, world.cohort)
    server_sql(
        world.server, "UPDATE cohorts SET sponsor_email = 'hr@sasol.example' WHERE id = :i", i=cs_row.id
    )
    assert _sync(a, world).applied == 1
    assert _sync(b, world).applied == 1
    _sync(a, world)
    merged = ce.get_cohort(world.server, world.cohort)
    assert (merged.name, merged.student_count, merged.sponsor_email) == (
        "Renamed on A",
        30,
        "hr@sasol.example",
    )
    for laptop in (a, b):
        assert_same_as_server(laptop, world.server, world.account)
        assert sync_status(laptop).conflicts == 0


def test_same_field_conflict_keep_mine_keep_theirs_and_edit(world, new_laptop):
    a, b = new_laptop("a"), new_laptop("b")
    _sync(a, world), _sync(b, world)
    ce.update_cohort(a, world.cohort, {"name": "Name from A", "student_count": 12})
    ce.update_cohort(b, world.cohort, {"name": "Name from B"})
    _sync(a, world)
    report = _sync(b, world)
    assert report.conflicts == 1 and report.open_conflicts == 1
    [c] = conflicts.list_conflicts(b)
    assert (c.kind, c.field, c.base, c.mine, c.theirs) == (
        "field_conflict",
        "name",
        "Server cohort",
        "Name from B",
        "Name from A",
    )
    assert c.what == "cohort “Name from A”" and "changed on the server by postgres" in c.timing()
    assert ce.get_cohort(b, world.cohort).name == "Name from A"  # the store follows the server
    conflicts.keep_mine(b, c.id)
    assert sync_status(b).describe() == "2 changes waiting · 0 conflicts"
    _sync(b, world)
    assert ce.get_cohort(world.server, world.cohort).name == "Name from B"
    resolved = server_sql(world.server, "SELECT status, resolved_by, resolution FROM sync_conflict")
    assert resolved == [("kept_mine", "postgres", {"action": "keep_mine"})]

    # again, resolved with Keep theirs, then with Edit
    ce.update_cohort(a, world.cohort, {"name": "A again"})
    server_sql(world.server, "UPDATE cohorts SET name = 'Server again' WHERE id = :i", i=world.cohort)
    _sync(a, world)
    [c] = conflicts.list_conflicts(a)
    conflicts.keep_theirs(a, c.id)
    _sync(a, world)
    assert ce.get_cohort(world.server, world.cohort).name == "Server again"
    ce.update_cohort(a, world.cohort, {"student_count": 99})
    server_sql(world.server, "UPDATE cohorts SET student_count = 5 WHERE id = :i", i=world.cohort)
    _sync(a, world)
    [c] = conflicts.list_conflicts(a)
    conflicts.edit(a, c.id, 50)
    _sync(a, world)
    _sync(b, world)
    assert ce.get_cohort(world.server, world.cohort).student_count == 50
    for laptop in (a, b):
        assert_same_as_server(laptop, world.server, world.account)
    statuses = server_sql(world.server, "SELECT status FROM sync_conflict ORDER BY id")
    assert [s for (s,) in statuses] == ["kept_mine", "kept_theirs", "merged"]


def test_two_laptops_create_cohorts_offline_without_colliding(world, new_laptop):
    a, b = new_laptop("a"), new_laptop("b")
    _sync(a, world), _sync(b, world)
    made_a = [
        ce.create_cohort(a, ce.NewCohort(world.institution, f"A{i}", "learnership")).row.id for i in range(20)
    ]
    made_b = [
        ce.create_cohort(b, ce.NewCohort(world.institution, f"B{i}", "learnership")).row.id for i in range(20)
    ]
    online = ce.create_cohort(world.server, ce.NewCohort(world.institution, "Online", "candidacy")).row
    assert not set(made_a) & set(made_b) and online.id not in set(made_a) | set(made_b)
    assert _sync(a, world).applied == 20 and _sync(b, world).applied == 20
    _sync(a, world)
    names = sorted(c.name for c in ce.list_cohorts(world.server))
    assert len(names) == 42 and "Online" in names
    for laptop in (a, b):
        assert_same_as_server(laptop, world.server, world.account)
    used = server_sql(world.server, "SELECT count(*) FROM sync_id_reservation WHERE used_at IS NOT NULL")
    assert used == [(40,)]


def test_enrollments_and_tombstones_travel(world, new_laptop):
    a, b = new_laptop("a"), new_laptop("b")
    _sync(a, world), _sync(b, world)
    sponsor = ce.create_sponsor(a, ce.NewSponsor(world.institution, "Sasol", "hr@sasol.example")).row
    cohort = ce.create_cohort(
        a, ce.NewCohort(world.institution, "Q1", "learnership", sponsor_id=sponsor.id)
    ).row
    enrolled = ce.enroll_many(
        a, [ce.NewEnrollment(cohort.id, u, student_data={"city": "Durban"}) for u in world.users]
    )
    _sync(a, world)
    _sync(b, world)
    assert len(ce.list_enrollments(b, cohort.id)) == 4
    ce.delete_enrollment(b, enrolled.rows[0].id)
    ce.update_enrollment(b, enrolled.rows[1].id, {"student_data": {"city": "Durban", "gender": "F"}})
    _sync(b, world)
    _sync(a, world)
    assert len(ce.list_enrollments(a, cohort.id)) == 3
    assert ce.get_enrollment(a, enrolled.rows[1].id).student_data == {"city": "Durban", "gender": "F"}
    # the server deletes a cohort (a tombstone, as every deletion on a synced table must be)
    server_sql(world.server, "UPDATE cohorts SET deleted_at = now() WHERE id = :i", i=world.cohort)
    with pytest.raises(DBAPIError, match="never deleted"):
        server_sql(world.server, "DELETE FROM cohorts WHERE id = :i", i=world.cohort)
    _sync(a, world)
    assert world.cohort not in {c.id for c in ce.list_cohorts(a)}
    for laptop in (a, b):
        _sync(laptop, world)
        assert_same_as_server(laptop, world.server, world.account)


def test_edit_of_a_row_deleted_on_the_server(world, new_laptop):
    a = new_laptop("a")
    _sync(a, world)
    ce.update_cohort(a, world.cohort, {"name": "Edited offline"})
    server_sql(world.server, "UPDATE cohorts SET deleted_at = now() WHERE id = :i", i=world.cohort)
    _sync(a, world)
    [c] = conflicts.list_conflicts(a)
    assert c.kind == "row_deleted" and c.mine == {"name": "Edited offline"}
    assert c.choices["keep_mine"] == "Restore and apply my change"
    assert ce.list_cohorts(a) == []
    conflicts.keep_mine(a, c.id)
    _sync(a, world)
    restored = ce.get_cohort(world.server, world.cohort)
    assert restored.name == "Edited offline"
    assert server_sql(world.server, "SELECT deleted_at FROM cohorts WHERE id = :i", i=world.cohort) == [
        (None,)
    ]
    assert_same_as_server(a, world.server, world.account)


def test_enrollment_under_a_cohort_deleted_on_the_server(world, new_laptop):
    a = new_laptop("a")
    _sync(a, world)
    made = ce.enroll(
        a, ce.NewEnrollment(world.cohort, world.users[0], student_data={"city": "Polokwane"})
    ).row
    ce.update_enrollment(a, made.id, {"student_data": {"city": "Tzaneen"}})  # folded into the waiting row
    server_sql(world.server, "UPDATE cohorts SET deleted_at = now() WHERE id = :i", i=world.cohort)
    report = _sync(a, world)
    assert report.conflicts == 2
    [c] = conflicts.list_conflicts(a)
    assert c.kind == "parent_deleted" and c.mine["student_data"] == {"city": "Tzaneen"}
    assert ce.list_enrollments(a, world.cohort) == []
    with a.engine.connect() as conn:  # the row the server does not have left the store; the inbox keeps it
        assert conn.execute(text("SELECT count(*) FROM cohort_enrollments")).scalar() == 0
    conflicts.keep_mine(a, c.id)
    _sync(a, world)
    [enrollment] = ce.list_enrollments(world.server, world.cohort)
    assert enrollment.id == made.id and enrollment.student_data == {"city": "Tzaneen"}
    assert_same_as_server(a, world.server, world.account)


def test_same_learner_enrolled_on_two_laptops_is_a_duplicate(world, new_laptop):
    a, b = new_laptop("a"), new_laptop("b")
    _sync(a, world), _sync(b, world)
    ce.enroll(a, ce.NewEnrollment(world.cohort, world.users[0], student_data={"city": "Durban"}))
    ce.enroll(b, ce.NewEnrollment(world.cohort, world.users[0], student_data={"gender": "M"}))
    _sync(a, world)
    _sync(b, world)
    [c] = conflicts.list_conflicts(b)
    assert c.kind == "duplicate" and "already enrolled" in c.detail
    conflicts.keep_mine(b, c.id)  # merge into the existing enrollment
    _sync(b, world)
    _sync(a, world)
    [enrollment] = ce.list_enrollments(world.server, world.cohort)
    assert enrollment.student_data == {"city": "Durban", "gender": "M"}
    for laptop in (a, b):
        assert_same_as_server(laptop, world.server, world.account)


def test_new_rows_of_a_batch_written_together_and_a_duplicate_among_them(world, new_laptop):
    """New rows of a batch go to the server in one multi-row INSERT; when one of them is refused (a
    learner already enrolled), the others still apply and only that one waits in the inbox."""
    a, b = new_laptop("a"), new_laptop("b")
    _sync(a, world), _sync(b, world)
    ce.enroll(b, ce.NewEnrollment(world.cohort, world.users[2]))
    _sync(b, world)
    made = ce.enroll_many(a, [ce.NewEnrollment(world.cohort, u) for u in world.users]).rows
    ce.update_enrollment(a, made[0].id, {"student_data": {"city": "Upington"}})  # reads a new row
    report = _sync(a, world)
    assert (report.batches, report.applied, report.conflicts) == (1, 4, 1)
    [c] = conflicts.list_conflicts(a)
    assert (c.kind, c.row_id) == ("duplicate", made[2].id)
    on_server = {e.user_id: e for e in ce.list_enrollments(world.server, world.cohort)}
    assert sorted(on_server) == sorted(world.users)
    assert on_server[world.users[0]].student_data == {"city": "Upington"}
    used = server_sql(
        world.server,
        "SELECT count(*) FROM sync_id_reservation WHERE table_name = 'cohort_enrollments' AND used_at IS NOT NULL",
    )
    assert used == [(4,)]  # one id from b, three from a (the duplicate's id stays unused)
    assert_same_as_server(a, world.server, world.account)


def test_delete_against_an_edit_keeps_both(world, new_laptop):
    a = new_laptop("a")
    _sync(a, world)
    ce.update_cohort(a, world.cohort, {"student_count": 3})
    ce.delete_cohort(a, world.cohort)  # its own earlier edit does not count against the delete
    assert _sync(a, world).applied == 2
    cohort = ce.create_cohort(a, ce.NewCohort(world.institution, "Keep me", "learnership")).row
    _sync(a, world)
    ce.delete_cohort(a, cohort.id)
    server_sql(world.server, "UPDATE cohorts SET name = 'Renamed online' WHERE id = :i", i=cohort.id)
    _sync(a, world)
    [c] = conflicts.list_conflicts(a)
    assert c.kind == "delete_vs_edit" and c.theirs == {"name": "Renamed online"}
    assert [x.name for x in ce.list_cohorts(a)] == ["Renamed online"]
    conflicts.keep_mine(a, c.id)
    _sync(a, world)
    assert [x.name for x in ce.list_cohorts(world.server)] == []
    assert_same_as_server(a, world.server, world.account)


def test_state_guard_rechecked_on_the_server(world, new_laptop):
    a = new_laptop("a")
    _sync(a, world)
    ce.update_cohort(
        a,
        world.cohort,
        {
            "main_template_id": world.template,
            "student_count": 5,
            "start_date": "2026-02-01",
            "end_date": "2026-12-01",
        },
    )
    _sync(a, world)
    ce.change_cohort_state(a, world.cohort, "active")
    server_sql(
        world.server, "UPDATE cohorts SET required_document_types = '[]' WHERE id = :i", i=world.cohort
    )
    _sync(a, world)
    [c] = conflicts.list_conflicts(a)
    assert c.kind == "rejected" and "required document type" in c.detail
    assert ce.get_cohort(a, world.cohort).state == "draft"
    ce.update_cohort(a, world.cohort, {"required_document_types": ["id_document"]})
    conflicts.keep_mine(a, c.id)  # send the activation again
    _sync(a, world)
    assert ce.get_cohort(world.server, world.cohort).state == "active"
    assert_same_as_server(a, world.server, world.account)


def test_insert_with_an_id_not_reserved_for_the_device_is_rejected(world, new_laptop):
    a, b = new_laptop("a"), new_laptop("b")
    _sync(a, world), _sync(b, world)
    stolen = server_sql(
        world.server,
        "SELECT min(id) FROM sync_id_reservation r JOIN sync_device d USING (device_id) WHERE table_name = 'cohorts' AND d.device_id <> (SELECT device_id FROM sync_device ORDER BY created_at LIMIT 1)",
    )[0][0]
    with a.session() as s:
        s.execute(text("DELETE FROM sync_id_pool WHERE table_name = 'cohorts'"))
        s.execute(text("INSERT INTO sync_id_pool (table_name, id) VALUES ('cohorts', :i)"), {"i": stolen})
    ce.create_cohort(a, ce.NewCohort(world.institution, "Forged", "learnership"))
    assert _sync(a, world).rejected == 1
    [c] = conflicts.list_conflicts(a)
    assert "not reserved for this laptop" in c.detail
    assert_same_as_server(a, world.server, world.account)


def test_too_old_laptop_is_told_to_update_and_keeps_its_outbox(world, new_laptop, capsys):
    a = new_laptop("a")
    _sync(a, world)
    ce.update_cohort(a, world.cohort, {"name": "Waiting"})
    server_sql(world.server, "UPDATE sync_schema SET min_client_schema = 99, current_client_schema = 99")
    with pytest.raises(SyncSchemaTooOld, match="Update CohortDesk") as info:
        _sync(a, world)
    assert info.value.waiting == 1
    assert [e.status for e in outbox(a)] == ["pending"]
    status = sync_status(a)
    assert status.waiting == 1 and status.online is False and "newer CohortDesk" in status.last_error
    assert status.needs_update

    # the terminal says the same, and keeps the change too
    local_url = a.url.render_as_string(hide_password=False)
    server_url = world.server.url.render_as_string(hide_password=False)
    assert main(["--url", local_url, "sync", "--server", server_url]) == 2
    assert "Update CohortDesk, then sync again: your 1 waiting change stays safely" in capsys.readouterr().err
    assert [e.status for e in outbox(a)] == ["pending"]
    server_sql(world.server, "UPDATE sync_schema SET min_client_schema = 1, current_client_schema = 1")
    assert _sync(a, world).applied == 1
    assert not sync_status(a).needs_update
    assert ce.get_cohort(world.server, world.cohort).name == "Waiting"


def test_push_is_idempotent_when_the_acknowledgement_is_lost(world, new_laptop):
    a = new_laptop("a")
    _sync(a, world)
    for i in range(7):
        ce.update_cohort(a, world.cohort, {"student_count": i + 1})
    ce.create_cohort(a, ce.NewCohort(world.institution, "New", "learnership"))
    with pytest.raises(RuntimeError):

        def crash(batch: int) -> None:
            raise RuntimeError("connection dropped after the server committed")

        _sync(a, world, batch_size=3, on_batch_pushed=crash)
    assert [e.status for e in outbox(a)][:3] == ["sent"] * 3
    report = _sync(a, world, batch_size=3)
    assert (report.duplicates, report.applied) == (3, 5)
    assert ce.get_cohort(world.server, world.cohort).student_count == 7
    assert len(ce.list_cohorts(world.server)) == 2
    assert_same_as_server(a, world.server, world.account)


def test_cancel_between_batches_keeps_the_rest(world, new_laptop):
    a = new_laptop("a")
    _sync(a, world)
    for i in range(6):
        ce.update_cohort(a, world.cohort, {"student_count": i + 1})
    batches: list[int] = []
    report = _sync(
        a, world, batch_size=2, on_batch_pushed=batches.append, cancelled=lambda: len(batches) >= 1
    )
    assert report.cancelled and report.pushed == 2 and report.waiting == 4
    report = _sync(a, world, batch_size=2)
    assert not report.cancelled and report.applied == 4 and report.waiting == 0


def test_gap_and_restored_store_are_refused(world, new_laptop):
    a = new_laptop("a")
    _sync(a, world)
    ce.update_cohort(a, world.cohort, {"name": "One"})
    ce.update_cohort(a, world.cohort, {"name": "Two"})
    with a.session() as s:
        s.execute(
            text("DELETE FROM sync_outbox WHERE mutation_id = (SELECT min(mutation_id) FROM sync_outbox)")
        )
    with pytest.raises(SyncError, match="missing"):
        _sync(a, world)
    assert [e.status for e in outbox(a)] == ["sent"]
    with a.session() as s:
        s.execute(text("UPDATE sync_state SET last_mutation_id = 0"))
        s.execute(text("DELETE FROM sync_outbox"))
    server_sql(world.server, "UPDATE sync_device SET last_mutation_id = 5")
    with pytest.raises(SyncError, match="restored from an older copy"):
        _sync(a, world)


def test_store_with_local_data_cannot_pair(world, new_laptop):
    a = new_laptop("a")
    from tests import factories

    acc = factories.account(a)
    ce.create_institution(a, ce.NewInstitution(account_id=acc, name="Local only"))
    with pytest.raises(SyncError, match="cannot start syncing"):
        _sync(a, world)


def test_clock_skew_warning(world, new_laptop, monkeypatch):
    from datetime import timedelta

    a = new_laptop("a")
    real_now = engine._now
    monkeypatch.setattr(engine, "_now", lambda: real_now() + timedelta(minutes=9))
    report = _sync(a, world)
    assert any("minutes ahead of the server" in w for w in report.warnings)


def test_change_counter_serialises_writers_until_commit(world):
    """A writer holding counter value n blocks the next writer until it commits, so a reader's cursor
    can never pass a value that is still invisible."""
    other = Database(world.server.url)
    try:
        with world.server.engine.connect() as first, other.engine.connect() as second:
            first.execute(text("UPDATE cohorts SET name = 'T1' WHERE id = :i"), {"i": world.cohort})
            seq = first.execute(
                text("SELECT change_seq FROM cohorts WHERE id = :i"), {"i": world.cohort}
            ).scalar()
            second.execute(text("SET lock_timeout = '300ms'"))
            with pytest.raises(DBAPIError, match="lock timeout"):
                second.execute(
                    text("UPDATE institutions SET name = 'T2' WHERE id = :i"), {"i": world.institution}
                )
            second.rollback()
            first.commit()
            second.execute(
                text("UPDATE institutions SET name = 'T2' WHERE id = :i"), {"i": world.institution}
            )
            later = second.execute(
                text("SELECT change_seq FROM institutions WHERE id = :i"), {"i": world.institution}
            ).scalar()
            second.commit()
        assert later == seq + 1
        row = server_sql(
            world.server, "SELECT row_version, updated_by FROM cohorts WHERE id = :i", i=world.cohort
        )
        assert row == [(2, "postgres")]
    finally:
        other.dispose()


def test_cli_sync_status_and_export(world, new_laptop, tmp_path, capsys):
    laptop = new_laptop("cli")
    local_url = laptop.url.render_as_string(hide_password=False)
    server_url = world.server.url.render_as_string(hide_password=False)
    assert main(["--url", local_url, "sync", "--server", server_url]) == 0
    assert "received 2 rows" in capsys.readouterr().out
    ce.update_cohort(laptop, world.cohort, {"name": "From the terminal"})
    assert main(["--url", local_url, "sync", "--status"]) == 0
    assert "1 change waiting · 0 conflicts" in capsys.readouterr().out
    target = tmp_path / "unsynced.json"
    assert main(["--url", local_url, "sync", "--export", str(target)]) == 0
    assert '"name": [' in target.read_text()
    assert main(["--url", local_url, "sync"]) == 0  # the server was remembered
    captured = capsys.readouterr()
    assert "1 applied" in captured.out
    assert ce.get_cohort(world.server, world.cohort).name == "From the terminal"


def test_a_server_at_an_unknown_schema_revision_is_refused(world, new_laptop, capsys):
    a = new_laptop("a")
    _sync(a, world)
    ce.update_cohort(a, world.cohort, {"name": "Waiting"})
    (known,) = server_sql(world.server, "SELECT version_num FROM cohortdesk_alembic_version")[0]
    server_sql(world.server, "UPDATE cohortdesk_alembic_version SET version_num = '0999_from_the_future'")
    with pytest.raises(SchemaError, match="0999_from_the_future"):
        _sync(a, world)
    assert [e.status for e in outbox(a)] == ["pending"]  # nothing was sent
    assert ce.get_cohort(world.server, world.cohort).name == "Server cohort"
    assert sync_status(a).needs_update
    local_url = a.url.render_as_string(hide_password=False)
    server_url = world.server.url.render_as_string(hide_password=False)
    assert main(["--url", local_url, "sync", "--server", server_url]) == 2
    assert "does not know" in capsys.readouterr().err
    server_sql(world.server, "UPDATE cohortdesk_alembic_version SET version_num = :v", v=known)
    assert _sync(a, world).applied == 1


def test_a_sync_that_fails_is_shown_as_failed_not_as_zero_conflicts(world, new_laptop, capsys):
    a = new_laptop("a")
    _sync(a, world)
    ce.create_cohort(world.server, ce.NewCohort(world.institution, "Made on the server", "learnership"))
    with a.engine.begin() as conn:  # the laptop's store refuses the pulled row (as a foreign key once did)
        conn.exec_driver_sql(
            "CREATE TRIGGER refuse_pull BEFORE INSERT ON cohorts BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    with pytest.raises(SyncError, match="this laptop's store refused it"):
        _sync(a, world)
    status = sync_status(a)
    assert status.failed and not status.offline
    assert status.describe() == "Last sync failed · 0 changes waiting"
    local_url = a.url.render_as_string(hide_password=False)
    assert main(["--url", local_url, "sync"]) == 2
    assert "The sync stopped" in capsys.readouterr().err
    with a.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER refuse_pull")
    _sync(a, world)
    assert sync_status(a).describe() == "0 changes waiting · 0 conflicts"
    assert_same_as_server(a, world.server, world.account)


def test_two_laptops_editing_different_keys_of_one_learner_both_win(world, new_laptop):
    details = {"city": "Durban", "phone": "0821234567", "gender": "F", "province": "5"}
    enrolled = ce.enroll(world.server, ce.NewEnrollment(world.cohort, world.users[0], details)).row
    a, b = new_laptop("a"), new_laptop("b")
    _sync(a, world), _sync(b, world)
    ce.update_enrollment(a, enrolled.id, {"student_data": {"city": "Musina"}})
    ce.update_enrollment(b, enrolled.id, {"student_data": {"phone": "0825550000"}})
    assert [json.loads(e.changes_json) for e in outbox(a)] == [{"student_data.city": ["Durban", "Musina"]}]
    assert (_sync(a, world).applied, _sync(b, world).applied) == (1, 1)
    _sync(a, world)
    expected = {**details, "city": "Musina", "phone": "0825550000"}
    assert ce.get_enrollment(world.server, enrolled.id).student_data == expected
    for laptop in (a, b):
        assert_same_as_server(laptop, world.server, world.account)
