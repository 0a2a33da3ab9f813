"""Help → About: versions of CohortDesk, Qt, PySide6, Python, the database server and the schema."""

from __future__ import annotations

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QGuiApplication, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from cohortdesk.paths import resources_dir
from cohortdesk.services.connection.system_info import DatabaseFacts, application_versions


def version_lines(facts: DatabaseFacts | None) -> list[tuple[str, str]]:
    versions = application_versions()
    lines = [("CohortDesk", versions["CohortDesk"]), ("Qt", qVersion()), ("PySide6", pyside_version)]
    lines += [(k, versions[k]) for k in ("Python", "SQLAlchemy", "Platform")]
    if facts is not None:
        revision = facts.schema_revision or "none"
        if facts.schema_revision != facts.schema_head:
            revision += f" (this version expects {facts.schema_head})"
        lines += [
            ("Database", facts.backend),
            ("Schema revision", revision),
            ("Install mode", facts.install_mode),
            ("Location", facts.location),
        ]
    else:
        lines += [("Database", "not connected")]
    return lines


class AboutDialog(QDialog):
    def __init__(self, facts: DatabaseFacts | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("aboutDialog")
        self.setWindowTitle("About CohortDesk")
        icon = QLabel()
        icon.setPixmap(QPixmap(str(resources_dir() / "icons" / "cohortdesk-64.png")))
        title = QLabel(
            "<h2>CohortDesk</h2><p>Cohorts, enrollments and document verification for "
            "South African training providers.</p>"
        )
        title.setWordWrap(True)
        header = QHBoxLayout()
        header.addWidget(icon)
        header.addWidget(title, 1)
        form = QFormLayout()
        self.lines = version_lines(facts)
        for label, value in self.lines:
            value_label = QLabel(value)
            value_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(f"{label}:", value_label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = buttons.addButton("&Copy versions", QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(self.copy)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def text(self) -> str:
        return "\n".join(f"{label}: {value}" for label, value in self.lines)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.text())
