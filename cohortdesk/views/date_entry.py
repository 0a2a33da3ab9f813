"""Date fields that take a date as it is typed: "01 Feb 2027", "1 feb 2027", "2027-02-01", "01/02/2027"
(day first, as South Africa writes it) all mean 1 February 2027, whatever the field showed before
("Not set" included). F4 or Alt+Down opens the calendar.

Qt's own date field edits a date section by section, so typing a whole date over the one shown mixes
the two ("01 Feb 2027" became 2 February, "30 Nov 2027" 3 November). Here what is typed is kept as a
whole and read when the person leaves the field or presses Enter; a date that cannot be read is said
in words and the field keeps its previous date.
"""

from __future__ import annotations

import re
from datetime import date

from PySide6.QtCore import QDate, QEvent, QPointF, Qt
from PySide6.QtGui import QFocusEvent, QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QApplication, QDateEdit, QToolTip, QWidget

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
_TYPED_CHARACTERS = re.compile(r"[0-9A-Za-z /.\-]")


def parse_typed_date(text: str) -> date | None:
    """The date ``text`` names, or None when it names none. Day first for numbers ("01/02/2027" is
    1 February); ISO "2027-02-01"; a month by name in any position ("Feb 1 2027", "1 February 2027")."""
    words = [w for w in re.split(r"[\s/.\-,]+", text.strip().lower()) if w]
    if len(words) != 3:
        return None
    try:
        if words[0].isdigit() and len(words[0]) == 4:  # 2027-02-01
            year, month, day = int(words[0]), _month(words[1]), int(words[2])
        elif words[0] in _MONTHS:  # Feb 01 2027
            month, day, year = _month(words[0]), int(words[1]), int(words[2])
        else:  # 01 Feb 2027, 01/02/2027
            day, month, year = int(words[0]), _month(words[1]), int(words[2])
        if year < 100:
            year += 2000
        return date(year, month, day)
    except (ValueError, KeyError):
        return None


def _month(word: str) -> int:
    return int(word) if word.isdigit() else _MONTHS[word]


class TypedDateEdit(QDateEdit):
    """A ``QDateEdit`` (calendar popup, "dd MMM yyyy") that reads a typed date whole."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setCalendarPopup(True)
        self.setDisplayFormat("dd MMM yyyy")
        self._typed: str | None = None  # what is being typed, None while not typing

    @property
    def typing(self) -> bool:
        return self._typed is not None

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        alt_down = key == Qt.Key.Key_Down and event.modifiers() == Qt.KeyboardModifier.AltModifier
        if (key == Qt.Key.Key_F4 and not event.modifiers()) or alt_down:
            self.open_calendar()
            return
        plain = not event.modifiers() & ~(
            Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.KeypadModifier
        )
        if plain and event.text() and _TYPED_CHARACTERS.fullmatch(event.text()):
            self._typed = (self._typed or "") + event.text()
            self._show_typed()
            return
        if self._typed is not None:
            if key == Qt.Key.Key_Backspace:
                self._typed = self._typed[:-1]
                self._show_typed()
                return
            if key == Qt.Key.Key_Escape:
                self._typed = None
                self.setDate(self.date())  # shows the date it had
                self.lineEdit().setText(self.textFromDateTime(self.dateTime()))
                return
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.commit_typed()
                return
            if key in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab):
                self.commit_typed()
                self.focusNextPrevChild(key == Qt.Key.Key_Tab)  # leave the field, not its next section
                return
            self.commit_typed()  # any other key (arrows, ...) acts on the date as read
        super().keyPressEvent(event)

    def _show_typed(self) -> None:
        line = self.lineEdit()
        line.blockSignals(True)
        line.setText(self._typed or "")
        line.setCursorPosition(len(self._typed or ""))
        line.blockSignals(False)

    def commit_typed(self) -> bool:
        """Read what was typed (if anything); False when it names no date (the field keeps its date)."""
        typed, self._typed = self._typed, None
        if typed is None:
            return True
        parsed = parse_typed_date(typed) if typed.strip() else None
        if parsed is not None:
            wanted = QDate(parsed.year, parsed.month, parsed.day)
            if self.minimumDate() <= wanted <= self.maximumDate():
                self.setDate(wanted)
                self.lineEdit().setText(self.textFromDateTime(self.dateTime()))
                return True
        if not typed.strip():
            self.typed_empty()
            return True
        self.lineEdit().setText(self.textFromDateTime(self.dateTime()))
        QToolTip.showText(
            self.mapToGlobal(self.rect().bottomLeft()),
            f"“{typed.strip()}” is not a date: type it as 01 Feb 2027 (or press F4 for the calendar).",
            self,
        )
        return False

    def typed_empty(self) -> None:
        """Everything typed was erased: keep the date (``OptionalDateEdit`` empties the field)."""
        self.lineEdit().setText(self.textFromDateTime(self.dateTime()))

    def focusOutEvent(self, event: QFocusEvent) -> None:
        self.commit_typed()
        super().focusOutEvent(event)

    def open_calendar(self) -> None:
        """Open the calendar popup. Qt opens it only from a click on the field's arrow (no key does),
        so the click is what F4 and Alt+Down send."""
        self.commit_typed()
        arrow = QPointF(self.width() - 8, self.height() / 2)
        click = QMouseEvent(
            QEvent.Type.MouseButtonPress,
            arrow,
            self.mapToGlobal(arrow),
            Qt.MouseButton.LeftButton,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
        )
        QApplication.sendEvent(self, click)
