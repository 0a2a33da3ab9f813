"""Tools → Notifications… (super admins): an institution's e-mail settings, templates with a preview,
and the outbox with *Send again* and *Send now*.

* **Server**: SMTP host, port, STARTTLS / TLS / none, login. The password typed here goes only into
  this computer's keyring (``notify.settings.set_smtp_password``), never the database or a file; the
  machine that runs ``cohortdesk notify`` needs it in its own keyring.
* **Sender**: name, address, reply-to. **Rules**: digest window, minimum days between reminders, the
  scheduled reminder rule, "all verified" e-mails, attempts before giving up.
* **Templates**: subject, plain text and HTML per kind of e-mail, with the placeholders listed and a
  live preview of both bodies on sample data (``templates.render``, no database).
* **Outbox**: what waits, was sent, failed or has an unknown outcome; *Send again* for failed and
  unknown ones; *Send now* delivers everything waiting at once (``sender.run_once(flush=True)``).

Every database call and the keyring run on the background runner; a refused value is named in the
status line and its field gets the focus.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from cohortdesk.errors import ValidationError
from cohortdesk.services.access.identity import Identity
from cohortdesk.services.notify import outbox, sender
from cohortdesk.services.notify import settings as ns
from cohortdesk.services.notify.settings import SECURITY_CHOICES, NotifySettings
from cohortdesk.services.notify.templates import (
    KIND_LABELS,
    KINDS,
    PLACEHOLDERS,
    render,
    sample_items,
    template_for,
)
from cohortdesk.views import theme
from cohortdesk.views.errors import user_message
from cohortdesk.views.runner import Runner

#: E-mails per background op of *Send now* (other database work of the window runs between them).
SEND_NOW_CHUNK = 20
KIND_NAMES = {"rejection": "Rejection", "reminder": "Reminder", "all_verified": "All verified"}


def has_password(settings: NotifySettings) -> bool:
    """Whether this computer's keyring holds the SMTP password for these settings."""
    return ns.smtp_password(settings) is not None


class NotifySettingsDialog(QDialog):
    def __init__(self, runner: Runner, db: Any, identity: Identity, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("notifySettingsDialog")
        self.setWindowTitle("Notifications")
        self.runner = runner
        self.db = db
        self.identity = identity
        self.all_settings: dict[int, NotifySettings] = {}
        self.current: NotifySettings | None = None
        self.templates: dict[str, dict[str, str]] = {}
        self.summary: outbox.OutboxSummary | None = None
        self.dirty = False
        self._filling = False
        self.saving = False
        self.sending = False
        self._kept_password: bool | None = None
        self._keyring_answer = 0  # bumped per keyring check, so a late answer is recognised as stale
        self._build()
        self._set_status("Reading the e-mail settings…")
        runner.db(ns.load_all, db).success(self._on_loaded).failure(self._on_error).start()

    # --- layout --------------------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(QLabel("Institution", self))
        self.institution = QComboBox(self)
        self.institution.setObjectName("notifyInstitution")
        self.institution.setAccessibleName("Institution")
        self.institution.activated.connect(lambda _i: self._choose_institution())
        top.addWidget(self.institution, 1)
        layout.addLayout(top)
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("notifyTabs")
        self.tabs.addTab(self._server_tab(), "&Server and sender")
        self.tabs.addTab(self._rules_tab(), "&Rules")
        self.tabs.addTab(self._templates_tab(), "&Templates")
        self.tabs.addTab(self._outbox_tab(), "&Outbox")
        layout.addWidget(self.tabs, 1)
        self.status = QLabel("", self)
        self.status.setObjectName("notifyStatus")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.save_button = QPushButton("&Save", self)
        self.save_button.setObjectName("notifySave")
        self.save_button.clicked.connect(self.save)
        self.save_button.setEnabled(False)
        self.close_button = QPushButton("Close", self)
        self.close_button.setObjectName("notifyClose")
        self.close_button.clicked.connect(self.close)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.close_button)
        layout.addLayout(buttons)
        self.resize(860, 640)

    def _changed(self, *_args: Any) -> None:
        if not self._filling:
            self.dirty = True
            self.save_button.setEnabled(self.current is not None and not self.saving)

    def _line(self, name: str, accessible: str, placeholder: str = "") -> QLineEdit:
        edit = QLineEdit(self)
        edit.setObjectName(name)
        edit.setAccessibleName(accessible)
        edit.setPlaceholderText(placeholder)
        edit.textChanged.connect(self._changed)
        return edit

    def _spin(self, name: str, accessible: str, low: int, high: int, suffix: str = "") -> QSpinBox:
        spin = QSpinBox(self)
        spin.setObjectName(name)
        spin.setAccessibleName(accessible)
        spin.setRange(low, high)
        spin.setSuffix(suffix)
        spin.valueChanged.connect(self._changed)
        return spin

    def _server_tab(self) -> QWidget:
        page = QWidget(self)
        form = QFormLayout(page)
        self.host = self._line("smtpHost", "SMTP server", "smtp.example.co.za")
        self.port = self._spin("smtpPort", "Port", 1, 65535)
        self.security = QComboBox(self)
        self.security.setObjectName("smtpSecurity")
        self.security.setAccessibleName("Security")
        for key, label in SECURITY_CHOICES.items():
            self.security.addItem(label, key)
        self.security.currentIndexChanged.connect(self._security_changed)
        self.username = self._line("smtpUsername", "SMTP login", "leave empty if the server needs no login")
        self.password = self._line("smtpPassword", "SMTP password", "kept only in this computer's keyring")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        for edit in (self.host, self.username, self.password):
            edit.textChanged.connect(lambda _t: self._update_password_state())
        self.password_state = QLabel("", self)
        self.password_state.setObjectName("smtpPasswordState")
        self.password_state.setWordWrap(True)
        self.sender_name = self._line("senderName", "Sender name", "Acme Training Admissions")
        self.sender_address = self._line("senderAddress", "Sender address", "admissions@example.co.za")
        self.reply_to = self._line("replyTo", "Reply-to", "optional: where learners' replies go")
        form.addRow("SMTP &server", self.host)
        form.addRow("&Port", self.port)
        form.addRow("S&ecurity", self.security)
        form.addRow("&Login", self.username)
        form.addRow("Pass&word", self.password)
        form.addRow("", self.password_state)
        form.addRow("Sender &name", self.sender_name)
        form.addRow("Sender &address", self.sender_address)
        form.addRow("Reply-&to", self.reply_to)
        return page

    def _security_changed(self) -> None:
        if not self._filling and self.port.value() in (25, 465, 587):
            self.port.setValue({"tls": 465, "starttls": 587}.get(self.security.currentData(), 25))
        self._changed()

    def _rules_tab(self) -> QWidget:
        page = QWidget(self)
        form = QFormLayout(page)
        self.digest = self._spin("digestMinutes", "Digest window", 0, 1440, " minutes")
        self.digest.setToolTip("One e-mail per learner per window lists every document to fix")
        self.reminder_days = self._spin("reminderMinDays", "Days between reminders", 1, 365, " days")
        self.rule_enabled = QCheckBox("Remind learners still missing uploads automatically", self)
        self.rule_enabled.setObjectName("reminderRuleEnabled")
        self.rule_enabled.toggled.connect(self._changed)
        self.rule_after = self._spin(
            "reminderAfterDays", "Days after enrolling", 0, 365, " days after enrolling"
        )
        self.all_verified = QCheckBox("Tell learners when all their documents are verified", self)
        self.all_verified.setObjectName("notifyAllVerified")
        self.all_verified.toggled.connect(self._changed)
        self.attempts = self._spin("maxAttempts", "Attempts", 1, 50, " attempts")
        form.addRow("&Digest window", self.digest)
        form.addRow("At most one &reminder every", self.reminder_days)
        form.addRow("", self.rule_enabled)
        form.addRow("First automatic reminder", self.rule_after)
        form.addRow("", self.all_verified)
        form.addRow("Give up after", self.attempts)
        return page

    def _templates_tab(self) -> QWidget:
        page = QWidget(self)
        layout = QVBoxLayout(page)
        top = QHBoxLayout()
        self.kind = QComboBox(self)
        self.kind.setObjectName("templateKind")
        self.kind.setAccessibleName("E-mail")
        for kind in KINDS:
            self.kind.addItem(f"{KIND_NAMES[kind]}: {KIND_LABELS[kind]}", kind)
        self.kind.currentIndexChanged.connect(lambda _i: self._show_template())
        top.addWidget(self.kind, 1)
        self.reset_template = QPushButton("Use the &built-in text", self)
        self.reset_template.setObjectName("templateReset")
        self.reset_template.clicked.connect(self._reset_template)
        top.addWidget(self.reset_template)
        layout.addLayout(top)
        splitter = QSplitter(Qt.Orientation.Horizontal, page)
        editor = QWidget(splitter)
        editor_layout = QFormLayout(editor)
        editor_layout.setContentsMargins(0, 0, 0, 0)
        self.subject = QLineEdit(editor)
        self.subject.setObjectName("templateSubject")
        self.subject.setAccessibleName("Subject")
        self.text_body = QPlainTextEdit(editor)
        self.text_body.setObjectName("templateText")
        self.text_body.setAccessibleName("Plain text")
        self.html_body = QPlainTextEdit(editor)
        self.html_body.setObjectName("templateHtml")
        self.html_body.setAccessibleName("HTML")
        for widget in (self.subject, self.text_body, self.html_body):
            (widget.textChanged).connect(self._template_edited)
        editor_layout.addRow("S&ubject", self.subject)
        editor_layout.addRow("Plain te&xt", self.text_body)
        editor_layout.addRow("&HTML", self.html_body)
        names = QLabel(
            "Placeholders: " + ", ".join(f"<code>${{{p}}}</code> {what}" for p, what in PLACEHOLDERS.items()),
            editor,
        )
        names.setObjectName("panelHint")
        names.setWordWrap(True)
        editor_layout.addRow(names)
        preview = QWidget(splitter)
        preview_layout = QVBoxLayout(preview)
        preview_layout.setContentsMargins(0, 0, 0, 0)
        title = QLabel("Preview (sample learner)", preview)
        title.setObjectName("panelTitle")
        self.preview_subject = QLabel("", preview)
        self.preview_subject.setObjectName("previewSubject")
        self.preview_subject.setWordWrap(True)
        self.preview_html = QTextBrowser(preview)
        self.preview_html.setObjectName("previewHtml")
        self.preview_html.setAccessibleName("HTML preview")
        self.preview_text = QPlainTextEdit(preview)
        self.preview_text.setObjectName("previewText")
        self.preview_text.setAccessibleName("Plain text preview")
        self.preview_text.setReadOnly(True)
        for widget in (title, self.preview_subject, self.preview_html, self.preview_text):
            preview_layout.addWidget(widget)
        splitter.addWidget(editor)
        splitter.addWidget(preview)
        splitter.setSizes([480, 380])
        layout.addWidget(splitter, 1)
        return page

    def _outbox_tab(self) -> QWidget:
        page = QWidget(self)
        layout = QVBoxLayout(page)
        self.counts = QLabel("", page)
        self.counts.setObjectName("outboxCounts")
        self.counts.setWordWrap(True)
        layout.addWidget(self.counts)
        self.outbox_table = QTableWidget(0, 6, page)
        self.outbox_table.setObjectName("outboxTable")
        self.outbox_table.setAccessibleName("Recent notifications")
        self.outbox_table.setHorizontalHeaderLabels(
            ["Queued", "E-mail", "Learner", "Status", "Tries", "What happened"]
        )
        self.outbox_table.verticalHeader().hide()
        self.outbox_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.outbox_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.outbox_table.horizontalHeader()
        for column in range(5):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        self.outbox_table.itemSelectionChanged.connect(self._outbox_selection)
        layout.addWidget(self.outbox_table, 1)
        row = QHBoxLayout()
        self.refresh_outbox = QPushButton("Re&fresh", page)
        self.refresh_outbox.setObjectName("outboxRefresh")
        self.refresh_outbox.clicked.connect(self.load_outbox)
        self.send_again = QPushButton("Send &again", page)
        self.send_again.setObjectName("outboxSendAgain")
        self.send_again.setToolTip("Put the selected failed or unknown-outcome e-mails back in the queue")
        self.send_again.setEnabled(False)
        self.send_again.clicked.connect(self.resend_selected)
        self.send_now = QPushButton("Send &now", page)
        self.send_now.setObjectName("outboxSendNow")
        self.send_now.setToolTip("Deliver everything waiting now, without waiting for the digest window")
        self.send_now.clicked.connect(self.send_waiting)
        row.addWidget(self.refresh_outbox)
        row.addStretch(1)
        row.addWidget(self.send_again)
        row.addWidget(self.send_now)
        layout.addLayout(row)
        return page

    # --- filling the form --------------------------------------------------------------------------

    def _on_loaded(self, every: dict[int, NotifySettings]) -> None:
        mine = self.identity.institution_id
        self.all_settings = {k: v for k, v in every.items() if mine is None or k == mine} or every
        self.institution.clear()
        for institution_id, settings in sorted(
            self.all_settings.items(), key=lambda kv: kv[1].institution_name
        ):
            self.institution.addItem(settings.institution_name, institution_id)
        self.institution.setEnabled(self.institution.count() > 1)
        if not self.all_settings:
            self._set_status("There is no institution to configure yet.")
            return
        self._choose_institution()
        self.load_outbox()

    def _choose_institution(self) -> None:
        institution_id = self.institution.currentData()
        chosen = self.all_settings.get(institution_id)
        if chosen is None or (
            self.current is not None and chosen.institution_id == self.current.institution_id
        ):
            return
        if self.dirty and not self._may_discard():
            self.institution.setCurrentIndex(self.institution.findData(self.current.institution_id))
            return
        self.fill(chosen)
        self._render_outbox()

    def fill(self, settings: NotifySettings) -> None:
        self._filling = True
        try:
            self.current = settings
            self.host.setText(settings.smtp_host)
            self.port.setValue(settings.smtp_port)
            self.security.setCurrentIndex(max(self.security.findData(settings.smtp_security), 0))
            self.username.setText(settings.smtp_username)
            self.password.clear()
            self.sender_name.setText(settings.sender_name)
            self.sender_address.setText(settings.sender_address)
            self.reply_to.setText(settings.reply_to)
            self.digest.setValue(settings.digest_minutes)
            self.reminder_days.setValue(settings.reminder_min_days)
            self.rule_enabled.setChecked(settings.reminder_rule_enabled)
            self.rule_after.setValue(settings.reminder_after_days)
            self.all_verified.setChecked(settings.notify_all_verified)
            self.attempts.setValue(settings.max_attempts)
            self.templates = {k: dict(v) for k, v in settings.templates.items()}
            self._show_template()
        finally:
            self._filling = False
        self.dirty = False
        self.save_button.setEnabled(False)
        self._set_status(
            "Nothing saved yet for this institution: these are the defaults."
            if not settings.saved
            else (
                "Saved settings." if settings.configured else "Set the SMTP server and sender to send e-mail."
            )
        )
        self._kept_password = None
        self._keyring_answer += 1
        asked = self._keyring_answer
        self.password_state.setText("Checking this computer's keyring…")
        self.runner.io(has_password, settings).success(
            lambda kept: self._show_password_state(kept, asked)
        ).failure(lambda _e: self._keyring_unreadable(asked)).start()

    def _keyring_unreadable(self, asked: int) -> None:
        if asked == self._keyring_answer:
            self.password_state.setText("This computer's keyring could not be read.")

    def _show_password_state(self, kept: bool, asked: int | None = None) -> None:
        """Show what the keyring holds; a check answered after a later one (or after a save that
        kept the password) is stale and ignored, since I/O jobs may finish out of order."""
        if asked is not None and asked != self._keyring_answer:
            return
        if asked is None:
            self._keyring_answer += 1
        self._kept_password = kept
        self._update_password_state()

    def _update_password_state(self) -> None:
        """Say where the password for the login in the form is (or will be) kept."""
        settings = self.current
        kept = self._kept_password
        login = self.username.text().strip()
        if settings is None or kept is None:
            return
        if not login:
            text = "No login: the server is used without a password."
        elif self.password.text():
            text = "Saving keeps this password in this computer's keyring, never in the database."
        elif kept and (login, self.host.text().strip()) == (settings.smtp_username, settings.smtp_host):
            text = f"A password for {login} is kept in this computer's keyring."
        else:
            text = (
                f"No password for {login} in this computer's keyring. Type it here if this computer sends; "
                "the computer running 'cohortdesk notify' keeps its own (cohortdesk notify --set-password)."
            )
        self.password_state.setText(text)

    def collect(self) -> NotifySettings:
        """The form as settings (not yet validated)."""
        base = self.current or NotifySettings(institution_id=self.institution.currentData())
        self._store_template()
        return replace(
            base,
            smtp_host=self.host.text(),
            smtp_port=self.port.value(),
            smtp_security=self.security.currentData(),
            smtp_username=self.username.text(),
            sender_name=self.sender_name.text(),
            sender_address=self.sender_address.text(),
            reply_to=self.reply_to.text(),
            digest_minutes=self.digest.value(),
            reminder_min_days=self.reminder_days.value(),
            reminder_rule_enabled=self.rule_enabled.isChecked(),
            reminder_after_days=self.rule_after.value(),
            notify_all_verified=self.all_verified.isChecked(),
            max_attempts=self.attempts.value(),
            templates={k: dict(v) for k, v in self.templates.items() if any(v.values())},
        )

    # --- templates and the preview -----------------------------------------------------------------

    def _kind(self) -> str:
        return str(self.kind.currentData())

    def _show_template(self) -> None:
        kind = self._kind()
        template = template_for(kind, self.templates)
        filling, self._filling = self._filling, True
        try:
            self._shown_kind = kind
            self.subject.setText(template.subject)
            self.text_body.setPlainText(template.text)
            self.html_body.setPlainText(template.html)
            self.subject.setCursorPosition(0)
        finally:
            self._filling = filling
        self.update_preview()

    def _store_template(self) -> None:
        kind = getattr(self, "_shown_kind", None)
        if kind is None:
            return
        built_in = template_for(kind, None)
        edited = {
            "subject": self.subject.text(),
            "text": self.text_body.toPlainText(),
            "html": self.html_body.toPlainText(),
        }
        mine = {k: v for k, v in edited.items() if v.strip() and v != getattr(built_in, k)}
        if mine:
            self.templates[kind] = mine
        else:
            self.templates.pop(kind, None)

    def _template_edited(self) -> None:
        if self._filling:
            return
        self._store_template()
        self._changed()
        self.update_preview()

    def _reset_template(self) -> None:
        self.templates.pop(self._kind(), None)
        self._show_template()
        self._changed()

    def update_preview(self) -> None:
        settings = self.current
        name = settings.institution_name if settings else "Your institution"
        try:
            mail = render(
                sample_items(self._kind()),
                learner_name="Lerato Mokoena",
                institution_name=name,
                sender_name=self.sender_name.text() or name,
                reply_to=self.reply_to.text() or self.sender_address.text(),
                edited=self.templates,
            )
        except (KeyError, ValueError) as problem:
            self.preview_subject.setText(f"The template cannot be shown: {problem}")
            return
        self.preview_subject.setText(f"<b>Subject:</b> {mail.subject}")
        self.preview_subject.setTextFormat(Qt.TextFormat.RichText)
        self.preview_html.setHtml(mail.html)
        self.preview_text.setPlainText(mail.text)

    # --- saving ------------------------------------------------------------------------------------

    def save(self) -> None:
        if self.current is None or self.saving:
            return
        try:
            wanted = ns.validate(self.collect())
        except ValidationError as refused:
            self._refused(refused)
            return
        password = self.password.text()
        self.saving = True
        self.save_button.setEnabled(False)
        self._set_status("Saving…")
        self.runner.db(ns.save, self.db, self.identity, wanted).success(
            lambda saved: self._on_saved(saved, password)
        ).failure(self._on_save_failed).start()

    def _on_saved(self, saved: NotifySettings, password: str) -> None:
        self.saving = False
        self.all_settings[saved.institution_id] = saved
        self.fill(saved)
        if not password:
            self._set_status("Saved.")
            return
        self._set_status("Saved. Keeping the password in this computer's keyring…")
        self.runner.io(ns.set_smtp_password, saved, password).success(
            lambda _none: (
                self._set_status("Saved; the password is kept in this computer's keyring."),
                self._show_password_state(True),
            )
        ).failure(
            lambda error: self._set_status(
                f"Saved, but the password was not kept: {user_message(error)}", True
            )
        ).start()

    def _on_save_failed(self, error: BaseException) -> None:
        self.saving = False
        self.save_button.setEnabled(True)
        if isinstance(error, ValidationError):
            self._refused(error)
        else:
            self._set_status(f"Not saved. {user_message(error)}", True)

    def _refused(self, refused: ValidationError) -> None:
        fields: dict[str, QWidget] = {
            "SMTP server": self.host,
            "Port": self.port,
            "Security": self.security,
            "Sender address": self.sender_address,
            "Reply-to": self.reply_to,
            "Digest window": self.digest,
            "Reminders": self.reminder_days,
            "Reminder rule": self.rule_after,
            "Attempts": self.attempts,
        }
        widget = fields.get(refused.field)
        if widget is None:
            for kind in KINDS:
                if refused.field.startswith(KIND_LABELS[kind]):
                    self.tabs.setCurrentIndex(2)
                    self.kind.setCurrentIndex(self.kind.findData(kind))
                    part = refused.field.rsplit(" ", 1)[-1]
                    widget = {"subject": self.subject, "text": self.text_body, "html": self.html_body}.get(
                        part
                    )
        if widget is not None:
            for index in range(self.tabs.count()):
                if self.tabs.widget(index).isAncestorOf(widget):
                    self.tabs.setCurrentIndex(index)
            widget.setFocus(Qt.FocusReason.OtherFocusReason)
        self._set_status(f"Not saved. {refused.field} {refused.message}.", True)

    # --- the outbox ----------------------------------------------------------------------------------

    def load_outbox(self) -> None:
        self.runner.db(outbox.summary, self.db).success(self._on_outbox).failure(
            lambda error: self.counts.setText(f"The outbox could not be read. {user_message(error)}")
        ).start()

    def _on_outbox(self, summary: outbox.OutboxSummary) -> None:
        self.summary = summary
        self._render_outbox()

    def _render_outbox(self) -> None:
        summary = self.summary
        if summary is None:
            return
        institution_id = self.current.institution_id if self.current else None
        recent = [r for r in summary.recent if institution_id is None or r.institution_id == institution_id]
        counts = ", ".join(
            f"{outbox.STATUS_LABELS.get(status, status)}: {count:,}"
            for status, count in sorted(summary.counts.items())
        )
        self.counts.setText(
            f"All notifications you can see · {counts}" if counts else "Nothing has been queued yet."
        )
        self.outbox_table.setRowCount(len(recent))
        for row, item in enumerate(recent):
            values = (
                f"{item.created_at.astimezone():%d %b %H:%M}",
                KIND_NAMES.get(item.kind, item.kind),
                item.recipient_name or item.recipient_email or "",
                outbox.STATUS_LABELS.get(item.status, item.status),
                str(item.attempts),
                item.last_error or (item.reason or ""),
            )
            for column, text in enumerate(values):
                cell = QTableWidgetItem(text)
                cell.setData(Qt.ItemDataRole.UserRole, item.id)
                cell.setData(Qt.ItemDataRole.UserRole + 1, item.status)
                if column == 5:
                    cell.setToolTip(text)
                self.outbox_table.setItem(row, column, cell)
        self._outbox_selection()

    def _selected_outbox(self) -> list[int]:
        rows = {index.row() for index in self.outbox_table.selectionModel().selectedRows()}
        chosen = []
        for row in sorted(rows):
            cell = self.outbox_table.item(row, 0)
            if cell is not None and cell.data(Qt.ItemDataRole.UserRole + 1) in ("failed", "unknown"):
                chosen.append(int(cell.data(Qt.ItemDataRole.UserRole)))
        return chosen

    def _outbox_selection(self) -> None:
        self.send_again.setEnabled(bool(self._selected_outbox()))

    def resend_selected(self) -> None:
        ids = self._selected_outbox()
        if not ids:
            return
        self.runner.db(outbox.resend, self.db, self.identity, ids).success(
            lambda count: (self._set_status(f"{count:,} e-mail(s) back in the queue."), self.load_outbox())
        ).failure(lambda error: self._set_status(user_message(error), True)).start()

    def send_waiting(self) -> None:
        """Deliver everything waiting now, a few e-mails per background op, so the officer's own
        window (the same database lane) keeps answering between them."""
        if self.sending:
            return
        if self.dirty:
            self._set_status("Save your changes first: Send now uses the saved settings.", True)
            return
        self.sending = True
        self.send_now.setEnabled(False)
        self._sent_so_far = sender.SendReport()
        self._send_chunk(first=True)

    def _send_chunk(self, first: bool = False) -> None:
        total = self._sent_so_far.total
        self._set_status("Sending everything waiting…" + (f" {total:,} so far." if total else ""))
        self.runner.db(
            sender.run_once,
            self.db,
            self.identity,
            flush=True,
            run_rule=first,
            learners=SEND_NOW_CHUNK,
            limit=SEND_NOW_CHUNK,
        ).success(self._on_chunk).failure(self._on_send_failed).start()

    def _on_chunk(self, chunk: sender.SendReport) -> None:
        so_far = self._sent_so_far
        for name in ("sent", "retried", "failed", "unknown", "lost_claims", "reminders"):
            setattr(so_far, name, getattr(so_far, name) + getattr(chunk, name))
        so_far.problems.extend(chunk.problems)
        if chunk.total and not chunk.retried and self.isVisible():
            self._send_chunk()
            return
        self._after_send()
        problems = " ".join(dict.fromkeys(so_far.problems))
        self._set_status(
            so_far.summary() + (f" {problems}" if problems else ""), bool(so_far.failed or so_far.problems)
        )
        self.load_outbox()

    def _on_send_failed(self, error: BaseException) -> None:
        self._after_send()
        self._set_status(f"Sending stopped. {user_message(error)}", True)
        self.load_outbox()

    def _after_send(self) -> None:
        self.sending = False
        self.send_now.setEnabled(True)

    # --- status and closing ------------------------------------------------------------------------

    def _set_status(self, text: str, problem: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {theme.colours().error};" if problem else "")

    def _on_error(self, error: BaseException) -> None:
        self._set_status(user_message(error), True)

    def _may_discard(self) -> bool:
        answer = QMessageBox.question(
            self,
            "Notifications",
            "Discard your unsaved changes to the e-mail settings?",
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Discard

    def _may_leave(self) -> bool:
        if self.dirty and not self._may_discard():
            return False
        self.dirty = False
        return True

    def closeEvent(self, event: Any) -> None:
        if not self._may_leave():
            event.ignore()
            return
        super().closeEvent(event)

    def reject(self) -> None:
        if self._may_leave():
            super().reject()
