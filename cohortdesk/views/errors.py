"""The one place errors reach the user: plain words for known errors, "copy details" for the rest."""

from __future__ import annotations

import logging
import traceback

from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from cohortdesk.errors import CohortDeskError
from cohortdesk.services.connection.connectivity import classify_connection_error

log = logging.getLogger(__name__)


def user_message(error: BaseException) -> str:
    """What to tell a person about ``error``, in plain words. Connection problems (a refused
    password, a certificate, a full or unreachable server) are worded by the one classifier."""
    problem = classify_connection_error(error)
    if problem is not None:
        return problem.message
    if isinstance(error, CohortDeskError):
        return str(error)
    return "Something went wrong that CohortDesk did not expect. Your saved work is safe."


def details(error: BaseException) -> str:
    return "".join(traceback.format_exception(type(error), error, error.__traceback__))


def show_error(parent: QWidget | None, error: BaseException, title: str = "CohortDesk") -> None:
    """Show ``error`` in a message box; unexpected errors are logged and offer their details to copy."""
    message = user_message(error)
    if not isinstance(error, CohortDeskError) and classify_connection_error(error) is None:
        log.error("Unexpected error: %s", details(error))
    app = QApplication.instance()
    if app is None or app.property("cohortdesk_quiet_errors"):
        log.warning("%s: %s", title, message)
        return
    box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("errorMessage")
    if not isinstance(error, CohortDeskError) and classify_connection_error(error) is None:
        box.setDetailedText(details(error))
    box.open()
