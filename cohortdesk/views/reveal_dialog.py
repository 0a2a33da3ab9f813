"""The reveal dialog: before race, disability or a full ID number is shown, the officer says why.

The purpose goes to the append-only access log with the reveal (POPIA: special personal information
is processed for a stated purpose). The last purpose used comes first, so a routine reveal is one
keystroke: Enter. An empty purpose is refused in the dialog, with the words why.
"""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from cohortdesk.views import theme


class RevealDialog(QDialog):
    def __init__(
        self,
        student_name: str,
        purposes: tuple[str, ...] | list[str],
        parent: QWidget | None = None,
        last_purpose: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("revealDialog")
        self.setWindowTitle("Reveal special personal information")
        self.setAccessibleName("Reveal special personal information")
        self.setModal(True)
        self.setMinimumWidth(480)

        title = QLabel(f"<b>Show race, disability and the full ID number</b> of {student_name}?", self)
        title.setWordWrap(True)
        hint = QLabel(
            "This is special personal information under POPIA. Your name, the time and the purpose you "
            "give are written to the access log. The values stay on screen until you move to another "
            "learner or choose Hide.",
            self,
        )
        hint.setObjectName("panelHint")
        hint.setWordWrap(True)

        purpose_label = QLabel("&Purpose (required)", self)
        self.purpose = QComboBox(self)
        self.purpose.setObjectName("revealPurpose")
        self.purpose.setAccessibleName("Purpose of the reveal")
        self.purpose.setEditable(True)
        self.purpose.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        choices = list(dict.fromkeys([p for p in (last_purpose, *purposes) if p]))
        self.purpose.addItems(choices)
        self.purpose.setCurrentIndex(0)
        purpose_label.setBuddy(self.purpose)

        self.error_label = QLabel("", self)
        self.error_label.setObjectName("revealError")
        self.error_label.setStyleSheet(f"color: {theme.colours().error};")
        self.error_label.setWordWrap(True)
        self.error_label.hide()

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.reveal_button = buttons.addButton("&Reveal", QDialogButtonBox.ButtonRole.AcceptRole)
        self.reveal_button.setObjectName("revealButton")
        self.reveal_button.setDefault(True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addSpacing(6)
        layout.addWidget(purpose_label)
        layout.addWidget(self.purpose)
        layout.addWidget(self.error_label)
        layout.addSpacing(6)
        layout.addWidget(buttons)
        self.purpose.setFocus()

    def purpose_text(self) -> str:
        return self.purpose.currentText().strip()

    def accept(self) -> None:
        if len(self.purpose_text()) < 3:
            self.error_label.setText("Say why you need to see this learner's special personal information.")
            self.error_label.show()
            self.purpose.setFocus()
            return
        super().accept()
