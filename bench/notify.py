"""Benchmark: 10,000 notification outbox rows delivered to a local SMTP server by ``cohortdesk notify``,
against a plain ``smtplib`` loop sending the same messages over one connection in the same run.

The data is built the way people build it: ``services.demo`` loads learners (its rejections queue
their notifications through the database's trigger), the institution's e-mail settings are saved
through ``notify.settings.save``, and reminders of missing uploads are queued through
``notify.outbox.remind`` (what an officer's *Remind* does) until the outbox holds ``--rows`` rows.

Timed: ``notify.sender.run_once(flush=True)`` until every row is delivered (claiming digests under a
lease, one attempt row committed before each SMTP conversation, outcome and next attempt recorded in
one round trip, one digest e-mail per learner). Baseline: the very messages the SMTP server received
(same envelope, same bytes), sent again with ``smtplib.SMTP.sendmail`` in a loop over one connection,
no database at all. The SMTP server (aiosmtpd) runs in a process of its own so neither side shares
its interpreter. Printed per backend: rows and e-mails per second, the baseline's e-mails per
second, and the ratio (sender e-mails/s ÷ baseline e-mails/s; 1.00 = as fast as the bare loop).

    python bench/notify.py [--rows 10000] [--backend sqlite|postgresql|both]

PostgreSQL: ``COHORTDESK_BENCH_PG_URL`` (default the local server's ``postgres`` database) names a
server where this script may create and drop a database. Needs ``aiosmtpd`` (the test extras).
"""

# ruff: noqa: E402 - the import path is fixed before the imports (see below)
from __future__ import annotations

import sys
from pathlib import Path

# bench/queue.py is named like the standard library's ``queue``: keep this folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import os
import smtplib
import socket
import struct
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, replace

from sqlalchemy import create_engine, func, make_url, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cohortdesk.db import Database, migrate
from cohortdesk.models import Cohort, CohortEnrollment, DocumentVerification, NotificationOutbox
from cohortdesk.services import demo
from cohortdesk.services.access.identity import resolve_identity
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.services.notify import outbox, sender
from cohortdesk.services.notify import settings as ns

ADMIN_URL = os.environ.get("COHORTDESK_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")

# The SMTP server process: aiosmtpd on a loopback port, appending every message it accepts to a file
# (length-prefixed envelope and bytes), so the baseline can send exactly what the sender sent.
SERVER = r"""
import struct, sys, threading
from aiosmtpd.controller import Controller

port, path = int(sys.argv[1]), sys.argv[2]
out = open(path, "ab", buffering=1 << 20)
lock = threading.Lock()

class Sink:
    async def handle_DATA(self, server, session, envelope):
        data = bytes(envelope.original_content or envelope.content)
        head = "\n".join([envelope.mail_from, *envelope.rcpt_tos]).encode()
        with lock:
            out.write(struct.pack("!II", len(head), len(data)) + head + data)
        return "250 Message accepted"

controller = Controller(Sink(), hostname="127.0.0.1", port=port, ready_timeout=10)
controller.start()
print("ready", flush=True)
for line in sys.stdin:
    if line.strip() == "flush":
        with lock:
            out.flush()
        print("flushed", flush=True)
controller.stop()
out.close()
"""


class SmtpSink:
    """The server process; ``messages()`` reads back what it accepted since the last ``clear()``."""

    def __init__(self, folder: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.path = folder / "received.bin"
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(self.port), str(self.path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None and self.process.stdout.readline().strip() == "ready"

    def messages(self) -> list[tuple[str, list[str], bytes]]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("flush\n")
        self.process.stdin.flush()
        self.process.stdout.readline()
        found = []
        data = self.path.read_bytes()
        at = 0
        while at < len(data):
            head_len, body_len = struct.unpack_from("!II", data, at)
            at += 8
            mail_from, *rcpt = data[at : at + head_len].decode().split("\n")
            at += head_len
            found.append((mail_from, rcpt, data[at : at + body_len]))
            at += body_len
        return found

    def clear(self) -> None:
        self.messages()
        self.path.write_bytes(b"")

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(10)


@dataclass(frozen=True)
class Figures:
    rows: int
    emails: int
    sender_seconds: float
    baseline_seconds: float

    def report(self, backend: str) -> None:
        sender_rate = self.emails / self.sender_seconds
        baseline_rate = self.emails / self.baseline_seconds
        print(f"{backend}: {self.rows:,} outbox rows in {self.emails:,} digest e-mails")
        print(
            f"  cohortdesk notify:   {self.sender_seconds:6.2f} s  {self.rows / self.sender_seconds:8.0f} rows/s"
            f"  {sender_rate:7.0f} e-mails/s"
        )
        print(
            f"  plain smtplib loop:  {self.baseline_seconds:6.2f} s  {'':>13}  {baseline_rate:7.0f} e-mails/s"
        )
        print(f"  ratio (notify / smtplib): {sender_rate / baseline_rate:.2f}x")


def fill_outbox(db: Database, rows: int, port: int) -> None:
    """Demo learners, e-mail settings pointing at the sink, then reminders until ``rows`` are queued."""
    identity = resolve_identity(db)
    for settings in ns.load_all(db).values():
        ns.save(
            db,
            identity,
            replace(
                settings,
                smtp_host="127.0.0.1",
                smtp_port=port,
                smtp_security="none",
                sender_name=settings.institution_name,
                sender_address="admissions@training.example",
                digest_minutes=0,
            ),
        )
    with db.read_session() as s:
        # Demo rejections that a later decision replaced are not sent ("superseded"): not counted.
        later = select(DocumentVerification.id).where(
            DocumentVerification.cohort_enrollment_id == NotificationOutbox.cohort_enrollment_id,
            DocumentVerification.document_type == NotificationOutbox.document_type,
            DocumentVerification.id > NotificationOutbox.document_verification_id,
        )
        queued = s.scalar(select(func.count()).select_from(NotificationOutbox).where(~later.exists())) or 0
        candidates = s.execute(
            select(CohortEnrollment.id, Cohort.required_document_types, CohortEnrollment.uploaded_documents)
            .join(Cohort, Cohort.id == CohortEnrollment.cohort_id)
            .order_by(CohortEnrollment.id)
        ).all()
    missing = [i for i, required, uploaded in candidates if outbox.missing_documents(required, uploaded)]
    need = rows - queued
    if need > len(missing):
        raise SystemExit(f"only {queued + len(missing):,} rows possible: raise --students")
    for start in range(0, need, 1000):
        outbox.remind(db, identity, missing[start : min(start + 1000, need)])


def run(db: Database, rows: int, students: int, folder: Path) -> Figures:
    migrate.upgrade(db)
    demo.load_demo(db, students, store=DocumentStore(folder / "storage"), unique_file_students=20)
    sink = SmtpSink(folder)
    try:
        fill_outbox(db, rows, sink.port)
        identity = resolve_identity(db)
        started = time.perf_counter()
        while True:
            report = sender.run_once(
                db, identity, flush=True, run_rule=False, learners=200, retry_base_seconds=0
            )
            if not report.total:
                break
        sender_seconds = time.perf_counter() - started
        statuses = Counter(r.status for r in outbox.rows(db))
        if statuses["sent"] != rows:
            raise SystemExit(f"{rows:,} rows to send, not all sent: {dict(statuses)}")
        messages = sink.messages()
        sink.clear()
        started = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", sink.port) as smtp:
            for mail_from, rcpt, data in messages:
                smtp.sendmail(mail_from, rcpt, data)
        baseline_seconds = time.perf_counter() - started
        if len(sink.messages()) != len(messages):
            raise SystemExit("the baseline lost messages")
        return Figures(statuses["sent"], len(messages), sender_seconds, baseline_seconds)
    finally:
        sink.stop()


def _admin():  # noqa: ANN202
    return create_engine(
        ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )


def bench_postgres(rows: int, students: int, folder: Path) -> None:
    name = f"cdbench_notify_{uuid.uuid4().hex[:8]}"
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(ADMIN_URL).set(drivername="postgresql+psycopg", database=name).render_as_string(False)
    db = Database(url)
    try:
        run(db, rows, students, folder).report("PostgreSQL")
    finally:
        db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def bench_sqlite(rows: int, students: int, folder: Path) -> None:
    db = Database(f"sqlite:///{folder / 'bench.db'}")
    try:
        run(db, rows, students, folder).report("SQLite")
    finally:
        db.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--students", type=int, default=0, help="demo learners (default: enough for --rows)")
    parser.add_argument("--backend", choices=("both", "sqlite", "postgresql"), default="both")
    args = parser.parse_args()
    students = args.students or max(500, int(args.rows * 3.2))
    for backend in ("sqlite", "postgresql"):
        if args.backend not in (backend, "both"):
            continue
        with tempfile.TemporaryDirectory() as folder:
            (bench_sqlite if backend == "sqlite" else bench_postgres)(args.rows, students, Path(folder))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
