"""The cohort dashboard window, opened from the workstation's cohort tree: figures read on the runner
(never on the GUI thread), switched to one cohort, charts drawn, errors in words."""

from __future__ import annotations

from PySide6.QtGui import QColor

from cohortdesk.models import Cohort
from cohortdesk.services.notify import outbox
from cohortdesk.services.reports import dashboard
from cohortdesk.views.dashboard import DashboardWindow
from cohortdesk.views.learner_tools import install_learner_tools
from cohortdesk.views.reminders import RemindDialog
from tests.widgets.conftest import settle


def _loaded(qtbot, window: DashboardWindow, cohort_id=None) -> None:
    qtbot.waitUntil(
        lambda: (
            window.dashboard is not None and window.dashboard.cohort_id == cohort_id and not window._loading
        ),
        timeout=15000,
    )


def test_dashboard_from_the_cohort_tree(qtbot, workstation, sql_guard):
    ws = workstation
    tools = install_learner_tools(ws.window)
    institution_id = ws.world["institution"]
    menu = tools.tree_menu(("institution", institution_id))
    (item,) = [a for a in menu.actions() if a.objectName() == "dashboardMenuItem"]
    assert item.text() == "Institution dashboard…"
    item.trigger()
    window = tools.dashboards[institution_id]
    qtbot.waitExposed(window)
    _loaded(qtbot, window)
    with sql_guard.paused():
        expected = dashboard.institution_dashboard(ws.db, institution_id)
    assert window.tiles["total"].value.text() == f"{expected.total:,}"
    assert window.tiles["active"].value.text() == f"{expected.active:,}"
    assert window.tiles["completed"].value.text() == f"{expected.completed:,}"
    assert window.heading.text() == expected.institution_name
    assert window.stuck_table.rowCount() == len(expected.stuck)
    assert len(window.stage_chart.bars) == len(expected.stages)
    image = window.stuck_chart.grab().toImage()
    colours = {
        image.pixelColor(x, y).name() for x in range(0, image.width(), 3) for y in range(0, image.height(), 3)
    }
    assert QColor("#d68910").name() in colours or not expected.stuck  # a "waiting for a check" segment

    # The same window switches to one cohort (the tree's cohort entry, or its scope chooser).
    cohort = expected.cohorts[0]
    tools.open_dashboard(("cohort", cohort.id))
    assert tools.dashboards[institution_id] is window
    _loaded(qtbot, window, cohort.id)
    assert window.scope.currentData() == cohort.id
    assert window.dashboard.scope_name == cohort.name
    settle(qtbot, ws.window)
    assert ws.errors == []


def test_remind_the_learners_missing_uploads_from_the_dashboard(qtbot, workstation, sql_guard):
    ws = workstation
    tools = install_learner_tools(ws.window)
    with sql_guard.paused(), ws.db.session() as s:  # the internship starts: its learners are active
        s.get(Cohort, ws.world["cohorts"]["internship"]).state = "active"
    window = tools.open_dashboard(("institution", ws.world["institution"]))
    _loaded(qtbot, window)
    missing = window.dashboard.missing_uploads
    assert [name for _id, name in missing] == ["Zanele Khumalo", "Pieter O'Brien"]
    assert window.remind_button.isEnabled()
    assert window.remind_button.text() == "Remind the 2 learners missing uploads…"
    window.remind_button.click()
    dialog = tools.remind_dialog
    assert isinstance(dialog, RemindDialog) and dialog.parent() is window
    dialog.confirm()
    qtbot.waitUntil(lambda: dialog.outcomes is not None, timeout=10000)
    assert dialog.summary.text() == "2 reminders queued."
    with sql_guard.paused():
        assert {r.cohort_enrollment_id for r in outbox.rows(ws.db)} == {i for i, _name in missing}


def test_a_dashboard_that_cannot_be_read_says_so(qtbot, workstation):
    ws = workstation
    window = DashboardWindow(ws.runner, ws.db, 999_999)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: not window._loading, timeout=15000)
    assert window.status.text().startswith("The dashboard could not be read. There is no institution")
