"""The one place errors reach the user: plain words for known errors, "copy details" for the rest."""

from __future__ import annotations

import logging
import traceback

from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from cohortdesk.errors import CohortDeskError, OfflineError

log = logging.getLogger(__name__)

# Exceptions from the database driver are recognised by name so views never import SQLAlchemy.
_CONNECTION_ERRORS = ("OperationalError", "InterfaceError", "ConnectionError", "DisconnectionError")


def user_message(error: BaseException) -> str:
    """What to tell a person about ``error``, in plain words."""
    if isinstance(error, CohortDeskError):
        return str(error)
    if type(error).__name__ in _CONNECTION_ERRORS or isinstance(error, OfflineError | ConnectionError):
        return "The database cannot be reached. Check the network; CohortDesk keeps trying to reconnect."
    return "Something went wrong that CohortDesk did not expect. Your saved work is safe."


def details(error: BaseException) -> str:
    return "".join(traceback.format_exception(type(error), error, error.__traceback__))


def show_error(parent: QWidget | None, error: BaseException, title: str = "CohortDesk") -> None:
    """Show ``error`` in a message box; unexpected errors are logged and offer their details to copy."""
    message = user_message(error)
    if not isinstance(error, CohortDeskError):
        log.error("Unexpected error: %s", details(error))
    app = QApplication.instance()
    if app is None or app.property("cohortdesk_quiet_errors"):
        log.warning("%s: %s", title, message)
        return
    box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("errorMessage")
    if not isinstance(error, CohortDeskError):
        box.setDetailedText(details(error))
    box.open()
