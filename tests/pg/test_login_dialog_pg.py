"""The login dialog tests the connection before it closes, against a real TLS + scram server, and
shows what to fix; a window whose password stops working asks for it again instead of retrying."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cohortdesk.services.connection import connectivity as c
from cohortdesk.services.connection import profiles
from cohortdesk.services.connection.profiles import ConnectionProfile
from cohortdesk.views.login_dialog import LoginDialog
from tests.memory_keyring import MemoryKeyring, using_keyring
from tests.pg.tls_server import PASSWORD, TlsServer, start_tls_server


@pytest.fixture(scope="module")
def tls() -> Iterator[TlsServer]:
    server = start_tls_server()
    try:
        yield server
    finally:
        server.server.destroy()


@pytest.fixture
def keyring_in_memory() -> Iterator[MemoryKeyring]:
    with using_keyring(MemoryKeyring()) as backend:
        yield backend


def _profile(tls: TlsServer, **changes: object) -> ConnectionProfile:
    base = ConnectionProfile(
        name="Head office",
        host="127.0.0.1",
        port=tls.port,
        database="postgres",
        user=tls.login,
        sslmode="verify-full",
        sslrootcert=str(tls.certs.ca),
    )
    return ConnectionProfile(**{**base.__dict__, **changes})


def _try(qtbot, profile: ConnectionProfile, password: str = PASSWORD) -> LoginDialog:
    saved = profiles.save_profile(profile)
    dialog = LoginDialog(profile=saved.name)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.password_edit.setText(password)
    with qtbot.waitSignal(dialog.checked, timeout=20000):
        dialog.connect_button.click()
    return dialog


def test_the_right_password_closes_the_dialog(qtbot, cohortdesk_home, keyring_in_memory, tls):
    dialog = _try(qtbot, _profile(tls))
    assert dialog.result_value is not None and dialog.result_value.password == PASSWORD
    assert not dialog.error_label.isVisible()


def test_wrong_password_stays_in_the_dialog_and_says_so(qtbot, cohortdesk_home, keyring_in_memory, tls):
    dialog = _try(qtbot, _profile(tls), "typo")
    assert dialog.result_value is None and dialog.isVisible()
    assert dialog.error_label.isVisible()
    assert dialog.error_label.text().startswith(
        f"The server refused the password for the login \u201c{tls.login}\u201d"
    )
    assert dialog.focusWidget() is dialog.password_edit
    assert dialog.connect_button.isEnabled() and dialog.connect_button.text() == "Connect"


def test_removed_login(qtbot, cohortdesk_home, keyring_in_memory, tls):
    dialog = _try(qtbot, _profile(tls, user=tls.removed_login))
    assert "has been switched off on this server" in dialog.error_label.text()
    assert dialog.focusWidget() is dialog.user_edit


def test_expired_certificate(qtbot, cohortdesk_home, keyring_in_memory, tls):
    with tls.serving("expired"):
        dialog = _try(qtbot, _profile(tls))
    assert dialog.result_value is None
    assert dialog.error_label.text().startswith("The server's certificate expired on ")


def test_certificate_for_another_host(qtbot, cohortdesk_home, keyring_in_memory, tls):
    with tls.serving("other_host"):
        dialog = _try(qtbot, _profile(tls))
    assert "is for \u201cdb.elsewhere.example\u201d" in dialog.error_label.text()
    assert dialog.focusWidget() is dialog.host_edit


def test_tls_required(qtbot, cohortdesk_home, keyring_in_memory, tls):
    dialog = _try(qtbot, _profile(tls, sslmode="disable", sslrootcert=None))
    assert "accepts only encrypted connections" in dialog.error_label.text()
    assert dialog.focusWidget() is dialog.ssl_combo


def test_server_without_tls(qtbot, cohortdesk_home, keyring_in_memory, tls):
    with tls.serving("no_tls"):
        dialog = _try(qtbot, _profile(tls))
    assert "does not offer encryption (TLS)" in dialog.error_label.text()


def test_missing_ca_file_is_caught_before_connecting(
    qtbot, cohortdesk_home, keyring_in_memory, tls, tmp_path
):
    ca = tmp_path / "ca.crt"
    ca.write_bytes(tls.certs.ca.read_bytes())
    saved = profiles.save_profile(_profile(tls, sslrootcert=str(ca)))
    ca.unlink()  # the file went away after the profile was saved
    dialog = LoginDialog(profile=saved.name)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.password_edit.setText(PASSWORD)
    dialog.connect_button.click()
    assert dialog.result_value is None
    assert f"The CA certificate file {ca} does not exist on this computer" in dialog.error_label.text()
    assert dialog.focusWidget() is dialog.ca_edit


def test_missing_ca_file_from_the_driver_is_worded_too(tls):
    problem = c.classify_connection_error(
        Exception(f'root certificate file "{tls.certs.folder}/gone.crt" does not exist')
    )
    assert problem is not None and problem.kind == c.CA_FILE_MISSING and problem.field == "sslrootcert"


def test_client_certificate_fields_reach_the_connection(qtbot, cohortdesk_home, keyring_in_memory, tls):
    tls.server.configure(
        tls.tls_settings(),
        [
            f"hostssl all {tls.login} 127.0.0.1/32 cert map=certs",
            "hostssl all all 127.0.0.1/32 scram-sha-256",
        ],
    )
    (tls.server.data / "pg_ident.conf").write_text(f"certs officer {tls.login}\n")
    tls.server.configure(tls.tls_settings(), None)
    try:
        without = _try(qtbot, _profile(tls))
        assert without.result_value is None and "client certificate" in without.error_label.text()
        with_cert = _try(
            qtbot, _profile(tls, sslcert=str(tls.certs.client_cert), sslkey=str(tls.certs.client_key))
        )
        assert with_cert.result_value is not None, with_cert.error_label.text()
        assert with_cert.result_value.profile.sslcert == str(tls.certs.client_cert)
    finally:
        tls.normal()


def test_a_rotated_password_stops_the_retrying_and_asks_again(qtbot, tls):
    from PySide6.QtWidgets import QWidget

    from cohortdesk.views.connection_monitor import STOPPED_TEXT, ConnectionMonitor
    from cohortdesk.views.runner import Runner

    db = profiles.open_database(_profile(tls), "the-old-password")
    runner = Runner(synchronous=True)
    host = QWidget()
    qtbot.addWidget(host)
    monitor = ConnectionMonitor(runner, db, first_delay_ms=50)
    refused: list[str] = []
    monitor.credentials_refused.connect(refused.append)
    try:
        with pytest.raises(Exception) as caught, db.engine.connect():
            pass
        assert monitor.report_error(caught.value)  # a connection problem, handled by the banner
        assert monitor.stopped is not None and monitor.stopped.kind == c.WRONG_PASSWORD
        assert monitor.banner.text().startswith(STOPPED_TEXT + "The server refused the password")
        assert refused and "refused the password" in refused[0]
        monitor.check()  # nothing: no endless retrying against a refused login
        assert not monitor._timer.isActive() and len(refused) == 1
    finally:
        monitor.close()
        db.dispose()


def test_an_outage_retries_with_jitter(qtbot, tls):
    from cohortdesk.views.connection_monitor import OFFLINE_TEXT, ConnectionMonitor, jittered
    from cohortdesk.views.runner import Runner

    assert len({jittered(10000) for _ in range(20)}) > 1
    assert all(5000 <= jittered(10000) <= 10000 for _ in range(50))
    db = profiles.open_database(_profile(tls, port=1), PASSWORD)
    monitor = ConnectionMonitor(Runner(synchronous=True), db, first_delay_ms=60000)
    try:
        monitor.check()
        assert monitor.stopped is None and not monitor.online
        assert monitor.banner.text().startswith(OFFLINE_TEXT) and monitor._timer.isActive()
    finally:
        monitor.close()
        db.dispose()
