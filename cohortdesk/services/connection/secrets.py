"""Database passwords in the operating system's keyring, and nowhere else.

``get_password`` / ``set_password`` / ``delete_password`` go through ``keyring`` under the service name
``CohortDesk``. A backend that would keep secrets in plain text, or none at all (``fail``, ``null``,
the ``keyrings.alt`` file stores, a chainer with no real backend), is refused: ``keyring_status()``
says so in words the login screen shows, and the password is then asked for each session and held
only in memory. Nothing here ever writes a password to a file, a setting or a log.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import keyring
import keyring.errors

from cohortdesk.errors import CohortDeskError

log = logging.getLogger(__name__)

SERVICE_NAME = "CohortDesk"
_REFUSED_MODULES = ("keyring.backends.fail", "keyring.backends.null", "keyrings.alt")
HOW_TO_FIX = (
    "Install and unlock a system keyring (Windows Credential Manager and the macOS Keychain are built "
    "in; on Linux use GNOME Keyring or KWallet) to let CohortDesk remember it."
)


class KeyringUnavailable(CohortDeskError):
    """There is no secure place to keep a password on this computer."""


@dataclass(frozen=True)
class KeyringStatus:
    usable: bool
    backend: str
    message: str


def _name(backend: Any) -> str:
    return f"{type(backend).__module__}.{type(backend).__name__}"


def _refused(backend: Any) -> str | None:
    """Why ``backend`` may not hold passwords, or None when it may."""
    name = _name(backend)
    if name.startswith(_REFUSED_MODULES) or "plaintext" in name.lower():
        return name
    children = getattr(backend, "backends", None)
    if children is not None:  # keyring's ChainerBackend
        if not children:
            return name
        for child in children:
            reason = _refused(child)
            if reason:
                return reason
    try:
        if float(backend.priority) <= 0:
            return name
    except Exception:  # noqa: BLE001 - a backend that cannot even say its priority is not viable
        return name
    return None


def keyring_status() -> KeyringStatus:
    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # noqa: BLE001 - a broken keyring install is "no keyring"
        return KeyringStatus(False, "none", f"No password store could be opened ({exc}). {HOW_TO_FIX}")
    refused = _refused(backend)
    if refused:
        return KeyringStatus(
            False,
            refused,
            "This computer has no secure password store, so CohortDesk will ask for your password each "
            f"time you connect and never write it anywhere. {HOW_TO_FIX}",
        )
    return KeyringStatus(True, _name(backend), "Your password can be kept in the system keyring.")


def get_password(account: str) -> str | None:
    """The stored password for ``account``, or None (nothing stored, or no usable keyring)."""
    if not keyring_status().usable:
        return None
    try:
        return keyring.get_password(SERVICE_NAME, account)
    except keyring.errors.KeyringError as exc:
        log.warning("Could not read a password from the keyring: %s", type(exc).__name__)
        return None


def set_password(account: str, password: str) -> None:
    status = keyring_status()
    if not status.usable:
        raise KeyringUnavailable(status.message)
    try:
        keyring.set_password(SERVICE_NAME, account, password)
    except keyring.errors.KeyringError as exc:
        raise KeyringUnavailable(
            f"The system keyring refused to store the password ({type(exc).__name__})."
        ) from exc


def delete_password(account: str) -> None:
    """Forget ``account``'s password; nothing stored (or no keyring) is fine."""
    if not keyring_status().usable:
        return
    try:
        keyring.delete_password(SERVICE_NAME, account)
    except keyring.errors.PasswordDeleteError:
        pass
    except keyring.errors.KeyringError as exc:
        log.warning("Could not delete a password from the keyring: %s", type(exc).__name__)
