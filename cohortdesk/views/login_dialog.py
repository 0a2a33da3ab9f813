"""The login screen: pick (or add, edit, delete) a connection profile, give the password, connect.

Profiles come from ``services.connection.profiles`` (no passwords in them); the password comes from the keyring
when one is usable and the person asked to remember it, otherwise it is typed each session and kept
in memory only. The dialog returns a ``LoginResult`` (URL without password, password, profile) to the
composition root, which builds the database from it.

Connect tests the login before the dialog closes (``connectivity.check_connection`` on a thread of
its own, never the GUI thread): a wrong password, a switched-off login, an expired certificate or
one for another host, TLS off or required, a missing CA file or a full server is said in the
dialog, in the words of the one classifier, with the field to fix focused; nothing half-works behind
it. "More settings" holds what a production deployment may need: a client certificate, the pooler,
the live-refresh and reporting servers, and where the documents are stored.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from cohortdesk.errors import CohortDeskError, ValidationError
from cohortdesk.services.connection import connectivity, profiles, secrets
from cohortdesk.services.connection.connectivity import ConnectionProblem
from cohortdesk.services.connection.profiles import POOLER_LABELS, SSL_MODE_LABELS, ConnectionProfile
from cohortdesk.views import theme

NEW_PROFILE = "New connection…"
CONNECTING = "Connecting…"

#: Tests the login of a profile: None when it works, else what is wrong. Runs off the GUI thread.
LoginCheck = Callable[[ConnectionProfile, str], ConnectionProblem | None]


def check_login(profile: ConnectionProfile, password: str) -> ConnectionProblem | None:
    """Connect once with ``profile`` and ``password`` and say what is wrong (None: it works)."""
    db = profiles.open_database(profile, password)
    try:
        return connectivity.check_connection(db, timeout_seconds=8.0)
    finally:
        db.dispose()


@dataclass(frozen=True)
class LoginResult:
    """What to open: a PostgreSQL profile with its password, or (``profile`` None) the local store."""

    profile: ConnectionProfile | None
    url: str | None
    password: str | None

    @property
    def local(self) -> bool:
        return self.profile is None


class LoginDialog(QDialog):
    #: The connection test's answer, from its thread (queued to the GUI thread).
    checked = Signal(object, object)

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        allow_local: bool = True,
        profile: str | None = None,
        check: LoginCheck | None = None,
        message: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("loginDialog")
        self.setWindowTitle("Connect to CohortDesk")
        self.setMinimumWidth(560)
        self.result_value: LoginResult | None = None
        self.problem: ConnectionProblem | None = None
        self._check = check or check_login
        self._checking = False
        self._current: str | None = None  # name of the profile being edited (None: a new one)
        self._keyring = secrets.keyring_status()

        self.profile_combo = QComboBox(objectName="profileCombo")
        self.profile_combo.setAccessibleName("Connection")
        self.delete_button = QPushButton("Delete", objectName="deleteProfileButton")
        self.delete_button.setAccessibleName("Delete this connection")
        top = QHBoxLayout()
        top.addWidget(self.profile_combo, 1)
        top.addWidget(self.delete_button)

        self.name_edit = QLineEdit(objectName="profileName", placeholderText="e.g. Head office")
        self.host_edit = QLineEdit(objectName="hostEdit", placeholderText="db.example.co.za")
        self.port_spin = QSpinBox(objectName="portSpin", minimum=1, maximum=65535, value=5432)
        self.database_edit = QLineEdit(objectName="databaseEdit", placeholderText="docuseal")
        self.user_edit = QLineEdit(objectName="userEdit", placeholderText="your own database login")
        self.ssl_combo = QComboBox(objectName="sslModeCombo")
        for mode, label in SSL_MODE_LABELS.items():
            self.ssl_combo.addItem(label, mode)
        self.ca_edit = QLineEdit(objectName="caFileEdit", placeholderText="CA certificate (.pem, .crt)")
        self.ca_button = QPushButton("Browse…", objectName="caFileButton")
        self.ca_button.setAccessibleName("Choose the CA certificate file")
        ca_row = QHBoxLayout()
        ca_row.addWidget(self.ca_edit, 1)
        ca_row.addWidget(self.ca_button)
        self.password_edit = QLineEdit(objectName="passwordEdit", echoMode=QLineEdit.EchoMode.Password)
        self.remember_check = QCheckBox(
            "Remember the password in the system keyring", objectName="rememberPassword"
        )
        self.keyring_notice = QLabel(self._keyring.message, objectName="keyringNotice", wordWrap=True)
        self.keyring_notice.setVisible(not self._keyring.usable)
        self.remember_check.setEnabled(self._keyring.usable)
        self.error_label = QLabel(objectName="errorLabel", wordWrap=True)
        self.error_label.setAccessibleName("What went wrong")
        self.error_label.setStyleSheet(theme.banner_style("errorLabel", "error", bold=True))
        self.error_label.hide()

        # More settings: client certificate, pooler, live refresh and reporting servers, documents.
        self.more_button = QPushButton("More settings ▸", objectName="moreSettingsButton", checkable=True)
        self.more_button.setFlat(True)
        self.more_box = QGroupBox(objectName="moreSettings")
        self.cert_edit = QLineEdit(
            objectName="clientCertEdit", placeholderText="only if the server asks for one"
        )
        self.key_edit = QLineEdit(objectName="clientKeyEdit", placeholderText="the client certificate's key")
        self.pooler_combo = QComboBox(objectName="poolerCombo")
        for mode, label in POOLER_LABELS.items():
            self.pooler_combo.addItem(label, mode)
        self.listen_edit = QLineEdit(
            objectName="listenHostEdit", placeholderText="primary host[:port] for live updates (optional)"
        )
        self.report_edit = QLineEdit(
            objectName="reportHostEdit",
            placeholderText="read-only standby host[:port] for reports (optional)",
        )
        self.storage_edit = QLineEdit(
            objectName="documentStorageEdit", placeholderText="folder or share holding uploaded documents"
        )
        more = QFormLayout(self.more_box)
        more.addRow("Client c&ertificate", self._with_browse(self.cert_edit, "Client certificate"))
        more.addRow("Client &key", self._with_browse(self.key_edit, "Client key"))
        more.addRow("P&ooler", self.pooler_combo)
        more.addRow("Li&ve updates from", self.listen_edit)
        more.addRow("&Reports from", self.report_edit)
        more.addRow("Doc&uments", self._with_browse(self.storage_edit, "Document storage", folder=True))
        for widget, name in (
            (self.cert_edit, "Client certificate file"),
            (self.key_edit, "Client key file"),
            (self.pooler_combo, "Connection pooler"),
            (self.listen_edit, "Server for live updates"),
            (self.report_edit, "Server for reports"),
            (self.storage_edit, "Document storage"),
        ):
            widget.setAccessibleName(name)
        self.more_box.hide()
        self.more_button.toggled.connect(self._toggle_more)

        form = QFormLayout()
        form.addRow("&Name", self.name_edit)
        form.addRow("&Server", self.host_edit)
        form.addRow("&Port", self.port_spin)
        form.addRow("&Database", self.database_edit)
        form.addRow("&Login", self.user_edit)
        form.addRow("&Security", self.ssl_combo)
        self._ca_label = QLabel("&CA certificate")
        self._ca_label.setBuddy(self.ca_edit)
        form.addRow(self._ca_label, ca_row)
        form.addRow("Pass&word", self.password_edit)
        form.addRow("", self.remember_check)
        for widget, name in (
            (self.name_edit, "Connection name"),
            (self.host_edit, "Server"),
            (self.port_spin, "Port"),
            (self.database_edit, "Database"),
            (self.user_edit, "Login"),
            (self.ssl_combo, "Security"),
            (self.ca_edit, "CA certificate file"),
            (self.password_edit, "Password"),
        ):
            widget.setAccessibleName(name)

        buttons = QDialogButtonBox()
        self.connect_button = buttons.addButton("Connect", QDialogButtonBox.ButtonRole.AcceptRole)
        self.connect_button.setObjectName("connectButton")
        self.connect_button.setDefault(True)
        self.save_button = buttons.addButton("Save", QDialogButtonBox.ButtonRole.ApplyRole)
        self.save_button.setObjectName("saveProfileButton")
        self.local_button: QPushButton | None = None
        if allow_local:
            self.local_button = buttons.addButton(
                "Use this computer only", QDialogButtonBox.ButtonRole.ResetRole
            )
            self.local_button.setObjectName("localButton")
            self.local_button.setToolTip("Work on the local database of this computer, without a server")
        cancel = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        cancel.setObjectName("cancelButton")

        self.host_edit.setToolTip(
            "Several servers, comma separated (db1, db2:5433): the one taking writes is used"
        )

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(form)
        layout.addWidget(self.more_button)
        layout.addWidget(self.more_box)
        layout.addWidget(self.keyring_notice)
        layout.addWidget(self.error_label)
        layout.addWidget(buttons)
        self._buttons = buttons

        self._field_widgets: dict[str, QWidget] = {
            "name": self.name_edit,
            "host": self.host_edit,
            "port": self.port_spin,
            "database": self.database_edit,
            "user": self.user_edit,
            "sslmode": self.ssl_combo,
            "sslrootcert": self.ca_edit,
            "password": self.password_edit,
            "sslcert": self.cert_edit,
            "sslkey": self.key_edit,
            "pooler": self.pooler_combo,
            "listen_host": self.listen_edit,
            "report_host": self.report_edit,
            "document_storage": self.storage_edit,
        }
        self.checked.connect(self._on_checked)

        self.profile_combo.currentIndexChanged.connect(self._on_profile_chosen)
        self.delete_button.clicked.connect(self._delete)
        self.ssl_combo.currentIndexChanged.connect(self._on_ssl_mode)
        self.ca_button.clicked.connect(self._choose_ca_file)
        self.connect_button.clicked.connect(self._connect)
        self.save_button.clicked.connect(self._save_clicked)
        if self.local_button is not None:
            self.local_button.clicked.connect(self._use_local)
        cancel.clicked.connect(self.reject)

        self._fill_combo(profile or self._initial_profile())
        if message:
            self._show_error(message, "password")

    def _with_browse(self, edit: QLineEdit, title: str, folder: bool = False) -> QWidget:
        row = QWidget()
        box = QHBoxLayout(row)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(edit, 1)
        button = QPushButton("Browse…")
        button.setAccessibleName(f"Choose the {title.lower()}")
        box.addWidget(button)

        def choose() -> None:
            if folder:
                path = QFileDialog.getExistingDirectory(self, title, edit.text())
            else:
                path, _ = QFileDialog.getOpenFileName(self, title, edit.text(), "All files (*)")
            if path:
                edit.setText(path)

        button.clicked.connect(choose)
        return row

    def _toggle_more(self, shown: bool) -> None:
        self.more_box.setVisible(shown)
        self.more_button.setText("More settings ▾" if shown else "More settings ▸")
        self.adjustSize()

    # --- profiles -------------------------------------------------------------------------------

    def _initial_profile(self) -> str | None:
        try:
            return profiles.last_used()
        except CohortDeskError as exc:
            self._show_error(str(exc))
            return None

    def _fill_combo(self, select: str | None) -> None:
        try:
            names = [p.name for p in profiles.load_profiles()]
        except CohortDeskError as exc:
            names = []
            self._show_error(str(exc))
        self.profile_combo.blockSignals(True)
        self.profile_combo.clear()
        self.profile_combo.addItems(names)
        self.profile_combo.addItem(NEW_PROFILE)
        index = names.index(select) if select in names else (0 if names else len(names))
        self.profile_combo.setCurrentIndex(index)
        self.profile_combo.blockSignals(False)
        self._on_profile_chosen(index)

    def _on_profile_chosen(self, index: int) -> None:
        name = self.profile_combo.itemText(index)
        found = next((p for p in self._profiles() if p.name == name), None)
        self._current = found.name if found else None
        self.delete_button.setEnabled(found is not None)
        self._clear_error()
        if found is None:
            self._show_profile(ConnectionProfile(name="", host="", database="", user=""))
            self.password_edit.clear()
            self.remember_check.setChecked(False)
            self.name_edit.setFocus()
            return
        self._show_profile(found)
        stored = secrets.get_password(found.keyring_account)
        self.password_edit.setText(stored or "")
        self.remember_check.setChecked(bool(stored))
        (self.password_edit if not stored else self.connect_button).setFocus()

    def _profiles(self) -> list[ConnectionProfile]:
        try:
            return profiles.load_profiles()
        except CohortDeskError:
            return []

    def _show_profile(self, profile: ConnectionProfile) -> None:
        self.name_edit.setText(profile.name)
        self.host_edit.setText(profile.host)
        self.port_spin.setValue(profile.port)
        self.database_edit.setText(profile.database)
        self.user_edit.setText(profile.user)
        index = self.ssl_combo.findData(profile.sslmode)
        self.ssl_combo.setCurrentIndex(max(index, 0))
        self.ca_edit.setText(profile.sslrootcert or "")
        self.cert_edit.setText(profile.sslcert or "")
        self.key_edit.setText(profile.sslkey or "")
        self.pooler_combo.setCurrentIndex(max(self.pooler_combo.findData(profile.pooler), 0))
        self.listen_edit.setText(profile.listen_host or "")
        self.report_edit.setText(profile.report_host or "")
        self.storage_edit.setText(profile.document_storage or "")
        advanced = any((profile.sslcert, profile.pooler != "none", profile.listen_host, profile.report_host))
        self.more_button.setChecked(bool(advanced))
        self._on_ssl_mode()

    def profile_from_fields(self) -> ConnectionProfile:
        return ConnectionProfile(
            name=self.name_edit.text(),
            host=self.host_edit.text(),
            port=self.port_spin.value(),
            database=self.database_edit.text(),
            user=self.user_edit.text(),
            sslmode=str(self.ssl_combo.currentData()),
            sslrootcert=self.ca_edit.text() or None,
            sslcert=self.cert_edit.text() or None,
            sslkey=self.key_edit.text() or None,
            pooler=str(self.pooler_combo.currentData()),
            listen_host=self.listen_edit.text() or None,
            report_host=self.report_edit.text() or None,
            document_storage=self.storage_edit.text() or None,
        )

    def _on_ssl_mode(self) -> None:
        verifying = str(self.ssl_combo.currentData()).startswith("verify")
        for widget in (self.ca_edit, self.ca_button, self._ca_label):
            widget.setEnabled(verifying)

    def _choose_ca_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "CA certificate", self.ca_edit.text(), "Certificates (*.pem *.crt *.cer);;All files (*)"
        )
        if path:
            self.ca_edit.setText(path)

    def _save(self) -> ConnectionProfile | None:
        self._clear_error()
        try:
            saved = profiles.save_profile(self.profile_from_fields(), replaces=self._current)
        except ValidationError as exc:
            self._show_error(exc.message[0].upper() + exc.message[1:] + ".", exc.field)
            return None
        except CohortDeskError as exc:
            self._show_error(str(exc))
            return None
        self._current = saved.name  # a rename keeps the password: the keyring is keyed by login and server
        return saved

    def _save_clicked(self) -> None:
        saved = self._save()
        if saved is not None:
            self._remember(saved)
            self._fill_combo(saved.name)

    def _remember(self, profile: ConnectionProfile) -> None:
        password = self.password_edit.text()
        if self.remember_check.isChecked() and password:
            try:
                secrets.set_password(profile.keyring_account, password)
            except secrets.KeyringUnavailable as exc:
                self.keyring_notice.setText(str(exc))
                self.keyring_notice.show()
        elif not self.remember_check.isChecked():
            secrets.delete_password(profile.keyring_account)

    def _delete(self) -> None:
        if self._current is None:
            return
        answer = QMessageBox.question(
            self,
            "Delete connection",
            f"Delete the connection {self._current!r}? Its remembered password is forgotten too.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        self.delete_current()

    def delete_current(self) -> None:
        """Delete the selected profile and forget its password (no confirmation: tests, shortcuts)."""
        if self._current is None:
            return
        try:
            removed = profiles.delete_profile(self._current)
        except CohortDeskError as exc:
            self._show_error(str(exc))
            return
        secrets.delete_password(removed.keyring_account)
        self._fill_combo(None)

    # --- finishing ------------------------------------------------------------------------------

    def _connect(self) -> None:
        if self._checking:
            return
        saved = self._save()
        if saved is None:
            return
        password = self.password_edit.text()
        if not password:
            self._show_error("Type your password.", "password")
            return
        self._set_checking(True)
        check = self._check

        def work() -> None:
            try:
                problem = check(saved, password)
            except Exception as error:  # noqa: BLE001 - worded by the classifier below
                problem = connectivity.classify_connection_error(error) or ConnectionProblem(
                    connectivity.OUTAGE, f"CohortDesk could not test the connection ({type(error).__name__})."
                )
            self.checked.emit(saved, problem)

        threading.Thread(target=work, name="cohortdesk-login-check", daemon=True).start()

    def _set_checking(self, checking: bool) -> None:
        self._checking = checking
        for button in self._buttons.buttons():
            if button.objectName() != "cancelButton":
                button.setEnabled(not checking)
        if checking:
            self._clear_error()
            self.connect_button.setText(CONNECTING)
        else:
            self.connect_button.setText("Connect")

    def _on_checked(self, saved: ConnectionProfile, problem: ConnectionProblem | None) -> None:
        self._set_checking(False)
        self.problem = problem
        if problem is not None:
            self._show_error(problem.message, problem.field if problem.field in self._field_widgets else None)
            if problem.ask_password:
                self.password_edit.selectAll()
            return
        password = self.password_edit.text()
        self._remember(saved)
        try:
            profiles.mark_used(saved.name)
        except CohortDeskError:
            pass  # remembering the last choice is a convenience
        self.result_value = LoginResult(profile=saved, url=profiles.connection_url(saved), password=password)
        self.accept()

    def _use_local(self) -> None:
        self.result_value = LoginResult(profile=None, url=None, password=None)
        self.accept()

    def _show_error(self, message: str, field: str | None = None) -> None:
        self.error_label.setText(message)
        self.error_label.show()
        if field in ("sslcert", "sslkey", "pooler", "listen_host", "report_host", "document_storage"):
            self.more_button.setChecked(True)
        widget = self._field_widgets.get(field or "")
        if widget is not None:
            widget.setFocus()

    def _clear_error(self) -> None:
        self.error_label.clear()
        self.error_label.hide()


def choose_connection(
    parent: QWidget | None = None,
    *,
    allow_local: bool = True,
    profile: str | None = None,
    message: str | None = None,
) -> LoginResult | None:
    """Show the login screen (``profile`` preselected, ``message`` shown: why it is asked again); the
    choice, or None when the person cancelled."""
    dialog = LoginDialog(parent, allow_local=allow_local, profile=profile, message=message)
    return dialog.result_value if dialog.exec() == QDialog.DialogCode.Accepted else None
