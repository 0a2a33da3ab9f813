"""``cohortdesk notify``: deliver the learner notification outbox by SMTP, once or as a service.

    cohortdesk notify                      # send what is due now (digest windows respected), then exit
    cohortdesk notify --now                # send everything waiting, ignoring the digest window
    cohortdesk notify --serve              # keep sending every --interval seconds (for IT to run as a service)
    cohortdesk notify --set-password       # keep the SMTP password in this machine's keyring
    cohortdesk notify --status             # what waits, what failed, what has an unknown outcome

On PostgreSQL run it as a super admin's login of the institution (row-level security limits it to that
institution's outbox); several senders may run at once, they never send the same notification twice.
The SMTP server, sender and templates are the institution's settings (Tools → Notifications…); the
SMTP password is read from the keyring of the machine this runs on, never from the database or a file.
Each round also applies the institution's reminder rule. SIGTERM / Ctrl+C stop after the current e-mail.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import signal
import sys
import threading
from typing import Any

from cohortdesk.cli.common import open_database
from cohortdesk.db import migrate
from cohortdesk.errors import ValidationError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "notify", help="send learners their rejection, reminder and verified e-mails"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--serve", action="store_true", help="keep running, sending every --interval seconds")
    mode.add_argument("--status", action="store_true", help="show the outbox, without sending")
    mode.add_argument(
        "--set-password", action="store_true", help="store the SMTP password in this machine's keyring"
    )
    parser.add_argument(
        "--now", action="store_true", help="send everything waiting, ignoring the digest window"
    )
    parser.add_argument(
        "--interval", type=float, default=60.0, help="seconds between rounds with --serve (60)"
    )
    parser.add_argument("--learners", type=int, default=50, help="learners (e-mails) claimed per batch (50)")
    parser.add_argument("--lease", type=int, default=300, help="seconds a claimed batch stays ours (300)")
    parser.add_argument("--institution", type=int, help="institution id, when the login sees more than one")
    parser.set_defaults(handler=_notify)


def _notify(args: argparse.Namespace) -> int:
    from cohortdesk.services.access.identity import resolve_identity
    from cohortdesk.services.notify import outbox, sender
    from cohortdesk.services.notify import settings as ns

    db = open_database(args)
    migrate.ensure_schema(db)
    identity = resolve_identity(db)
    if args.set_password:
        every = ns.load_all(db)
        chosen = every.get(args.institution) if args.institution else None
        if chosen is None and len(every) == 1:
            chosen = next(iter(every.values()))
        if chosen is None:
            raise ValidationError("--institution", "name the institution: " + ", ".join(map(str, every)))
        if not chosen.smtp_username:
            raise ValidationError("SMTP login", "is empty in the institution's settings: set it first")
        password = getpass.getpass(f"SMTP password for {chosen.smtp_username} at {chosen.smtp_host}: ")
        ns.set_smtp_password(chosen, password)
        print(f"kept in this machine's keyring as {chosen.keyring_account}")
        return 0
    if args.status:
        summary = outbox.summary(db, limit=20)
        print(
            ", ".join(f"{outbox.STATUS_LABELS.get(k, k)}: {v}" for k, v in sorted(summary.counts.items()))
            or "empty"
        )
        for row in summary.recent:
            if row.status in ("failed", "unknown"):
                print(f"  #{row.id} {row.kind} to {row.recipient_email}: {row.status}: {row.last_error}")
        return 0
    options = {"flush": args.now, "learners": args.learners, "lease_seconds": args.lease}
    if not args.serve:
        report = sender.run_once(db, identity, **options)
        for problem in report.problems:
            print(f"warning: {problem}", file=sys.stderr)
        print(report.summary())
        return 0
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    log = logging.getLogger("cohortdesk.notify")

    def on_report(report: sender.SendReport) -> None:
        if report.total or report.reminders or report.problems:
            log.warning("%s", report.summary())

    print(f"sending every {args.interval:g} s; Ctrl+C or SIGTERM stops", file=sys.stderr)
    sender.serve(db, identity, interval=args.interval, stop=stop, on_report=on_report, **options)
    return 0
