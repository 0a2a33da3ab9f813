"""The sender: delivers the notification outbox by SMTP, one digest e-mail per learner.

``run_once`` claims due digests (``outbox.claim``), and for each one records an attempt *before*
the SMTP conversation (``outbox.progress``), sends it, and records the outcome together with the
start of the next attempt, so each message costs one database round trip. ``serve`` repeats
``run_once`` (and the institution's reminder rule) every ``interval`` seconds until stopped.

What can be promised (``docs/notifications.md``): **at most once per notification**, and exactly once
whenever the sender and the SMTP server both stay up. Failures are classified by where they happen:

* before the end of the message reached the server (refused connection, 4xx on MAIL/RCPT/DATA, a
  drop while sending the text): nothing was accepted, so the digest is retried later (``retry``),
  up to the institution's limit of attempts, then ``failed``;
* a 5xx answer: ``failed`` (e.g. the address does not exist), not retried;
* after the whole message was sent and before the server answered (a dropped connection), or a
  sender killed during the conversation: the server may have accepted it. Such a digest becomes
  ``unknown`` and is never sent again by itself; a super admin sees it and may send it again.

Every message carries a ``Message-ID`` made from its claim, so a receiver can tell two copies of one
message apart from two messages.
"""

from __future__ import annotations

import logging
import random
import re
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate

from cohortdesk.db import Database
from cohortdesk.services.access.identity import Identity
from cohortdesk.services.notify import outbox
from cohortdesk.services.notify.settings import NotifySettings, load_all, smtp_password
from cohortdesk.services.notify.templates import DigestItem, RenderedEmail, render

log = logging.getLogger(__name__)

#: A claim that comes back empty is tried this many times before a round ends (see ``run_once``).
EMPTY_CLAIMS_BEFORE_STOPPING = 3
NOT_SET_UP = "E-mail is not set up for this institution yet (Tools → Notifications…: SMTP server and sender)."


@dataclass(frozen=True)
class Outcome:
    outcome: str  # sent, retry, failed, unknown
    detail: str = ""


@dataclass
class SendReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    unknown: int = 0
    lost_claims: int = 0
    reminders: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.sent + self.retried + self.failed + self.unknown

    def summary(self) -> str:
        parts = [f"{self.sent} e-mail(s) sent"]
        for count, what in (
            (self.retried, "to retry later"),
            (self.failed, "failed"),
            (self.unknown, "with unknown outcome"),
            (self.reminders, "reminder(s) queued by the rule"),
        ):
            if count:
                parts.append(f"{count} {what}")
        return ", ".join(parts) + "."


# --- composing ----------------------------------------------------------------------------------


def digest_items(digest: outbox.Digest) -> list[DigestItem]:
    items: list[DigestItem] = []
    seen: set[tuple[str, str | None]] = set()
    for row in digest.rows:
        cohort = str(row.details.get("cohort_name") or "")
        if row.kind == "reminder":
            for document in row.details.get("missing") or []:
                if ("reminder", document) not in seen:
                    seen.add(("reminder", document))
                    items.append(DigestItem("reminder", cohort, document))
        elif (row.kind, row.document_type) not in seen:
            seen.add((row.kind, row.document_type))
            items.append(
                DigestItem(row.kind, cohort, row.document_type, row.reason, row.details.get("officer"))
            )
    return items


def rendered(digest: outbox.Digest, settings: NotifySettings) -> RenderedEmail:
    return render(
        digest_items(digest),
        learner_name=digest.recipient_name,
        institution_name=settings.institution_name,
        sender_name=settings.sender_name,
        reply_to=settings.reply_to or settings.sender_address,
        edited=settings.templates,
    )


_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP  # readable in the raw message, like most mail clients send


def _header(value: str) -> str:
    """A header value as sent: ASCII as it is, anything else RFC 2047-encoded."""
    return value if value.isascii() else Header(value, "utf-8").encode()


def compose(digest: outbox.Digest, settings: NotifySettings) -> Message:
    """One digest as a multipart/alternative message (plain text, then HTML).

    Built with the ``email.mime`` classes rather than ``EmailMessage``: the modern header registry
    parses every header it is given, which made composing cost several times what sending does
    (``bench/notify.py``)."""
    mail = rendered(digest, settings)
    domain = settings.sender_address.rpartition("@")[2] or "cohortdesk.invalid"
    msg = MIMEMultipart("alternative")
    msg["From"] = formataddr((settings.sender_name or settings.institution_name, settings.sender_address))
    msg["To"] = formataddr((digest.recipient_name, digest.recipient_email))
    if settings.reply_to:
        msg["Reply-To"] = settings.reply_to
    msg["Subject"] = _header(mail.subject)
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = f"<{digest.message_key}@{domain}>"
    msg["Auto-Submitted"] = "auto-generated"
    # A Charset object is accepted (typeshed says str): it sets quoted-printable instead of base64.
    msg.attach(MIMEText(mail.text, "plain", _UTF8_QP))  # type: ignore[arg-type]
    msg.attach(MIMEText(f"<!DOCTYPE html><html><body>{mail.html}</body></html>", "html", _UTF8_QP))  # type: ignore[arg-type]
    return msg


def _wire(msg: Message) -> bytes:
    """The message as sent after DATA: CRLF lines, leading dots doubled, ending with CRLF.CRLF."""
    data = msg.as_bytes()
    data = re.sub(rb"(?:\r\n|\n|\r(?!\n))", b"\r\n", data)
    data = re.sub(rb"(?m)^\.", b"..", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


# --- SMTP ---------------------------------------------------------------------------------------


class SmtpTransport:
    """One SMTP connection kept open across messages; every failure says whether anything went out."""

    def __init__(self, settings: NotifySettings, password: str | None, timeout: float = 30.0):
        self.settings = settings
        self.password = password
        self.timeout = timeout
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context()
        if s.smtp_security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                s.smtp_host, s.smtp_port, timeout=self.timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=self.timeout)
        try:
            smtp.ehlo()
            if s.smtp_security == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            if s.smtp_username:
                if not self.password:
                    raise smtplib.SMTPAuthenticationError(
                        530, b"no SMTP password in this computer's keyring for " + s.smtp_username.encode()
                    )
                smtp.login(s.smtp_username, self.password)
        except BaseException:
            _quietly_close(smtp)
            raise
        return smtp

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
            _quietly_close(self._smtp)
            self._smtp = None

    def _drop(self) -> None:
        if self._smtp is not None:
            _quietly_close(self._smtp)
            self._smtp = None

    def send(self, from_address: str, to_address: str, payload: bytes) -> Outcome:
        for retry_fresh in (True, False):
            reused = self._smtp is not None
            try:
                if self._smtp is None:
                    self._smtp = self._connect()
                smtp = self._smtp
                code, reply = smtp.mail(from_address)
                if code != 250:
                    return self._refused(code, reply, "the sender address")
                code, reply = smtp.rcpt(to_address)
                if code not in (250, 251):
                    return self._refused(code, reply, f"the address {to_address}")
                code, reply = smtp.docmd("DATA")
                if code != 354:
                    return self._refused(code, reply, "the message")
            except smtplib.SMTPAuthenticationError as exc:
                self._drop()
                return Outcome("retry", f"The SMTP server refused the login: {_text(exc.smtp_error)}")
            except (OSError, smtplib.SMTPException) as exc:
                self._drop()
                if reused and retry_fresh:
                    continue  # an idle connection the server had closed: nothing was sent, reconnect once
                return Outcome(
                    "retry", f"Could not reach the SMTP server {self.settings.smtp_host}: {_why(exc)}"
                )
            try:
                smtp.send(payload)
            except (OSError, smtplib.SMTPException) as exc:
                self._drop()
                return Outcome(
                    "retry",
                    "The connection dropped while the message was being sent (the server accepts only a "
                    f"complete message): {_why(exc)}",
                )
            try:
                code, reply = smtp.getreply()
            except (OSError, smtplib.SMTPException) as exc:
                self._drop()
                return Outcome(
                    "unknown",
                    "The connection dropped after the whole message was sent and before the server "
                    f"answered, so it may have been delivered: {_why(exc)}",
                )
            if code == 250:
                return Outcome("sent", _text(reply))
            return self._refused(code, reply, "the message")
        return Outcome("retry", "Could not reach the SMTP server.")  # pragma: no cover - loop always returns

    def _refused(self, code: int, reply: bytes, what: str) -> Outcome:
        try:
            assert self._smtp is not None
            self._smtp.rset()
        except (OSError, smtplib.SMTPException, AssertionError):
            self._drop()
        outcome = "retry" if 400 <= code < 500 else "failed"
        return Outcome(outcome, f"The SMTP server refused {what}: {code} {_text(reply)}")


def _quietly_close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.close()
    except OSError:
        pass


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _why(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


# --- the loop -----------------------------------------------------------------------------------

_COUNTERS = {"sent": "sent", "retry": "retried", "failed": "failed", "unknown": "unknown"}


def retry_delay(attempts: int, base_seconds: float) -> int:
    """Seconds before the next try: doubling from ``base_seconds``, at most 6 hours, with jitter."""
    if base_seconds <= 0:
        return 0
    delay = min(base_seconds * 2 ** max(attempts, 0), 6 * 3600)
    return int(delay * random.uniform(0.8, 1.2))


def run_once(
    db: Database,
    identity: Identity | None = None,
    *,
    flush: bool = False,
    learners: int = 50,
    lease_seconds: int = 300,
    retry_base_seconds: float = 60.0,
    run_rule: bool = True,
    host: str | None = None,
    passwords: Callable[[NotifySettings], str | None] = smtp_password,
    stop: threading.Event | None = None,
    limit: int | None = None,
) -> SendReport:
    """Send every due digest (all waiting ones with ``flush``) and return what happened."""
    report = SendReport()
    host = host or socket.gethostname()
    if run_rule:
        try:
            # The scheduled rule (no enrollment ids) never consults the identity.
            report.reminders = len([r for r in outbox.remind(db, identity, None) if r.queued])  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001 - the rule must not stop sending
            report.problems.append(f"The reminder rule did not run: {exc}")
    all_settings = load_all(db)
    transports: dict[int, SmtpTransport] = {}
    finished: list[outbox.Finished] = []
    try:
        empty_claims = 0
        while not (stop and stop.is_set()) and (limit is None or report.total < limit):
            digests = outbox.claim(db, learners=learners, lease_seconds=lease_seconds, flush=flush)
            if not digests:
                # Nothing due, or another sender was claiming the same oldest learners at this very
                # moment (their rows are skipped while locked): look again before stopping.
                empty_claims += 1
                if empty_claims >= EMPTY_CLAIMS_BEFORE_STOPPING:
                    break
                time.sleep(0.02 * empty_claims)
                continue
            empty_claims = 0
            for digest in digests:
                attempt = outbox.progress(db, finished, digest, host)
                finished = []
                if attempt is None:
                    report.lost_claims += 1
                    continue
                settings = all_settings.get(digest.institution_id)
                if settings is None or not settings.configured:
                    result = Outcome("retry", NOT_SET_UP)
                else:
                    transport = transports.get(digest.institution_id)
                    if transport is None:
                        transport = SmtpTransport(
                            settings, passwords(settings) if settings.smtp_username else None
                        )
                        transports[digest.institution_id] = transport
                    try:
                        result = transport.send(
                            settings.sender_address, digest.recipient_email, _wire(compose(digest, settings))
                        )
                    except Exception as exc:  # noqa: BLE001 - composing failed: nothing went out
                        result = Outcome("retry", f"The e-mail could not be prepared: {exc}")
                tries = max(r.attempts for r in digest.rows)
                finished.append(
                    outbox.Finished(
                        attempt, result.outcome, result.detail, retry_delay(tries, retry_base_seconds)
                    )
                )
                counter = _COUNTERS.get(result.outcome, "unknown")
                setattr(report, counter, getattr(report, counter) + 1)
                if result.outcome != "sent":
                    log.info(
                        "Notification to %s: %s (%s)", digest.recipient_email, result.outcome, result.detail
                    )
            if finished:
                outbox.progress(db, finished, None, host)
                finished = []
            if report.retried:
                break  # the server is struggling: the rest waits for the next round, not a tight loop
    finally:
        if finished:
            outbox.progress(db, finished, None, host)
        for transport in transports.values():
            transport.close()
    return report


def serve(
    db: Database,
    identity: Identity | None = None,
    *,
    interval: float = 60.0,
    stop: threading.Event | None = None,
    on_report: Callable[[SendReport], None] | None = None,
    **options: object,
) -> None:
    """Run ``run_once`` every ``interval`` seconds until ``stop`` is set; errors are logged, not fatal."""
    stop = stop or threading.Event()
    while not stop.is_set():
        started = time.monotonic()
        try:
            report = run_once(db, identity, stop=stop, **options)  # type: ignore[arg-type]
            if on_report is not None:
                on_report(report)
        except Exception:  # noqa: BLE001 - a database outage: log it and try again next round
            log.exception("Sending notifications failed; trying again in %s s", interval)
        stop.wait(max(0.0, interval - (time.monotonic() - started)))
