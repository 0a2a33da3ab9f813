"""Tools → Notifications… against a real SMTP server (aiosmtpd): settings saved through the one write
path, the SMTP password only in the keyring, refused values named with their field focused, templates
with a live preview, the outbox with Send now and Send again."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel
from sqlalchemy import text

from cohortdesk.services.connection.secrets import SERVICE_NAME
from cohortdesk.services.notify import outbox, sender
from cohortdesk.services.notify import settings as ns
from cohortdesk.services.review import decisions as vs
from cohortdesk.views.learner_tools import install_learner_tools
from cohortdesk.views.notify_settings import NotifySettingsDialog
from tests import review_factories
from tests.memory_keyring import MemoryKeyring, using_keyring
from tests.smtp_server import Handler, SmtpServer


def open_dialog(qtbot, ws) -> NotifySettingsDialog:
    tools = install_learner_tools(ws.window)
    assert tools.actions["notifications"].isVisible()
    tools.actions["notifications"].trigger()
    dialog = tools.notify_dialog
    assert isinstance(dialog, NotifySettingsDialog)
    qtbot.waitUntil(lambda: dialog.current is not None, timeout=10000)
    return dialog


def wait_status(qtbot, dialog: NotifySettingsDialog, start: str) -> None:
    qtbot.waitUntil(lambda: dialog.status.text().startswith(start), timeout=15000)


def reject(ws, sql_guard, name: str, document: str, reason: str) -> None:
    with sql_guard.paused():
        vs.record_decision(
            ws.db,
            vs.DecisionCommand(
                enrollment_id=ws.world["enrollments"][name],
                document_type=document,
                action="rejected",
                reason=reason,
            ),
            review_factories.identity_for_user(ws.db, ws.world["officer"]),
        )


def fill_server(dialog: NotifySettingsDialog, port: int, username: str = "") -> None:
    dialog.host.setText("127.0.0.1")
    dialog.security.setCurrentIndex(dialog.security.findData("none"))
    dialog.port.setValue(port)
    dialog.username.setText(username)
    dialog.sender_name.setText("Acme Admissions")
    dialog.sender_address.setText("admissions@acme.example")
    dialog.digest.setValue(0)


def test_settings_saved_and_the_password_only_in_the_keyring(qtbot, workstation, sql_guard):
    ws = workstation
    with using_keyring(MemoryKeyring()) as keyring:
        dialog = open_dialog(qtbot, ws)
        assert dialog.institution.currentText() == "Acme Training"
        assert dialog.status.text() == "Nothing saved yet for this institution: these are the defaults."
        assert not dialog.save_button.isEnabled()
        fill_server(dialog, 2525, "mailer")
        dialog.password.setText("s3cret-smtp")
        dialog.reply_to.setText("help@acme.example")
        assert dialog.save_button.isEnabled()
        dialog.save()
        wait_status(qtbot, dialog, "Saved; the password is kept in this computer's keyring.")
        account = ns.smtp_keyring_account(ws.world["institution"], "mailer", "127.0.0.1")
        assert keyring.store == {(SERVICE_NAME, account): "s3cret-smtp"}
        assert (
            dialog.password.text() == ""
            and "is kept in this computer's keyring" in dialog.password_state.text()
        )
        with sql_guard.paused():
            saved = ns.load(ws.db, ws.world["institution"])
            with ws.db.read_session() as s:
                stored = " ".join(
                    str(v) for v in s.execute(text("SELECT * FROM notification_settings")).one()
                )
        assert (saved.smtp_host, saved.smtp_port, saved.smtp_username, saved.reply_to) == (
            "127.0.0.1",
            2525,
            "mailer",
            "help@acme.example",
        )
        assert "s3cret" not in stored
        assert not dialog.dirty and not dialog.save_button.isEnabled()


def test_a_refused_value_is_named_and_its_field_focused(qtbot, workstation):
    ws = workstation
    dialog = open_dialog(qtbot, ws)
    dialog.show()
    qtbot.waitExposed(dialog)
    fill_server(dialog, 2525)
    dialog.sender_address.setText("admissions at acme")
    dialog.tabs.setCurrentIndex(1)
    dialog.save()
    assert dialog.status.text() == (
        "Not saved. Sender address 'admissions at acme' is not an e-mail address (name@example.co.za)."
    )
    assert dialog.tabs.currentIndex() == 0
    qtbot.waitUntil(lambda: dialog.sender_address.hasFocus(), timeout=5000)
    # A template with a placeholder that does not exist: the templates tab, the subject focused.
    dialog.sender_address.setText("admissions@acme.example")
    dialog.tabs.setCurrentIndex(0)
    dialog.kind.setCurrentIndex(dialog.kind.findData("reminder"))
    dialog.subject.setText("Hello ${first_name}")
    dialog.save()
    assert dialog.status.text().startswith(
        "Not saved. Reminder: documents still missing subject uses ${first_name}"
    )
    assert dialog.tabs.currentIndex() == 2 and dialog.kind.currentData() == "reminder"
    qtbot.waitUntil(lambda: dialog.subject.hasFocus(), timeout=5000)
    dialog.dirty = False  # leave without the discard question


def test_edited_template_previewed_then_sent_now_and_sent_again(qtbot, workstation, sql_guard):
    ws = workstation
    handler = Handler(rcpt_replies={"pieter@example.co.za": "550 5.1.1 no such mailbox"})
    with SmtpServer(handler=handler) as smtp:
        dialog = open_dialog(qtbot, ws)
        fill_server(dialog, smtp.port)
        dialog.kind.setCurrentIndex(dialog.kind.findData("rejection"))
        dialog.subject.setText("Please fix ${item_count} document(s), ${learner_name}")
        assert dialog.preview_subject.text() == "<b>Subject:</b> Please fix 2 document(s), Lerato Mokoena"
        assert "The copy is not certified." in dialog.preview_text.toPlainText()
        assert "Page 2 is missing." in dialog.preview_html.toPlainText()
        dialog.send_waiting()
        assert dialog.status.text() == "Save your changes first: Send now uses the saved settings."
        dialog.save()
        wait_status(qtbot, dialog, "Saved.")
        reject(ws, sql_guard, "Lerato Mokoena", "matric_certificate", "The copy is not certified.")
        reject(ws, sql_guard, "Pieter O'Brien", "id_document", "Blurred.")
        dialog.send_waiting()
        wait_status(qtbot, dialog, "1 e-mail(s) sent, 1 failed.")
        (mail,) = smtp.received
        assert mail.message["Subject"] == "Please fix 1 document(s), Lerato Mokoena"
        assert "The copy is not certified." in mail.text
        qtbot.waitUntil(lambda: dialog.outbox_table.rowCount() == 2, timeout=10000)
        statuses = {dialog.outbox_table.item(r, 3).text(): r for r in range(2)}
        assert set(statuses) == {"Sent", "Failed"}
        assert "550" in dialog.outbox_table.item(statuses["Failed"], 5).text()
        # Send again: the address is fixed on the server's side, the failed one goes back in the queue.
        handler.rcpt_replies.clear()
        table = dialog.outbox_table
        table.selectionModel().select(
            table.model().index(statuses["Failed"], 0),
            QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
        )
        assert dialog.send_again.isEnabled()
        dialog.resend_selected()
        wait_status(qtbot, dialog, "1 e-mail(s) back in the queue.")
        dialog.send_waiting()
        wait_status(qtbot, dialog, "1 e-mail(s) sent.")
        assert len(smtp.received) == 2
    with sql_guard.paused():
        assert sorted(r.status for r in outbox.rows(ws.db)) == ["sent", "sent"]


def test_send_now_goes_a_few_emails_per_background_op(qtbot, workstation, sql_guard, monkeypatch):
    from cohortdesk.views import notify_settings

    ws = workstation
    monkeypatch.setattr(notify_settings, "SEND_NOW_CHUNK", 1)
    calls: list[dict] = []
    real = sender.run_once
    monkeypatch.setattr(sender, "run_once", lambda *a, **k: calls.append(k) or real(*a, **k))
    with SmtpServer() as smtp:
        dialog = open_dialog(qtbot, ws)
        fill_server(dialog, smtp.port)
        dialog.save()
        wait_status(qtbot, dialog, "Saved.")
        for name in ("Lerato Mokoena", "Thabo Nkosi", "Anna van der Merwe"):
            reject(ws, sql_guard, name, "id_document", "Blurred.")
        dialog.send_waiting()
        wait_status(qtbot, dialog, "3 e-mail(s) sent.")
    assert len(smtp.received) == 3
    assert [c["limit"] for c in calls] == [1, 1, 1, 1]  # three with one e-mail each, then nothing left
    assert [c["run_rule"] for c in calls] == [True, False, False, False]
