"""The configuration screens drive real services on a real SQLite store: what is typed and saved ends up in
the rows, problems are shown at their fields, and nothing typed is dropped without asking."""

from __future__ import annotations

from datetime import date

import pytest
from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import QMessageBox

from cohortdesk.services.configuration import edits as ce
from cohortdesk.services.configuration import screens as config
from cohortdesk.views.admin.admin_window import AdminWindow


@pytest.fixture
def window(qtbot, runner, sqlite_db, identity, answers):
    win = AdminWindow(runner, sqlite_db, identity)
    qtbot.addWidget(win)
    win.show()
    return win


def _select(page, name: str) -> None:
    for row in range(page.proxy.rowCount()):
        index = page.proxy.index(row, 0)
        if index.data() == name:
            page.view.setCurrentIndex(index)
            return
    raise AssertionError(f"{name} is not listed")


# --- institution -------------------------------------------------------------------------------


def test_institution_form_saves_details_hosting_and_reasons(qtbot, window, sqlite_db, world):
    form = window.institution_page
    assert form.name.text() == "Ubuntu Skills Academy" and not form.is_dirty()
    assert not form.save_button.isEnabled()

    form.name.setText("Ubuntu Skills Academy (Pty) Ltd")
    form.contact_email.setText("Office@UbuntuSkills.co.za")
    form.hosting_location.setPlainText("AWS af-south-1 (Cape Town)")
    assert form.is_dirty() and form.save_button.isEnabled()

    reasons = form.reasons
    before = len(reasons.reasons())
    reasons.add_reason()
    row = reasons.table.rowCount() - 1
    for column, text in enumerate(("police_clearance_old", "Clearance too old", "Please upload a new one.")):
        reasons.table.item(row, column).setText(text)
    reasons.table.setCurrentCell(row, 0)
    reasons.up_button.click()
    qtbot.keyClick(form, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)

    saved = ce.get_institution(sqlite_db, world["institution"].id)
    assert saved.name == "Ubuntu Skills Academy (Pty) Ltd"
    assert saved.contact_email == "office@ubuntuskills.co.za"
    assert saved.settings["hosting_location"] == "AWS af-south-1 (Cape Town)"
    codes = [r["code"] for r in saved.settings["rejection_reasons"]]
    assert len(codes) == before + 1 and codes[-2] == "police_clearance_old"
    assert not form.is_dirty() and form.row.row_version == saved.row_version
    assert window.windowTitle().startswith("CohortDesk · Ubuntu Skills Academy (Pty) Ltd")


def test_institution_problems_are_shown_at_the_field_and_in_one_summary(window, sqlite_db, world):
    form = window.institution_page
    form.name.setText("  ")
    form.contact_email.setText("admin@@ubuntu")
    form.contact_phone.setText("call me")
    form.reasons.add_reason()  # an empty reason
    form.save_button.click()

    assert form.findChild(type(form.name), "name").property("invalid") is True
    assert form.findChild(type(form.summary.label), "nameError").text() == "Name is required."
    assert (
        "not a valid e-mail address" in form.findChild(type(form.summary.label), "contact_emailError").text()
    )
    summary = form.summary.messages()
    for expected in ("Name: is required", "Contact e-mail:", "Contact phone:", "needs a code"):
        assert expected in summary
    assert ce.get_institution(sqlite_db, world["institution"].id).name == "Ubuntu Skills Academy"
    assert form.is_dirty()  # nothing typed was lost


def test_cancel_asks_then_restores_the_saved_values(window, monkeypatch):
    form = window.institution_page
    form.contact_phone.setText("011 000 0000")
    monkeypatch.setattr(
        QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Cancel)
    )
    form.cancel_button.click()
    assert form.contact_phone.text() == "011 000 0000" and form.is_dirty()
    monkeypatch.setattr(
        QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Discard)
    )
    form.cancel_button.click()
    assert form.contact_phone.text() == "015 291 4400" and not form.is_dirty()


# --- sponsors ----------------------------------------------------------------------------------


def test_new_sponsor_and_edit_through_the_form(window, sqlite_db, world):
    window.show_page("sponsors")
    page = window.sponsors_page
    form = page.sponsor_form
    page.new_button.click()
    assert form.heading.text() == "New sponsor" and form.company_name.text() == ""
    form.company_name.setText("Sasol Foundation")
    form.contact_name.setText("Ayanda Zulu")
    form.contact_email.setText("ayanda@sasol.example")
    form.contact_phone.setText("+27 11 441 3000")
    form.tax_number.setText("91234 56789")
    form.save_button.click()

    rows = {s.company_name: s for s in config.list_sponsors(sqlite_db, world["institution"].id)}
    created = rows["Sasol Foundation"]
    assert (created.contact_name, created.contact_email, created.tax_number) == (
        "Ayanda Zulu",
        "ayanda@sasol.example",
        "9123456789",
    )
    assert page.model.rowCount() == 3 and page.count_label.text() == "3 records"
    assert page.view.currentIndex().data() == "Sasol Foundation"
    # the cohort form can pick the new sponsor straight away
    assert window.cohorts_page.cohort_form.sponsor.findData(created.id) > 0

    form.contact_name.setText("Ayanda Zulu-Mthembu")
    form.save_button.click()
    edited = next(s for s in config.list_sponsors(sqlite_db, world["institution"].id) if s.id == created.id)
    assert edited.contact_name == "Ayanda Zulu-Mthembu"


def test_sponsor_tax_number_and_email_are_checked(window, sqlite_db, world):
    window.show_page("sponsors")
    form = window.sponsors_page.sponsor_form
    window.sponsors_page.new_button.click()
    form.company_name.setText("Bad Data Ltd")
    form.contact_email.setText("nobody")
    form.tax_number.setText("12345")
    form.save_button.click()
    assert "10 digits" in form.findChild(type(form.heading), "tax_numberError").text()
    assert "Contact e-mail" in form.summary.messages() and "Tax number" in form.summary.messages()
    assert len(config.list_sponsors(sqlite_db, world["institution"].id)) == 2


def test_moving_away_from_unsaved_edits_asks_first(window, answers):
    window.show_page("sponsors")
    page = window.sponsors_page
    form = page.sponsor_form
    _select(page, "Kasi Retail Group")
    form.contact_name.setText("Typed but not saved")

    answers.unsaved = [QMessageBox.StandardButton.Cancel]
    _select(page, "Limpopo Mining Holdings")
    assert answers.asked == 1
    assert form.row.company_name == "Kasi Retail Group" and form.contact_name.text() == "Typed but not saved"
    assert page.view.currentIndex().data() == "Kasi Retail Group"

    answers.unsaved = [QMessageBox.StandardButton.Discard]
    _select(page, "Limpopo Mining Holdings")
    assert form.row.company_name == "Limpopo Mining Holdings" and not form.is_dirty()


def test_save_when_leaving_saves_then_moves(window, answers, sqlite_db, world):
    window.show_page("sponsors")
    page = window.sponsors_page
    _select(page, "Kasi Retail Group")
    page.sponsor_form.contact_phone.setText("010 500 1234")
    answers.unsaved = [QMessageBox.StandardButton.Save]
    page.new_button.click()
    assert page.sponsor_form.row is None
    kasi = world["sponsors"]["retail"]
    assert (
        next(
            s for s in config.list_sponsors(sqlite_db, world["institution"].id) if s.id == kasi.id
        ).contact_phone
        == "010 500 1234"
    )


def test_closing_the_window_with_unsaved_edits_asks(window, answers):
    window.show_page("sponsors")
    window.institution_page.contact_phone.setText("012 000 1111")
    answers.unsaved = [QMessageBox.StandardButton.Cancel]
    assert not window.close()
    assert window.isVisible() and window.stack.currentWidget() is window.institution_page
    answers.unsaved = [QMessageBox.StandardButton.Discard]
    assert window.close()


# --- cohorts -----------------------------------------------------------------------------------


def test_draft_cohort_shows_its_guards_in_words(window, world):
    window.show_page("cohorts")
    page = window.cohorts_page
    _select(page, "Retail Graduate Internship")
    form = page.cohort_form
    guard = form.guard_text("active")
    assert guard.startswith("Cannot activate yet: choose the main agreement template first")
    assert "set the expected number of students" in guard and "set the start and end dates" in guard
    assert not form.transition_buttons[config.CohortState.ACTIVE].isEnabled()
    assert form.transition_buttons[config.CohortState.CANCELLED].isEnabled()
    assert form.transition_buttons[config.CohortState.COMPLETED].isHidden()

    # the guard follows what is typed, and asks to save before committing
    form.main_template.setCurrentIndex(form.main_template.findData(world["templates"]["internship"]))
    form.student_count.setValue(12)
    form.start_date.set_value(date(2026, 3, 2))
    form.end_date.set_value(date(2027, 2, 26))
    assert form.guard_text("active") == "Save your changes before you activate the cohort."


def test_create_cohort_then_activate_it(window, sqlite_db, world, monkeypatch):
    window.show_page("cohorts")
    page = window.cohorts_page
    form = page.cohort_form
    page.new_button.click()
    assert form.row is None and form.save_button.text() == "&Create cohort"
    form.name.setText("2026 Hospitality Candidacy")
    form.program_type.setCurrentIndex(form.program_type.findData("candidacy"))
    form.sponsor.setCurrentIndex(form.sponsor.findData(world["sponsors"]["mining"].id))
    form.start_date.setDate(QDate(2026, 4, 1))
    form.end_date.setDate(QDate(2027, 3, 31))
    form.student_count.setValue(25)
    form.main_template.setCurrentIndex(form.main_template.findData(world["templates"]["agreement"]))
    archived = world["templates"]["archived"]
    assert form.main_template.findData(archived) == -1  # archived templates are not offered
    for i in range(form.supporting_templates.count()):
        item = form.supporting_templates.item(i)
        if item.data(Qt.ItemDataRole.UserRole) == world["templates"]["consent"]:
            item.setCheckState(Qt.CheckState.Checked)
    form.custom_type.setText("Police clearance")
    form.add_type_button.click()
    form.save_button.click()

    created = next(
        c
        for c in config.list_cohorts(sqlite_db, world["institution"].id)
        if c.cohort.name.startswith("2026 Hos")
    )
    cohort = created.cohort
    assert cohort.program_type == "candidacy" and cohort.sponsor_id == world["sponsors"]["mining"].id
    assert cohort.start_date.date() == date(2026, 4, 1) and cohort.end_date.date() == date(2027, 3, 31)
    assert cohort.student_count == 25 and cohort.main_template_id == world["templates"]["agreement"]
    assert cohort.supporting_templates == (world["templates"]["consent"],)
    assert cohort.required_document_types == ("id_document", "matric_certificate", "custom_police_clearance")
    assert cohort.state == "draft" and created.sponsor_name == "Limpopo Mining Holdings"
    assert page.view.currentIndex().data() == "2026 Hospitality Candidacy"

    assert form.guard_text("active").startswith("Ready to activate")
    asked: list[str] = []
    monkeypatch.setattr(form, "confirm", lambda box, yes: asked.append(box.text()) or True)
    form.transition_buttons[config.CohortState.ACTIVE].click()
    assert asked == ["Activate “2026 Hospitality Candidacy”?"]
    assert ce.get_cohort(sqlite_db, cohort.id).state == "active"
    assert form.state_badge.text() == "Active"
    position = page.model.position_of(cohort.id)
    assert page.model.row_at(position).cohort.state == "active"


def test_declining_the_confirmation_changes_nothing(window, sqlite_db, world, monkeypatch):
    window.show_page("cohorts")
    page = window.cohorts_page
    _select(page, "2026 Mining Learnership")
    form = page.cohort_form
    monkeypatch.setattr(form, "confirm", lambda box, yes: False)
    form.transition_buttons[config.CohortState.CANCELLED].click()
    assert ce.get_cohort(sqlite_db, world["cohorts"]["active"].id).state == "active"


def test_cohort_end_before_start_is_refused_at_the_field(window, sqlite_db, world):
    window.show_page("cohorts")
    page = window.cohorts_page
    _select(page, "Retail Graduate Internship")
    form = page.cohort_form
    form.start_date.set_value(date(2026, 6, 1))
    form.end_date.set_value(date(2026, 5, 1))
    form.save_button.click()
    assert form.findChild(type(form.heading), "end_dateError").text() == "Ends is before the start date."
    assert ce.get_cohort(sqlite_db, world["cohorts"]["draft"].id).start_date is None


def test_completed_cohort_is_read_only(window, sqlite_db, world, monkeypatch):
    window.show_page("cohorts")
    page = window.cohorts_page
    _select(page, "2026 Mining Learnership")
    form = page.cohort_form
    monkeypatch.setattr(form, "confirm", lambda box, yes: True)
    form.transition_buttons[config.CohortState.COMPLETED].click()
    assert ce.get_cohort(sqlite_db, world["cohorts"]["active"].id).state == "completed"
    assert not form.name.isEnabled() and "Nothing about it can change" in form.state_text.text()
    assert all(not b.isEnabled() for b in form.transition_buttons.values())


def test_keyboard_navigation_and_accessible_names(window):
    window.show_page("sponsors")
    form = window.sponsors_page.sponsor_form
    editors = [form.company_name, form.contact_name, form.contact_email, form.contact_phone, form.tax_number]
    for editor in editors:
        assert editor.accessibleName() and editor.objectName()
    form.company_name.setFocus()
    for expected in editors[1:]:
        form.focusNextChild()
        assert form.focusWidget() is expected


def test_form_edits_queue_outbox_entries_on_a_paired_laptop(qtbot, runner, sqlite_db, world, answers):
    from sqlalchemy import select

    from cohortdesk.models import SyncOutbox
    from cohortdesk.services.access.identity import resolve_identity
    from cohortdesk.services.sync import sync_status
    from tests.widgets.conftest import pair_store

    pair_store(sqlite_db, world["account"], {"sponsors": [7001, 7002], "cohorts": [8001]})
    win = AdminWindow(runner, sqlite_db, resolve_identity(sqlite_db))
    qtbot.addWidget(win)
    win.show_page("sponsors")
    page = win.sponsors_page
    page.new_button.click()
    page.sponsor_form.company_name.setText("Offline Sponsor Ltd")
    page.sponsor_form.save_button.click()
    win.show_page("cohorts")
    _select(win.cohorts_page, "Retail Graduate Internship")
    win.cohorts_page.cohort_form.student_count.setValue(15)
    win.cohorts_page.cohort_form.save_button.click()

    table = SyncOutbox.__table__
    with sqlite_db.read_session() as s:
        entries = list(s.execute(select(table).order_by(table.c.mutation_id)))
    assert [(e.table_name, e.op) for e in entries] == [("sponsors", "insert"), ("cohorts", "update")]
    assert entries[0].row_id == 7001 and entries[0].changes_json["company_name"] == "Offline Sponsor Ltd"
    assert entries[1].row_id == world["cohorts"]["draft"].id
    assert entries[1].changes_json == {"student_count": [0, 15]}
    assert sync_status(sqlite_db).describe() == "2 changes waiting · 0 conflicts"


def test_an_empty_database_offers_demo_data_or_a_server(qtbot, runner, sqlite_db):
    """No institution yet: the window says so and hands over to the main window's own actions."""
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QMainWindow, QPushButton

    from cohortdesk.services.access.identity import resolve_identity

    main = QMainWindow()
    qtbot.addWidget(main)
    triggered: list[str] = []
    for name in ("action_load_demo", "action_switch_connection"):
        action = QAction(name, main)
        action.setObjectName(name)
        action.triggered.connect(lambda _checked=False, n=name: triggered.append(n))
    admin = AdminWindow(runner, sqlite_db, resolve_identity(sqlite_db), main)
    admin.show()
    assert admin.institution_id is None
    demo = admin.findChild(QPushButton, "load_demoButton")
    server = admin.findChild(QPushButton, "switch_connectionButton")
    assert demo is not None and server is not None and demo.text() == "Load demo data…"
    demo.click()
    assert triggered == ["action_load_demo"] and not admin.isVisible()


def test_the_certification_age_limit_is_chosen_checked_and_saved(window, sqlite_db, world):
    window.show_page("cohorts")
    page = window.cohorts_page
    _select(page, "Retail Graduate Internship")
    form = page.cohort_form
    age = form.certification_age
    cohort_id = world["cohorts"]["draft"].id
    assert age.value() is None and not age.days.isEnabled()  # the default, three months
    assert "3 months (the default)" in age.mode.currentText()

    age.mode.setCurrentIndex(age.mode.findData(age.DAYS))
    assert age.days.isEnabled() and form.is_dirty()
    age.days.setValue(5000)
    form.save_button.click()
    error = form.findChild(type(form.heading), "certification_max_age_daysError")
    assert error.text() == "Certification age is at most 3650 days (ten years); 0 means no limit."
    assert "Certification age: is at most 3650 days" in form.summary.messages()
    assert ce.get_cohort(sqlite_db, cohort_id).certification_max_age_days is None

    age.days.setValue(45)
    form.save_button.click()
    assert not error.isVisible() and not form.is_dirty()
    assert ce.get_cohort(sqlite_db, cohort_id).certification_max_age_days == 45

    age.mode.setCurrentIndex(age.mode.findData(age.ANY_AGE))
    form.save_button.click()
    assert ce.get_cohort(sqlite_db, cohort_id).certification_max_age_days == 0
    _select(page, "2026 Mining Learnership")
    _select(page, "Retail Graduate Internship")
    assert form.certification_age.value() == 0 and "no limit" in age.mode.currentText()

    age.mode.setCurrentIndex(age.mode.findData(age.DEFAULT))
    form.save_button.click()
    assert ce.get_cohort(sqlite_db, cohort_id).certification_max_age_days is None
