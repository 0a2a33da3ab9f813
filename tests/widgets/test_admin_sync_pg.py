"""Sync now and the conflict inbox against a real PostgreSQL server and two laptop stores."""

from __future__ import annotations

import pytest

from cohortdesk.services.configuration import edits as ce
from cohortdesk.services.configuration import sync_actions as admin_sync
from cohortdesk.services.sync import engine
from cohortdesk.views.admin.conflict_inbox import ConflictInboxDialog
from cohortdesk.views.admin.sync_status import SyncStatusIndicator
from tests.sync.conftest import (  # noqa: F401
    new_laptop,
    server_url,
    world,  # noqa: F401
)


@pytest.mark.pg
def test_sync_now_then_resolve_a_real_conflict(qtbot, runner, world, new_laptop, monkeypatch):  # noqa: F811
    monkeypatch.setenv(admin_sync.SERVER_ENV, world.server.url.render_as_string(hide_password=False))
    other, mine = new_laptop("other"), new_laptop("mine")
    engine.sync(other, world.server)
    indicator = SyncStatusIndicator(runner, mine, poll=False)
    qtbot.addWidget(indicator)
    assert "Local only" in indicator.state_label.text()
    indicator.sync_button.click()  # first sync pairs the laptop (server from the environment)
    assert "Online" in indicator.state_label.text()
    assert indicator.counts_button.text() == "0 changes waiting · 0 conflicts"
    assert indicator.last_label.text() == "Last synced just now"
    assert indicator.last_report is not None and indicator.last_report.pulled > 0

    ce.update_cohort(other, world.cohort, {"name": "Name from the office"})
    engine.sync(other, world.server)
    ce.update_cohort(mine, world.cohort, {"name": "Name from the laptop"})
    indicator.refresh()
    assert indicator.counts_button.text() == "1 change waiting · 0 conflicts"
    indicator.sync_button.click()
    assert indicator.counts_button.text() == "0 changes waiting · 1 conflict"

    dialog = ConflictInboxDialog(runner, mine)
    qtbot.addWidget(dialog)
    dialog.resolved.connect(lambda _r: indicator.refresh())
    view = dialog.current_view()
    assert view.entry.lines[0].mine == "Name from the laptop"
    assert view.entry.lines[0].theirs == "Name from the office"
    assert "changed on the server by postgres" in view.entry.timing
    [conflict_id] = view.entry.conflict_ids
    view.line_buttons[conflict_id]["keep_mine"].click()
    assert dialog.list.count() == 0
    assert indicator.counts_button.text() == "2 changes waiting · 0 conflicts"
    indicator.sync_button.click()
    assert ce.get_cohort(world.server, world.cohort).name == "Name from the laptop"
    assert indicator.counts_button.text() == "0 changes waiting · 0 conflicts"


@pytest.mark.pg
def test_indicator_on_a_direct_server_connection(qtbot, runner, pg_db):
    indicator = SyncStatusIndicator(runner, pg_db)
    qtbot.addWidget(indicator)
    assert "Connected to the server" in indicator.state_label.text()
    assert indicator.sync_button.isHidden() and indicator.counts_button.isHidden()


@pytest.mark.pg
def test_too_old_laptop_is_told_to_update_and_keeps_its_changes(
    qtbot,
    runner,
    world,  # noqa: F811
    new_laptop,  # noqa: F811
    monkeypatch,
    caplog,
):
    monkeypatch.setenv(admin_sync.SERVER_ENV, world.server.url.render_as_string(hide_password=False))
    laptop = new_laptop("old")
    engine.sync(laptop, world.server)
    ce.update_cohort(laptop, world.cohort, {"name": "Made on an old laptop"})
    with world.server.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE sync_schema SET min_client_schema = 99, current_client_schema = 99")
    indicator = SyncStatusIndicator(runner, laptop, poll=False)
    qtbot.addWidget(indicator)
    with caplog.at_level("WARNING"):
        indicator.sync_button.click()
    assert "Update CohortDesk" in indicator.state_label.text()
    assert "newer CohortDesk" in indicator.state_label.toolTip()
    assert indicator.counts_button.text() == "Update needed · 1 change waiting"  # never "0 conflicts"
    assert any("Update CohortDesk, then sync again" in r.getMessage() for r in caplog.records)

    with world.server.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE sync_schema SET min_client_schema = 1, current_client_schema = 1")
    indicator.sync_button.click()  # after the update: the kept change goes through
    assert "Online" in indicator.state_label.text()
    assert indicator.counts_button.text() == "0 changes waiting · 0 conflicts"
    assert ce.get_cohort(world.server, world.cohort).name == "Made on an old laptop"
