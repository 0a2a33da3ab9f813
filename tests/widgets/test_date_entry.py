"""Typed dates are read as typed, whole (also over "Not set"), and F4 opens the calendar."""

from __future__ import annotations

from datetime import date

import pytest
from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import QLineEdit, QVBoxLayout, QWidget

from cohortdesk.views.admin.cohorts_view import OptionalDateEdit
from cohortdesk.views.date_entry import parse_typed_date


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("01 Feb 2027", date(2027, 2, 1)),
        ("1 february 2027", date(2027, 2, 1)),
        ("30 Nov 2027", date(2027, 11, 30)),
        ("2027-02-01", date(2027, 2, 1)),
        ("01/02/2027", date(2027, 2, 1)),
        ("Feb 1 2027", date(2027, 2, 1)),
        ("31 Feb 2027", None),
        ("Not set", None),
        ("", None),
    ],
)
def test_parse_typed_date(text, expected):
    assert parse_typed_date(text) == expected


@pytest.fixture
def field(qtbot):
    host = QWidget()
    layout = QVBoxLayout(host)
    edit = OptionalDateEdit()
    layout.addWidget(edit)
    layout.addWidget(QLineEdit())
    qtbot.addWidget(host)
    host.show()
    qtbot.waitExposed(host)
    host.activateWindow()
    yield edit
    host.close()


@pytest.mark.parametrize("start", [None, date(2026, 5, 3)])
@pytest.mark.parametrize(
    ("typed", "expected"), [("01 Feb 2027", date(2027, 2, 1)), ("30 Nov 2027", date(2027, 11, 30))]
)
def test_typing_a_whole_date_replaces_the_shown_one(qtbot, field, start, typed, expected):
    field.set_value(start)
    field.setFocus()
    qtbot.keyClicks(field, typed)
    qtbot.keyClick(field, Qt.Key.Key_Tab)
    assert field.value() == expected
    assert field.text() == expected.strftime("%d %b %Y")


def test_a_typed_non_date_keeps_the_date_and_escape_cancels(qtbot, field):
    field.set_value(date(2026, 5, 3))
    field.setFocus()
    qtbot.keyClicks(field, "31 Feb 2027")
    qtbot.keyClick(field, Qt.Key.Key_Return)
    assert field.value() == date(2026, 5, 3)
    qtbot.keyClicks(field, "12 Jan")
    qtbot.keyClick(field, Qt.Key.Key_Escape)
    assert field.value() == date(2026, 5, 3) and field.text() == "03 May 2026"


def test_f4_opens_the_calendar(qtbot, field):
    field.set_value(None)
    field.setFocus()
    qtbot.keyClick(field, Qt.Key.Key_F4)
    calendar = field.calendarWidget()
    qtbot.waitUntil(lambda: calendar.isVisible(), timeout=3000)
    today = QDate.currentDate()
    assert (calendar.yearShown(), calendar.monthShown()) == (today.year(), today.month())
