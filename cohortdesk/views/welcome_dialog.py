"""First run on a machine: try CohortDesk with demo data, or connect to the institution's server.

Nothing else to configure. The choice is remembered in the settings; the connection path hands over to
the login dialog (connection profile form).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QCommandLinkButton, QDialog, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from cohortdesk.paths import resources_dir

DEMO = "demo"
CONNECT = "connect"


class WelcomeDialog(QDialog):
    """Returns ``choice``: ``DEMO`` or ``CONNECT`` (or ``None`` when closed)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("welcomeDialog")
        self.setWindowTitle("Welcome to CohortDesk")
        self.choice: str | None = None
        icon = QLabel()
        icon.setPixmap(QPixmap(str(resources_dir() / "icons" / "cohortdesk-64.png")))
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        heading = QLabel(
            "<h2>Welcome to CohortDesk</h2>"
            "<p>Verify learner documents, manage cohorts and send reports to sponsors and SETAs.</p>"
            "<p>How would you like to start?</p>"
        )
        heading.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(icon)
        top.addWidget(heading, 1)

        self.demo_button = QCommandLinkButton(
            "Try with demo data",
            "A private database on this computer, filled with sample institutions, cohorts and "
            "learners. Nothing is sent anywhere.",
        )
        self.demo_button.setObjectName("tryDemoButton")
        self.demo_button.clicked.connect(lambda: self._choose(DEMO))
        self.connect_button = QCommandLinkButton(
            "Connect to your institution's server",
            "Sign in to the shared database with the details your IT administrator gave you.",
        )
        self.connect_button.setObjectName("connectServerButton")
        self.connect_button.clicked.connect(lambda: self._choose(CONNECT))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.setSpacing(12)
        layout.addLayout(top)
        layout.addWidget(self.demo_button)
        layout.addWidget(self.connect_button)
        self.setMinimumWidth(520)
        self.demo_button.setFocus()

    def _choose(self, choice: str) -> None:
        self.choice = choice
        self.accept()
