"""Realistic, repeatable demo data: ``load_demo(db, students=200, seed=7)``.

Two institutions, each with its DocuSeal account, a super admin and officers, canned rejection reasons,
sponsors, DocuSeal template folders and templates (main agreements with their source PDFs, supporting
templates), cohorts of every programme type in every state, and ``students`` enrollments spread over
every enrollment and verification state. Students have South African names (some with diacritics or
apostrophes), SA ID numbers consistent with their date of birth and sex (a few deliberately not, so the
officer's mismatch highlighting has something to show), SETMIS codes, cities and e-mails. Each upload is
a real file written through ``DocumentStore.put`` in DocuSeal's disk layout (multi-page PDFs with a
certification stamp, sideways phone photos with an EXIF orientation tag, PNG scans, multi-page TIFFs),
with the matching DocuSeal submission, submitter, blob and attachment rows; verified and rejected packs
carry their ``document_verifications`` history by officers. A few deliberate fraud prompts: the same ID
number in two active cohorts, the same file uploaded by two learners.

Everything is seeded: the same ``seed`` (and ``now``) gives the same names, numbers, states and files.
Beyond ``unique_file_students`` students the generated files are reused (their blobs are shared), so a
100,000-student load needs a few thousand files, not hundreds of thousands.

Rows go in with set-based inserts in chunks (``executemany``), ids drawn in blocks from each table's
sequence (PostgreSQL) or above its current maximum under the write lock (SQLite), all in one
transaction: a failure leaves the database as it was and removes the files written. A database that
already holds the demo (recognised by the demo accounts' fixed uuids) is refused and left untouched.

Staff roles: ``institutions.settings["staff"]`` lists ``{"user_id", "role"}`` with role ``super_admin``
or ``officer``; students are DocuSeal ``users`` with role ``STUDENT_USER_ROLE`` and no usable password.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cohortdesk.db import Database
from cohortdesk.errors import ConflictError, ValidationError
from cohortdesk.models import (
    Account,
)
from cohortdesk.services.demo.planning import DemoCancelled, ProgressFn
from cohortdesk.services.demo.reference import DEMO_ACCOUNT_UUIDS
from cohortdesk.services.demo.students import StudentWriter
from cohortdesk.services.demo.tables import IdBlocks, RowsHook
from cohortdesk.services.documents.storage import DocumentStore

BATCH_STUDENTS = 2000


@dataclass(frozen=True)
class DemoSummary:
    """What ``load_demo`` added, table by table."""

    seed: int
    accounts: int
    institutions: int
    staff_users: int
    sponsor_users: int
    student_users: int
    sponsors: int
    template_folders: int
    templates: int
    cohorts: int
    enrollments: int
    document_verifications: int
    submissions: int
    submitters: int
    blobs: int
    attachments: int
    files_written: int
    storage_root: str
    seconds: float
    enrollment_states: tuple[tuple[str, int], ...] = ()
    verification_states: tuple[tuple[str, int], ...] = ()
    institution_ids: tuple[int, ...] = ()

    @property
    def rows(self) -> int:
        return (
            self.accounts
            + self.institutions
            + self.staff_users
            + self.sponsor_users
            + self.student_users
            + self.sponsors
            + self.template_folders
            + self.templates
            + self.cohorts
            + self.enrollments
            + self.document_verifications
            + self.submissions
            + self.submitters
            + self.blobs
            + self.attachments
        )

    def describe(self) -> str:
        states = ", ".join(f"{n} {s}" for s, n in self.enrollment_states)
        checks = ", ".join(f"{n} {s}" for s, n in self.verification_states)
        return "\n".join(
            [
                f"Demo data loaded (seed {self.seed}) in {self.seconds:.1f} s: {self.rows:,} rows.",
                f"  {self.institutions} institutions, {self.staff_users} staff users, {self.sponsors} sponsors, "
                f"{self.templates} DocuSeal templates in {self.template_folders} folders, {self.cohorts} cohorts",
                f"  {self.enrollments:,} enrollments of {self.student_users:,} students ({states})",
                f"  verification: {checks}; {self.document_verifications:,} decisions recorded",
                f"  DocuSeal: {self.submissions:,} submissions, {self.submitters:,} submitters, "
                f"{self.blobs:,} blobs, {self.attachments:,} attachments",
                f"  {self.files_written:,} document files written under {self.storage_root}",
            ]
        )


def has_demo(db: Database) -> bool:
    with db.read_session() as s:
        return bool(s.scalar(select(func.count()).where(Account.uuid.in_(DEMO_ACCOUNT_UUIDS))))


def load_demo(
    db: Database,
    students: int = 200,
    seed: int = 7,
    store: DocumentStore | None = None,
    progress: ProgressFn | None = None,
    *,
    cancelled: Callable[[], bool] | None = None,
    now: datetime | None = None,
    unique_file_students: int = 2000,
    on_rows: RowsHook | None = None,
) -> DemoSummary:
    """Load the demo into ``db`` (already migrated) and its documents into ``store``.

    ``progress(done, total, text)`` is called as work proceeds and ``cancelled()`` polled between
    batches (the runner's conventions). ``on_rows(table, sql, params)`` sees every chunk inserted
    (benchmarks replay them).
    Raises ``ConflictError`` when the database already holds the demo.
    """
    if students < 1 or students > 2_000_000:
        raise ValidationError("students", "must be between 1 and 2,000,000")
    started = time.perf_counter()
    if has_demo(db):
        raise ConflictError(
            "This database already holds the demo data (the Ikhwezi Skills Academy and Umoya Training "
            "Institute accounts); nothing was added. Load the demo into an empty database instead."
        )
    store = store or DocumentStore()
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    report = progress or (lambda *_args, **_kwargs: None)
    generator = DemoGenerator(seed, now, students, store, unique_file_stud=unique_file_students)
    report(0, students, "Generating students")
    generator.plan()
    try:
        generator.write_files(report, cancelled)
        report(0, students, "Saving rows")
        with db.session() as session:
            generator.insert(session, report, cancelled, on_rows)
    except IntegrityError as exc:
        generator.remove_files()
        if has_demo(db):
            raise ConflictError(
                "Another demo load finished first: this database now holds the demo data; nothing more was added."
            ) from exc
        raise
    except BaseException:
        generator.remove_files()
        raise
    report(students, students, "Demo data loaded")
    return generator.summary(time.perf_counter() - started)


class DemoGenerator(StudentWriter):
    """Plans the demo, writes its files and inserts its rows, in that order (each layer in its module)."""

    def insert(
        self,
        session: Session,
        report: ProgressFn,
        cancelled: Callable[[], bool] | None,
        on_rows: RowsHook | None,
    ) -> None:
        if session.get_bind().dialect.name == "sqlite":
            # Take SQLite's write lock before reading the id maxima, so nobody slips in between.
            session.execute(text("DELETE FROM accounts WHERE 1 = 0"))
        self.ids = IdBlocks(session)
        self.blob_ids = {}
        self._insert_organisations(session, on_rows)
        total = len(self.plans)
        for start in range(0, total, BATCH_STUDENTS):
            if cancelled is not None and cancelled():
                raise DemoCancelled("Loading the demo data was cancelled; nothing was added.")
            self._insert_students(session, self.plans[start : start + BATCH_STUDENTS], on_rows)
            report(min(start + BATCH_STUDENTS, total), total, "Saving enrollments")

    # --- summary ----------------------------------------------------------------------------------

    def summary(self, seconds: float) -> DemoSummary:
        counts = self.totals.counts
        enrollment_states: dict[str, int] = {}
        verification_states: dict[str, int] = {}
        for plan in self.plans:
            enrollment_states[plan.state] = enrollment_states.get(plan.state, 0) + 1
            verification_states[plan.verification] = verification_states.get(plan.verification, 0) + 1
        organisation_users = counts.get("organisation_users", 0)
        staff = sum(len(ids) for ids in self.staff)
        return DemoSummary(
            seed=self.seed,
            accounts=counts.get("accounts", 0),
            institutions=counts.get("institutions", 0),
            staff_users=staff,
            sponsor_users=organisation_users - staff,
            student_users=counts.get("users", 0) - organisation_users,
            sponsors=counts.get("sponsors", 0),
            template_folders=counts.get("template_folders", 0),
            templates=counts.get("templates", 0),
            cohorts=counts.get("cohorts", 0),
            enrollments=counts.get("cohort_enrollments", 0),
            document_verifications=counts.get("document_verifications", 0),
            submissions=counts.get("submissions", 0),
            submitters=counts.get("submitters", 0),
            blobs=counts.get("active_storage_blobs", 0),
            attachments=counts.get("active_storage_attachments", 0),
            files_written=len(self.written),
            storage_root=str(self.store.root),
            seconds=seconds,
            enrollment_states=tuple(sorted(enrollment_states.items())),
            verification_states=tuple(sorted(verification_states.items())),
            institution_ids=tuple(self.institution_ids),
        )
