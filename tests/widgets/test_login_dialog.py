"""The login screen: profiles without passwords, the keyring only when it is safe, TLS with a CA file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from keyring.backends import fail
from PySide6.QtCore import Qt

from cohortdesk.services.connection import profiles, secrets
from cohortdesk.services.connection.profiles import ConnectionProfile
from cohortdesk.views.login_dialog import NEW_PROFILE, LoginDialog
from tests.memory_keyring import MemoryKeyring, using_keyring

SHOTS = Path(os.environ.get("COHORTDESK_SCREENSHOTS", "/tmp/cohortdesk-shots"))


def _works(_profile: ConnectionProfile, _password: str) -> None:
    """The connection test of these tests: every login works (the real one: tests/pg)."""
    return None


def _connect(dialog: LoginDialog, qtbot) -> None:
    """Click Connect and wait for the connection test's answer."""
    with qtbot.waitSignal(dialog.checked, timeout=5000):
        dialog.connect_button.click()


@pytest.fixture
def memory_keyring():
    with using_keyring(MemoryKeyring()) as backend:
        yield backend


def _fill(dialog: LoginDialog, qtbot, ca: Path | None = None) -> None:
    qtbot.keyClicks(dialog.name_edit, "Head office")
    qtbot.keyClicks(dialog.host_edit, "db.example.co.za")
    qtbot.keyClicks(dialog.database_edit, "docuseal")
    qtbot.keyClicks(dialog.user_edit, "thandi_nkosi")
    if ca is not None:
        dialog.ssl_combo.setCurrentIndex(dialog.ssl_combo.findData("verify-full"))
        dialog.ca_edit.setText(str(ca))
    qtbot.keyClicks(dialog.password_edit, "correct horse")


def test_connect_saves_the_profile_and_remembers_the_password_in_the_keyring(
    qtbot, cohortdesk_home, memory_keyring, tmp_path
):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    dialog = LoginDialog(check=_works)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.profile_combo.currentText() == NEW_PROFILE
    assert not dialog.keyring_notice.isVisible() and dialog.remember_check.isEnabled()
    _fill(dialog, qtbot, ca)
    dialog.remember_check.setChecked(True)
    SHOTS.mkdir(parents=True, exist_ok=True)
    dialog.grab().save(str(SHOTS / "login-dialog.png"))
    with qtbot.waitSignal(dialog.checked, timeout=5000):
        qtbot.mouseClick(dialog.connect_button, Qt.MouseButton.LeftButton)

    result = dialog.result_value
    assert result is not None and not result.local and result.password == "correct horse"
    assert "correct horse" not in (result.url or "") and "sslmode=verify-full" in (result.url or "")
    assert profiles.load_profiles() == [
        ConnectionProfile(
            name="Head office",
            host="db.example.co.za",
            database="docuseal",
            user="thandi_nkosi",
            sslmode="verify-full",
            sslrootcert=str(ca),
        )
    ]
    assert "correct horse" not in profiles.profiles_path().read_text()
    assert memory_keyring.store == {
        ("CohortDesk", "thandi_nkosi@db.example.co.za:5432/docuseal"): "correct horse"
    }

    again = LoginDialog(check=_works)
    qtbot.addWidget(again)
    assert again.profile_combo.currentText() == "Head office"
    assert again.password_edit.text() == "correct horse" and again.remember_check.isChecked()
    again.remember_check.setChecked(False)  # forget it
    _connect(again, qtbot)
    assert memory_keyring.store == {}


def test_without_a_keyring_the_password_is_asked_each_time_and_never_stored(qtbot, cohortdesk_home):
    with using_keyring(fail.Keyring()):
        dialog = LoginDialog(check=_works)
        qtbot.addWidget(dialog)
        dialog.show()
        assert dialog.keyring_notice.isVisible() and "ask for your password" in dialog.keyring_notice.text()
        assert not dialog.remember_check.isEnabled()
        dialog.ssl_combo.setCurrentIndex(dialog.ssl_combo.findData("require"))
        _fill(dialog, qtbot)
        SHOTS.mkdir(parents=True, exist_ok=True)
        dialog.grab().save(str(SHOTS / "login-dialog-no-keyring.png"))
        _connect(dialog, qtbot)
        assert dialog.result_value is not None and dialog.result_value.password == "correct horse"
        assert not secrets.keyring_status().usable
    for path in Path(cohortdesk_home).rglob("*"):
        if path.is_file():
            assert b"correct horse" not in path.read_bytes(), path


def test_mistakes_are_named_and_nothing_is_saved(qtbot, cohortdesk_home, memory_keyring):
    dialog = LoginDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.keyClicks(dialog.name_edit, "Branch")
    qtbot.keyClicks(dialog.host_edit, "db")
    qtbot.keyClicks(dialog.database_edit, "docuseal")
    qtbot.keyClicks(dialog.user_edit, "sipho")
    dialog.ssl_combo.setCurrentIndex(dialog.ssl_combo.findData("verify-full"))
    assert dialog.ca_edit.isEnabled()
    dialog.connect_button.click()
    assert dialog.result_value is None and dialog.error_label.isVisible()
    assert "CA certificate" in dialog.error_label.text() and dialog.focusWidget() is dialog.ca_edit
    assert profiles.load_profiles() == []
    dialog.ssl_combo.setCurrentIndex(dialog.ssl_combo.findData("prefer"))
    assert not dialog.ca_edit.isEnabled()
    dialog.connect_button.click()
    assert "password" in dialog.error_label.text().lower()


def test_delete_forgets_the_profile_and_its_password(qtbot, cohortdesk_home, memory_keyring):
    saved = profiles.save_profile(
        ConnectionProfile(name="Old", host="h", database="d", user="u", sslmode="require")
    )
    secrets.set_password(saved.keyring_account, "pw")
    dialog = LoginDialog()
    qtbot.addWidget(dialog)
    assert dialog.profile_combo.currentText() == "Old"
    dialog.delete_current()
    assert profiles.load_profiles() == [] and memory_keyring.store == {}
    assert dialog.profile_combo.currentText() == NEW_PROFILE


def test_the_local_store_can_be_chosen(qtbot, cohortdesk_home, memory_keyring):
    dialog = LoginDialog()
    qtbot.addWidget(dialog)
    dialog.local_button.click()
    assert dialog.result_value is not None and dialog.result_value.local
