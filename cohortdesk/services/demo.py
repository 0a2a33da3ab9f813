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

import functools
import itertools
import math
import random
import string
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Table, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cohortdesk.db import Database
from cohortdesk.errors import CohortDeskError, ConflictError, ValidationError
from cohortdesk.models import (
    Account,
    ActiveStorageAttachment,
    ActiveStorageBlob,
    Cohort,
    CohortEnrollment,
    DocumentVerification,
    Institution,
    Sponsor,
    Submission,
    Submitter,
    Template,
    TemplateFolder,
    User,
)
from cohortdesk.models.types import NaiveUTCDateTime, UTCDateTime
from cohortdesk.services import demo_files as files
from cohortdesk.services.queue import DEFAULT_REJECTION_REASONS
from cohortdesk.services.storage import DocumentStore, StoredFile
from cohortdesk.services.validation import document_label, luhn_valid

#: The demo accounts' uuids are fixed whatever the seed: they mark a database that holds the demo.
DEMO_ACCOUNT_UUIDS = ("00000000-de70-4000-8000-000000000001", "00000000-de70-4000-8000-000000000002")
#: DocuSeal role given to student users: the least privileged role DocuSeal knows.
STUDENT_USER_ROLE = "viewer"
STAFF_USER_ROLE = "admin"
INSERT_CHUNK = 5000
BATCH_STUDENTS = 2000

ProgressFn = Callable[..., None]
RowsHook = Callable[[Table, str, list[tuple[Any, ...]]], None]


def bulk_insert(
    session: Session, table: Table, rows: list[dict[str, Any]], on_rows: RowsHook | None = None
) -> None:
    """Insert ``rows`` (dicts with the same keys) set-based: one ``executemany`` per chunk.

    Values go through the columns' own SQLAlchemy bind processors (JSON, UTC timestamps, booleans),
    applied once per value into plain tuples; the statement goes to the driver as is. The generic
    ``session.execute(insert(table), rows)`` spends most of its time building per-row parameter
    dictionaries, which matters at a million rows. (Multi-row ``VALUES`` statements measured slower
    than psycopg 3's pipelined ``executemany`` here.)
    """
    connection = session.connection()
    dialect = connection.dialect
    columns = [table.c[name] for name in rows[0]]
    processors = [_bind_converter(column.type, dialect) for column in columns]
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    quote = dialect.identifier_preparer.quote
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c.name) for c in columns)}) "
        f"VALUES ({', '.join([marker] * len(columns))})"
    )
    names = [c.name for c in columns]
    converters = [(name, fn) for name, fn in zip(names, processors, strict=True)]
    for start in range(0, len(rows), INSERT_CHUNK):
        params = [
            tuple(fn(row[name]) if fn is not None else row[name] for name, fn in converters)
            for row in rows[start : start + INSERT_CHUNK]
        ]
        connection.exec_driver_sql(sql, params)
        if on_rows is not None:
            on_rows(table, sql, params)


def _sqlite_utc_text(value: datetime | None) -> str | None:
    """``UTCDateTime``/``NaiveUTCDateTime`` bound for SQLite exactly as SQLAlchemy binds them (naive
    values are UTC already, aware ones are turned to UTC; ``YYYY-MM-DD HH:MM:SS.ffffff``), in one C
    call instead of a chain of Python ones: timestamps were most of the demo's conversion time."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(" ", "microseconds")


def _bind_converter(type_: Any, dialect: Any) -> Callable[[Any], Any] | None:
    """The column's bind processor (``None`` when values go to the driver as they are)."""
    if dialect.name == "sqlite" and isinstance(type_, UTCDateTime | NaiveUTCDateTime):
        return _sqlite_utc_text
    return type_.dialect_impl(dialect).bind_processor(dialect)


class DemoCancelled(CohortDeskError):
    """Loading the demo was cancelled; nothing was added."""


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


# --- reference data -------------------------------------------------------------------------------


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(","))


# group: (female first names, male first names, surnames)
_NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "BA": (
        _names(
            "Nomvula, Thandiwe, Lerato, Zanele, Ayanda, Naledi, Refilwe, Lindiwe, Nokuthula, Khanyisile, "
            "Boitumelo, Lesego, Rethabile, Masego, Busisiwe, Ntombi, Nandi, Kgomotso, Palesa, Dineo, Mpho, "
            "Nthabiseng, Zinhle, Sibongile, Precious, Nosipho, Ziyanda, Amahle, Onalenna, Tshegofatso"
        ),
        _names(
            "Sipho, Themba, Bongani, Kagiso, Tshepo, Nkosinathi, Siyabonga, Lwazi, Xolani, Thabo, Dumisani, "
            "Mandla, Tumelo, Kabelo, Thulani, Sibusiso, Andile, Vusi, Sizwe, Lebogang, Katlego, Mthunzi, "
            "Lungelo, Bheki, Tebogo, Olwethu, Lutho, Blessing, Given, Hlulani"
        ),
        _names(
            "Nkosi, Dlamini, Mokoena, Ndlovu, Khumalo, Mahlangu, Zulu, Mthembu, Molefe, Mabaso, Sithole, "
            "Mkhize, Ngcobo, Radebe, Maseko, Baloyi, Maluleke, Mathebula, Shabalala, Tshabalala, Motaung, "
            "Letsoalo, Masilela, Mabunda, Ngubane, Mkhabela, Ntuli, Zwane, Nxumalo, Mbatha, Buthelezi, Cele, "
            "Gumede, Hlongwane, Kubheka, Magagula, Nhlapo, Sehloho, Phiri, Mofokeng, Modise, Makgoba, "
            "Mashaba, Mudau, Tshivhase, Ravele"
        ),
    ),
    "BC": (
        _names("Chanté, Monique, Shireen, Natasha, Ashleigh, Candice, Lee-Ann, Rochelle, Jolene, Mikayla"),
        _names("Ashwin, Reagan, Jody, Clinton, Ebrahim, Waylon, Keenan, Shaun, Denver, Ruan"),
        _names(
            "Adams, Jacobs, Petersen, Hendricks, Williams, Isaacs, Abrahams, Davids, Solomons, Januarie, "
            "Cloete, Arendse, Fortuin, Daniels, Booysen, September, van Wyk, de Bruyn"
        ),
    ),
    "BI": (
        _names("Priya, Kavitha, Fatima, Ayesha, Nishana, Shanice, Reshma, Yashika, Zaheera, Deshnee"),
        _names("Yusuf, Reza, Kiran, Pravesh, Suren, Nikhil, Imraan, Rajesh, Devan, Zaid"),
        _names(
            "Naidoo, Pillay, Govender, Moodley, Chetty, Reddy, Padayachee, Singh, Maharaj, Khan, Patel, "
            "Moosa, Essop, Ramsamy, Perumal"
        ),
    ),
    "Wh": (
        _names(
            "Zoë, Chloë, Renée, Liezl, Anél, Annelie, Marné, Elmarie, Karien, Sarah, Emma, Megan, Mariëtte, "
            "Leané"
        ),
        _names(
            "André, Jean-Pierre, Ruan, Pieter, Johan, François, Hendrik, Liam, Daniel, Wian, Jaco, Gerhard, "
            "Connor, Stefan"
        ),
        _names(
            "Botha, van der Merwe, le Roux, du Plessis, Nel, Coetzee, Smith, Fourie, Kruger, Steyn, de "
            "Villiers, Swart, Olivier, Pretorius, Naudé, Lötter, Müller, O'Neill, van Niekerk, Venter, "
            "Joubert, Marais, Erasmus, McDonald"
        ),
    ),
}
_RACE_WEIGHTS = (("BA", 78), ("BC", 9), ("BI", 4), ("Wh", 7), ("Oth", 1), ("U", 1))
_DISABILITY_WEIGHTS = (
    ("N", 920), ("01", 14), ("02", 12), ("03", 6), ("04", 22), ("05", 6), ("06", 8), ("07", 4), ("09", 8)
)  # fmt: skip
#: City, SETMIS province code, weight.
_CITIES = (
    ("Johannesburg", "7", 14), ("Soweto", "7", 9), ("Tembisa", "7", 5), ("Pretoria", "7", 8),
    ("Soshanguve", "7", 3), ("Durban", "5", 8), ("Pietermaritzburg", "5", 3), ("Richards Bay", "5", 2),
    ("Cape Town", "1", 8), ("Khayelitsha", "1", 4), ("Mitchells Plain", "1", 3), ("Stellenbosch", "1", 1),
    ("George", "1", 1), ("Gqeberha", "2", 4), ("East London", "2", 2), ("Mthatha", "2", 2),
    ("Mdantsane", "2", 1), ("Bloemfontein", "4", 3), ("Welkom", "4", 1), ("Polokwane", "9", 3),
    ("Thohoyandou", "9", 1), ("Mbombela", "8", 2), ("eMalahleni", "8", 2), ("Rustenburg", "6", 2),
    ("Mahikeng", "6", 1), ("Kimberley", "3", 1), ("Upington", "3", 1),
)  # fmt: skip
_EMAIL_DOMAINS = (
    "gmail.example.com",
    "webmail.example.co.za",
    "students.example.ac.za",
    "vodamail.example.co.za",
)
_COMMISSIONERS = (
    "Sgt. T. Mahlangu", "Const. R. Naidoo", "W/O L. Botha", "Adv. P. Ngcobo", "Capt. J. Pretorius",
    "Const. Z. Mbatha", "M. Essop (Attorney)", "Sgt. N. Dlamini",
)  # fmt: skip
_PROGRAMME_DOCS = {
    "learnership": (
        "id_document",
        "matric_certificate",
        "cv",
        "proof_of_residence",
        "bank_confirmation_letter",
    ),
    "internship": (
        "id_document",
        "matric_certificate",
        "tertiary_qualification",
        "cv",
        "bank_confirmation_letter",
    ),
    "candidacy": ("id_document", "tertiary_qualification", "cv"),
}
_REASONS_FOR = {
    "id_document": ("not_certified", "smart_id_one_side_missing", "illegible", "name_mismatch"),
    "matric_certificate": ("not_certified", "certification_too_old", "illegible", "wrong_document"),
    "tertiary_qualification": ("foreign_qualification_needs_saqa", "not_certified", "pages_missing"),
    "cv": ("pages_missing", "illegible", "wrong_document"),
    "proof_of_residence": ("wrong_document", "illegible", "name_mismatch"),
    "bank_confirmation_letter": ("name_mismatch", "wrong_document"),
    "disability_proof": ("disability_letter_incomplete",),
}
_REASON_MESSAGES = {r.code: r.message for r in DEFAULT_REJECTION_REASONS}

_INSTITUTIONS = (
    {
        "account": "Ikhwezi Skills Academy",
        "name": "Ikhwezi Skills Academy (Pty) Ltd",
        "domain": "ikhwezi-skills.example.co.za",
        "registration_number": "QCTO SDP/1204/22",
        "address": "3rd Floor, 88 Commissioner Street, Marshalltown, Johannesburg, 2001",
        "phone": "011 555 0142",
        "hosting": "South Africa (Johannesburg data centre)",
        "staff": (("Nomsa", "Dube"), ("Pieter", "van Rensburg"), ("Ayesha", "Moosa"), ("Lwazi", "Ngema")),
        "sponsors": (
            ("Mzansi Mining Holdings (Pty) Ltd", "Karabo Sekhukhune", "4120567893"),
            ("Bokamoso Retail Group Ltd", "Liesl Engelbrecht", "4390218876"),
            ("Vaal Logistics (Pty) Ltd", "Sanjay Govender", "4781120934"),
        ),
    },
    {
        "account": "Umoya Training Institute",
        "name": "Umoya Training Institute NPC",
        "domain": "umoya-training.example.co.za",
        "registration_number": "QCTO SDP/0871/21",
        "address": "Unit 5, Harbour Park, 12 Marine Drive, Paarden Eiland, Cape Town, 7405",
        "phone": "021 555 0198",
        "hosting": "South Africa (Cape Town data centre)",
        "staff": (("Charlene", "Fortuin"), ("Sibusiso", "Khoza"), ("Megan", "O'Reilly")),
        "sponsors": (
            ("Karoo Solar Energy (Pty) Ltd", "Johan Lötter", "4012874455"),
            ("Indlovu Financial Services Ltd", "Thandeka Zungu", "4652210987"),
            ("Atlantic Hospitality Group (Pty) Ltd", "Marco de Sousa", "4230096612"),
        ),
    },
)

# (institution, name, programme, state, sponsor index, share of the enrollments)
_COHORTS = (
    (0, "Q1 2026 Retail Learnership (NQF 4)", "learnership", "active", 1, 20),
    (0, "2026 Electrical Engineering Learnership", "learnership", "active", 0, 14),
    (0, "2026 Graduate Internship — Finance", "internship", "active", 2, 11),
    (0, "2026 Candidate Engineers Programme", "candidacy", "active", 0, 6),
    (0, "2025 Contact Centre Learnership", "learnership", "completed", 1, 9),
    (0, "2025 IT Support Internship", "internship", "completed", 2, 4),
    (0, "Q3 2026 Logistics Learnership", "learnership", "draft", 2, 0),
    (0, "2026 Mining Candidacy (Surveying)", "candidacy", "cancelled", 0, 2),
    (1, "2026 Hospitality Learnership", "learnership", "active", 2, 12),
    (1, "2026 N-Diploma Internship (Engineering)", "internship", "active", 0, 8),
    (1, "2026 Candidate Accountants", "candidacy", "active", 1, 5),
    (1, "2024 Candidate Attorneys", "candidacy", "completed", 1, 3),
    (1, "2026 Renewable Energy Internship", "internship", "draft", 0, 1),
    (1, "2026 Tourism Learnership", "learnership", "cancelled", 2, 3),
    (1, "2025 Tourism Internship", "internship", "cancelled", 2, 2),
    (1, "2027 Candidate Actuaries", "candidacy", "draft", 1, 0),
)

_COHORT_SHARES = tuple((index, cohort[5]) for index, cohort in enumerate(_COHORTS))
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B36 = string.ascii_lowercase + string.digits


# --- small helpers ----------------------------------------------------------------------------------


def sa_id_number(dob: date, sex: str, rng: random.Random, citizen: bool = True) -> str:
    """A valid SA ID number for a date of birth and register sex (Luhn check digit included)."""
    sequence = rng.randrange(0, 5000) if sex == "F" else rng.randrange(5000, 10000)
    body = f"{dob:%y%m%d}{sequence:04d}{0 if citizen else 1}8"
    total = 0
    for index, char in enumerate(reversed(body)):  # the check digit will sit to the right of these
        value = int(char) * (2 if index % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    number = body + str((10 - total % 10) % 10)
    assert luhn_valid(number)
    return number


def ascii_fold(value: str) -> str:
    folded = unicodedata.normalize("NFKD", value)
    return "".join(c for c in folded if c.isascii() and c.isalnum())


@functools.lru_cache(maxsize=64)
def _cumulative(table: tuple[tuple[Any, ...], ...]) -> tuple[tuple[Any, ...], tuple[int, ...]]:
    return tuple(row[0] if len(row) == 2 else row for row in table), tuple(
        itertools.accumulate(row[-1] for row in table)
    )


def _weighted(rng: random.Random, table: tuple[tuple[Any, ...], ...]) -> Any:
    """One value of ``table`` (rows ending in their weight); whole rows when they carry more than a value."""
    values, cumulative = _cumulative(table)
    return rng.choices(values, cum_weights=cumulative)[0]


class _Ids:
    """Primary keys handed out before the rows are inserted, so children can point at parents.

    PostgreSQL: blocks of ``nextval`` from the table's own sequence (gaps are harmless). SQLite: above
    the current maximum, read while this transaction holds the write lock.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.postgres = session.get_bind().dialect.name == "postgresql"
        self._free: dict[str, list[int]] = {}
        self._block: dict[str, int] = {}
        self._next: dict[str, int] = {}

    def take(self, table: str) -> int:
        if not self.postgres:
            if table not in self._next:
                top = self.session.execute(text(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')).scalar_one()
                self._next[table] = int(top) + 1
            value = self._next[table]
            self._next[table] = value + 1
            return value
        free = self._free.setdefault(table, [])
        if not free:
            size = min(self._block.get(table, 64) * 4, 50_000)
            self._block[table] = size
            free.extend(
                reversed(
                    self.session.execute(
                        text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
                        {"t": table, "n": size},
                    )
                    .scalars()
                    .all()
                )
            )
        return int(free.pop())


@dataclass
class _Student:
    index: int
    first_name: str
    last_name: str
    email: str
    phone: str
    race: str
    gender: str  # self-reported
    disability: str
    city: str
    province: str
    date_of_birth: date  # as captured
    id_date_of_birth: date  # as encoded in the ID number
    sa_id_number: str | None
    alternate_id: str | None
    user_uuid: str
    user_id: int | None = None
    cohorts: set[int] = field(default_factory=set)

    def person(self) -> files.Person:
        return files.Person(
            self.first_name, self.last_name, self.sa_id_number, self.id_date_of_birth, self.gender, self.city
        )


@dataclass
class _Plan:
    student: _Student
    cohort: int  # index into _COHORTS
    state: str
    verification: str
    uploaded: tuple[str, ...]
    resubmitted: str | None  # a document rejected once and uploaded again
    rejected: tuple[str, ...]
    approved_early: tuple[str, ...]  # decisions already made on a pending pack
    created_at: datetime
    last_upload_at: datetime
    shared_file_from: int | None = None  # deliberate duplicate: reuse another student's ID file


@dataclass
class _Batch:
    """Rows of one batch of students, table by table, inserted parents first."""

    users: list[dict[str, Any]] = field(default_factory=list)
    blobs: list[dict[str, Any]] = field(default_factory=list)
    submissions: list[dict[str, Any]] = field(default_factory=list)
    submitters: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    enrollments: list[dict[str, Any]] = field(default_factory=list)
    verifications: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Totals:
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, table: str, n: int) -> None:
        self.counts[table] = self.counts.get(table, 0) + n


# --- the loader -------------------------------------------------------------------------------------


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
    generator = _DemoGenerator(seed, now, students, store, unique_file_stud=unique_file_students)
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


class _DemoGenerator:
    def __init__(self, seed: int, now: datetime, students: int, store: DocumentStore, unique_file_stud: int):
        self.seed = seed
        self.rng = random.Random(seed)
        self.now = now
        self.n = students
        self.store = store
        self.unique_files = max(1, unique_file_stud)
        self.totals = _Totals()
        self.plans: list[_Plan] = []
        self.written: list[StoredFile] = []
        # (institution index, student index, document type, version) -> (stored file, demo file). Files
        # are never shared between institutions: the database refuses another account's storage key.
        self.file_pool: dict[tuple[int, int, str, int], tuple[StoredFile, files.DemoFile]] = {}
        self.template_files: dict[str, tuple[StoredFile, files.DemoFile]] = {}
        self.institution_ids: list[int] = []

    # --- planning (pure Python, seeded) ---------------------------------------------------------

    def _uuid(self) -> str:
        """A version-4 UUID drawn from the seeded generator (formatted by hand: this runs a million times)."""
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"

    def _slug(self, length: int = 14) -> str:
        return "".join(self.rng.choices(_B58, k=length))

    def _blob_key(self) -> str:
        return "".join(self.rng.choices(_B36, k=28))

    def _cohort_dates(self, index: int) -> tuple[datetime, datetime, datetime]:
        """created_at, start and end of cohort ``index``, relative to now."""
        _inst, _name, programme, state, _sponsor, _share = _COHORTS[index]
        months = {"learnership": 12, "internship": 12, "candidacy": 24}[programme]
        offset = {"active": -40 - 12 * (index % 5), "completed": -400 - 30 * (index % 3),
                  "draft": 45 + 15 * (index % 3), "cancelled": -20 - 10 * (index % 4)}[state]  # fmt: skip
        start = (self.now + timedelta(days=offset)).replace(hour=8, minute=0, second=0)
        end = start + timedelta(days=30 * months)
        if state == "completed" and end > self.now:
            end = self.now - timedelta(days=20)
        created = min(start - timedelta(days=35), self.now - timedelta(days=5))
        return created.replace(hour=9, minute=0, second=0), start, end

    def _new_student(self, index: int, programme: str) -> _Student:
        rng = self.rng
        race = _weighted(rng, _RACE_WEIGHTS)
        group = race if race in _NAMES else rng.choice(tuple(_NAMES))
        female, male, surnames = _NAMES[group]
        gender = "F" if rng.random() < 0.56 else "M"
        first = rng.choice(female if gender == "F" else male)
        last = rng.choice(surnames)
        city, province, _w = _weighted(rng, _CITIES)
        low, high = (22, 35) if programme == "candidacy" else (18, 34)
        age_days = rng.randrange(low * 365 + 10, high * 365)
        dob = self.now.date() - timedelta(days=age_days)
        id_dob, id_sex, sa_id, alternate = dob, gender, None, None
        kind = index % 40  # one in forty of each, so even a small demo shows every case
        if kind == 29:
            alternate = f"{rng.choice('ABMP')}{rng.randrange(10**8):08d}"  # passport, no SA ID
        else:
            if kind == 3:  # deliberate mismatch: register sex differs from self-reported gender
                id_sex = "M" if gender == "F" else "F"
            elif kind == 17:  # deliberate mismatch: the captured birth date differs from the ID's
                id_dob = dob - timedelta(days=rng.choice((1, 31, 365, 366 + 31)))
            sa_id = sa_id_number(id_dob, id_sex, rng, citizen=rng.random() > 0.03)
        local = f"{ascii_fold(first).lower()}.{ascii_fold(last).lower()}{index + 1}"
        phone = f"0{rng.choice(('60', '61', '71', '72', '73', '76', '78', '79', '81', '82', '83', '84'))}"
        phone += f" {rng.randrange(1000):03d} {rng.randrange(10000):04d}"
        return _Student(
            index=index,
            first_name=first,
            last_name=last,
            email=f"{local}@{rng.choice(_EMAIL_DOMAINS)}",
            phone=phone,
            race=race,
            gender=gender,
            disability=_weighted(rng, _DISABILITY_WEIGHTS),
            city=city,
            province=province,
            date_of_birth=dob,
            id_date_of_birth=id_dob,
            sa_id_number=sa_id,
            alternate_id=alternate,
            user_uuid=self._uuid(),
        )

    def _cohort_for(self, index: int) -> int:
        """Spread enrollments over the cohorts by share, every enrollment state present even for tiny N."""
        return _weighted(self.rng, _COHORT_SHARES)

    def _states(self, cohort_state: str, forced: int | None) -> tuple[str, str]:
        rng = self.rng
        # The first few enrollments cover every (state, verification) pair, so even a tiny demo has all.
        pairs = (
            ("waiting", "pending"), ("in_progress", "pending"), ("in_progress", "verified"),
            ("in_progress", "rejected"), ("complete", "verified"),
        )  # fmt: skip
        if forced is not None:
            return pairs[forced]
        if cohort_state == "draft":
            return "waiting", "pending"
        if cohort_state == "completed":
            return ("complete", "verified") if rng.random() < 0.9 else ("in_progress", "rejected")
        state = _weighted(
            rng,
            (("waiting", 20), ("in_progress", 60), ("complete", 20))
            if cohort_state == "active"
            else (("waiting", 45), ("in_progress", 55)),
        )
        if state == "waiting":
            return state, "pending"
        if state == "complete":
            return state, "verified"
        return state, _weighted(rng, (("pending", 55), ("verified", 25), ("rejected", 20)))

    def plan(self) -> None:
        rng = self.rng
        active = [i for i, c in enumerate(_COHORTS) if c[3] == "active"]
        seen: list[_Plan] = []
        in_active: list[_Plan] = []
        want_shared_file = False
        for index in range(self.n):
            forced = index if index < 5 else None
            cohort = active[index % len(active)] if forced is not None else self._cohort_for(index)
            student: _Student | None = None
            if index % 50 == 21 and in_active:
                # Learnership hopping: someone already in an active cohort enrolls in another active
                # cohort of the same institution (the console flags the shared ID number).
                donor = rng.choice(in_active[-400:])
                institution = _COHORTS[donor.cohort][0]
                siblings = [
                    i for i in active if _COHORTS[i][0] == institution and i not in donor.student.cohorts
                ]
                if siblings:
                    student, cohort = donor.student, rng.choice(siblings)
            _inst, _name, programme, cohort_state, _sponsor, _share = _COHORTS[cohort]
            if student is None:
                student = self._new_student(index, programme)
            student.cohorts.add(cohort)
            state, verification = self._states(cohort_state, forced)
            required = _PROGRAMME_DOCS[programme]
            documents = list(required) + (["disability_proof"] if student.disability != "N" else [])
            uploaded: tuple[str, ...] = ()
            rejected: tuple[str, ...] = ()
            approved_early: tuple[str, ...] = ()
            resubmitted = None
            if state != "waiting":
                if verification == "pending" and rng.random() < 0.15:
                    uploaded = tuple(documents[: rng.randrange(1, len(documents))])  # still uploading
                else:
                    uploaded = tuple(documents)
                if verification == "rejected":
                    rejected = tuple(
                        rng.sample(uploaded, k=1 if rng.random() < 0.75 else min(2, len(uploaded)))
                    )
                elif verification == "verified" and rng.random() < 0.15:
                    resubmitted = rng.choice(uploaded)
                elif verification == "pending" and len(uploaded) == len(documents) and rng.random() < 0.3:
                    approved_early = tuple(uploaded[: rng.randrange(1, len(uploaded))])
            created_at, last_upload = self._times(cohort, state, verification)
            plan = _Plan(
                student=student,
                cohort=cohort,
                state=state,
                verification=verification,
                uploaded=uploaded,
                resubmitted=resubmitted,
                rejected=rejected,
                approved_early=approved_early,
                created_at=created_at,
                last_upload_at=last_upload,
            )
            want_shared_file = want_shared_file or (index % 70 == 45 and index < self.unique_files)
            if want_shared_file and "id_document" in uploaded:
                # The same scan uploaded by two learners of one institution: identical checksum across
                # different people (never across institutions, whose stored files are their own).
                sharer = next(
                    (
                        p
                        for p in reversed(seen)
                        if "id_document" in p.uploaded and _COHORTS[p.cohort][0] == _COHORTS[cohort][0]
                    ),
                    None,
                )
                if sharer is not None and sharer.student is not student:
                    plan.shared_file_from = sharer.student.index
                    want_shared_file = False
            self.plans.append(plan)
            seen.append(plan)
            if cohort_state == "active":
                in_active.append(plan)

    def _times(self, cohort: int, state: str, verification: str) -> tuple[datetime, datetime]:
        """When the enrollment was created and when its last document arrived (pending_since)."""
        rng = self.rng
        created_cohort, start, end = self._cohort_dates(cohort)
        horizon = min(self.now, end) - timedelta(hours=1)
        earliest = created_cohort + timedelta(days=1)
        if _COHORTS[cohort][3] in ("active", "draft") and state != "complete" and verification == "pending":
            # Waiting ages from an hour to about six weeks, mostly days: oldest-first has something to sort.
            age = timedelta(hours=min(max(rng.expovariate(1 / 150), 1), 42 * 24))
            last = max(earliest + timedelta(hours=2), self.now - age)
        else:
            span = max((horizon - earliest).total_seconds(), 7200)
            last = earliest + timedelta(seconds=rng.uniform(0.3, 0.8) * span)
        created = max(earliest, last - timedelta(days=rng.uniform(0.2, 12)))
        return created.replace(microsecond=0), last.replace(microsecond=0)

    # --- files -------------------------------------------------------------------------------------

    def _make_file(self, student: _Student, doc: str, version: int, when: date) -> files.DemoFile:
        rng = self.rng
        person = student.person()
        commissioner = rng.choice(_COMMISSIONERS)
        certified = when - timedelta(days=rng.randrange(2, 80))
        if doc == "id_document":
            roll = rng.random()
            # Scans, their flaws and the deliberate pre-check cases come from a generator of their
            # own, so the rest of the demo stays the same for a given seed.
            scan = random.Random(self.seed * 7919 + student.index * 31 + version)
            quality = files.degraded_quality(scan) if scan.random() < 0.5 else files.CLEAN_SCAN
            other_number = None
            kind = student.index % 40
            if kind == 11 and student.sa_id_number:  # the document carries someone else's number
                other_number = sa_id_number(student.id_date_of_birth, student.gender, scan)
            elif kind == 23:  # certified long ago: older than a three-month limit
                certified = when - timedelta(days=scan.randrange(150, 400))
            if roll < 0.25:
                orientation = rng.choice((6, 6, 8, 3, 1))
                shade = rng.randrange(20)
                if other_number or scan.random() < 0.6:
                    return files.id_card_photo_scan_jpeg(person, quality, orientation, other_number)
                return files.id_card_photo_jpeg(person, orientation=orientation, shade=shade)
            if roll < 0.33 and not other_number:
                return files.multipage_tiff(person, "Certified copy — identity document", pages=2)
            pages = 2 if rng.random() < 0.4 else 1
            if other_number or kind == 23 or scan.random() < 0.5:
                return files.certified_id_scan_jpeg(person, certified, commissioner, quality, other_number)
            return files.id_document_pdf(person, certified, commissioner, pages=pages)
        if doc == "matric_certificate":
            return files.matric_certificate_pdf(
                person, student.date_of_birth.year + 18, certified, commissioner
            )
        if doc == "cv":
            return files.cv_pdf(person, student.email, student.phone, pages=rng.choice((1, 2, 2, 3)))
        if doc == "proof_of_residence" and rng.random() < 0.35:
            return files.scanned_letter_png(person, "Municipal account — proof of residence", when)
        if doc == "disability_proof" and rng.random() < 0.3:
            return files.multipage_tiff(person, "Medical practitioner's letter", pages=3)
        detail = {
            "bank_confirmation_letter": f"Account holder: {person.full_name}; savings account ****{rng.randrange(10000):04d}",
            "disability_proof": f"Practice number {rng.randrange(10**6, 10**7)}; condition code {student.disability}",
            "tertiary_qualification": "Diploma in Management, NQF level 6, awarded with distinction",
        }.get(doc, "")
        return files.letter_pdf(person, doc, when, detail)

    def _put(self, demo_file: files.DemoFile) -> StoredFile:
        stored = self.store.put(
            demo_file.data, demo_file.file_name, demo_file.content_type, key=self._blob_key()
        )
        self.written.append(stored)
        return stored

    def write_files(self, report: ProgressFn, cancelled: Callable[[], bool] | None) -> None:
        for inst_index, inst in enumerate(_INSTITUTIONS):
            for programme in _PROGRAMME_DOCS:
                title = f"{programme.capitalize()} Agreement"
                demo_file = files.agreement_pdf(title, str(inst["name"]), pages=3)
                self.template_files[f"{inst_index}:{programme}"] = (self._put(demo_file), demo_file)
            for name in (
                "POPIA Consent Form",
                "Fixed-term Employment Contract (s18(2))",
                "Learner Code of Conduct",
            ):
                demo_file = files.agreement_pdf(name, str(inst["name"]), pages=1)
                self.template_files[f"{inst_index}:{name}"] = (self._put(demo_file), demo_file)
        done = 0
        for plan in self.plans:
            student = plan.student
            if student.index >= self.unique_files or not plan.uploaded:
                continue
            home = _COHORTS[plan.cohort][0]
            for doc in plan.uploaded:
                versions = (0, 1) if doc == plan.resubmitted else (0,)
                for version in versions:
                    key = (home, student.index, doc, version)
                    if key in self.file_pool:
                        continue
                    if doc == "id_document" and plan.shared_file_from is not None and version == 0:
                        donor = self.file_pool.get((home, plan.shared_file_from, doc, 0))
                        if donor is not None:
                            self.file_pool[key] = donor
                            continue
                    when = plan.last_upload_at.date()
                    demo_file = self._make_file(student, doc, version, when)
                    self.file_pool[key] = (self._put(demo_file), demo_file)
            done += 1
            if done % 100 == 0:
                if cancelled is not None and cancelled():
                    raise DemoCancelled("Loading the demo data was cancelled; nothing was added.")
                report(0, self.n, f"Writing documents for {done:,} students")
        # Students beyond the unique-file range reuse these files, per institution and document type.
        self.pool_by_doc: dict[tuple[int, str], list[tuple[StoredFile, files.DemoFile]]] = {}
        for (home, _index, doc, _version), entry in self.file_pool.items():
            self.pool_by_doc.setdefault((home, doc), []).append(entry)
        needed = {
            (_COHORTS[plan.cohort][0], doc)
            for plan in self.plans
            if plan.student.index >= self.unique_files
            for doc in plan.uploaded
        }
        for home, doc in sorted(needed - set(self.pool_by_doc)):
            student = next(
                p.student for p in self.plans if doc in p.uploaded and _COHORTS[p.cohort][0] == home
            )
            demo_file = self._make_file(student, doc, 0, self.now.date())
            self.pool_by_doc[(home, doc)] = [(self._put(demo_file), demo_file)]

    def remove_files(self) -> None:
        for stored in self.written:
            try:
                self.store.path_for_key(stored.key).unlink(missing_ok=True)
            except OSError:
                pass
        self.written.clear()

    # --- rows -------------------------------------------------------------------------------------

    def _emit(self, session: Session, table: Table, rows: list[dict[str, Any]], on_rows: Any) -> None:
        if rows:
            bulk_insert(session, table, rows, on_rows)
        self.totals.add(table.name, len(rows))

    def _blob_row(self, stored: StoredFile, demo_file: files.DemoFile, when: datetime) -> dict[str, Any]:
        blob_id = self.ids.take("active_storage_blobs")
        self.blob_ids[stored.key] = blob_id
        return {
            "id": blob_id,
            "key": stored.key,
            "filename": stored.file_name,
            "content_type": stored.content_type,
            "metadata": demo_file.blob_metadata(),
            "service_name": "disk",
            "byte_size": stored.size,
            "checksum": stored.checksum,
            # DocuSeal fills blob uuids lazily: some are still empty.
            "uuid": self._uuid() if self.rng.random() < 0.7 else None,
            "created_at": when,
        }

    def _attachment_row(self, record_type: str, record_id: int, name: str, blob_id: int, when: datetime):
        return {
            "id": self.ids.take("active_storage_attachments"),
            "name": name,
            "record_type": record_type,
            "record_id": record_id,
            "blob_id": blob_id,
            "uuid": self._uuid(),
            "created_at": when,
        }

    def _user_row(self, account_id: int, email: str, first: str, last: str, role: str, when: datetime):
        user_id = self.ids.take("users")
        return user_id, {
            "id": user_id,
            "account_id": account_id,
            "email": email.lower(),
            "encrypted_password": "",  # no usable password: these people sign in to CohortDesk, not here
            "first_name": first,
            "last_name": last,
            "role": role,
            "uuid": self._uuid(),
            "sign_in_count": 0,
            "failed_attempts": 0,
            "otp_required_for_login": False,
            "created_at": when,
            "updated_at": when,
        }

    def _own(self, table: str, account_id: int, when: datetime, **values: Any) -> dict[str, Any]:
        """A row of one of CohortDesk's own tables, with the columns every such table carries."""
        row = {
            "id": self.ids.take(table),
            "uuid": self._uuid(),
            "account_id": account_id,
            "created_at": when,
            "updated_at": when,
            "row_version": 1,
        }
        row.update(values)
        return row

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
        self.ids = _Ids(session)
        self.blob_ids: dict[str, int] = {}
        self._insert_organisations(session, on_rows)
        total = len(self.plans)
        for start in range(0, total, BATCH_STUDENTS):
            if cancelled is not None and cancelled():
                raise DemoCancelled("Loading the demo data was cancelled; nothing was added.")
            self._insert_students(session, self.plans[start : start + BATCH_STUDENTS], on_rows)
            report(min(start + BATCH_STUDENTS, total), total, "Saving enrollments")

    def _insert_organisations(self, session: Session, on_rows: Any) -> None:
        rng = self.rng
        created = self.now - timedelta(days=540)
        blobs: list[dict[str, Any]] = []
        attachments: list[dict[str, Any]] = []
        accounts, users, folders, templates = [], [], [], []
        institutions, sponsors, cohorts = [], [], []
        self.accounts: list[int] = []
        self.staff: list[list[int]] = []
        self.main_templates: dict[tuple[int, str], dict[str, Any]] = {}
        self.sponsor_rows: list[list[dict[str, Any]]] = []
        self.cohort_rows: list[dict[str, Any]] = []
        for inst_index, inst in enumerate(_INSTITUTIONS):
            account_id = self.ids.take("accounts")
            self.accounts.append(account_id)
            accounts.append(
                {
                    "id": account_id,
                    "name": inst["account"],
                    "timezone": "Africa/Johannesburg",
                    "locale": "en-US",
                    "uuid": DEMO_ACCOUNT_UUIDS[inst_index],
                    "archived_at": None,
                    "created_at": created,
                    "updated_at": created,
                }
            )
            staff_ids = []
            for first, last in inst["staff"]:
                email = f"{ascii_fold(first).lower()}.{ascii_fold(last).lower()}@{inst['domain']}"
                user_id, row = self._user_row(account_id, email, first, last, STAFF_USER_ROLE, created)
                staff_ids.append(user_id)
                users.append(row)
            self.staff.append(staff_ids)
            super_admin = staff_ids[0]
            # Template folders: DocuSeal gives every account a "Default" folder.
            folder_ids = {}
            for name, parent in (
                ("Default", None),
                ("Agreements", None),
                ("Supporting documents", "Agreements"),
            ):
                folder_id = self.ids.take("template_folders")
                folder_ids[name] = folder_id
                folders.append(
                    {
                        "id": folder_id,
                        "account_id": account_id,
                        "author_id": super_admin,
                        "name": name,
                        "parent_folder_id": folder_ids.get(parent) if parent else None,
                        "archived_at": None,
                        "created_at": created,
                        "updated_at": created,
                    }
                )
            for programme, required in _PROGRAMME_DOCS.items():
                stored, demo_file = self.template_files[f"{inst_index}:{programme}"]
                template = self._template(
                    account_id, super_admin, folder_ids["Agreements"], f"{programme.capitalize()} Agreement",
                    stored, demo_file, (*required, "disability_proof"), created, blobs, attachments,
                )  # fmt: skip
                templates.append(template["row"])
                self.main_templates[(inst_index, programme)] = template
            for name in (
                "POPIA Consent Form",
                "Fixed-term Employment Contract (s18(2))",
                "Learner Code of Conduct",
            ):
                stored, demo_file = self.template_files[f"{inst_index}:{name}"]
                template = self._template(
                    account_id, super_admin, folder_ids["Supporting documents"], name, stored, demo_file, (),
                    created, blobs, attachments,
                )  # fmt: skip
                templates.append(template["row"])
                self.main_templates[(inst_index, name)] = template
            old = self._template(
                account_id, super_admin, folder_ids["Default"], "Learnership Agreement (2023 version)",
                *self.template_files[f"{inst_index}:learnership"], ("id_document",), created, blobs, attachments,
            )  # fmt: skip
            old["row"]["archived_at"] = created + timedelta(days=90)
            templates.append(old["row"])

            institution = self._own(
                "institutions",
                account_id,
                created,
                name=inst["name"],
                registration_number=inst["registration_number"],
                address=inst["address"],
                contact_email=f"info@{inst['domain']}",
                contact_phone=inst["phone"],
                super_admin_id=super_admin,
                settings={
                    "rejection_reasons": [asdict(r) for r in DEFAULT_REJECTION_REASONS],
                    "hosting_location": inst["hosting"],
                    "staff": [
                        {"user_id": uid, "role": "super_admin" if uid == super_admin else "officer"}
                        for uid in staff_ids
                    ],
                    "created_by": "demo",
                    "demo_seed": self.seed,
                },
            )
            institutions.append(institution)
            self.institution_ids.append(institution["id"])
            inst_sponsors = []
            for sponsor_index, (company, contact, tax) in enumerate(inst["sponsors"]):
                first, last = contact.split(" ", 1)
                email = f"{ascii_fold(first).lower()}.{ascii_fold(last).lower()}@{ascii_fold(company.split()[0]).lower()}.example.co.za"
                sponsor_user = None
                if sponsor_index == 0:  # this sponsor signs in DocuSeal with an account of its own
                    sponsor_user, row = self._user_row(account_id, email, first, last, "viewer", created)
                    users.append(row)
                inst_sponsors.append(
                    self._own(
                        "sponsors",
                        account_id,
                        created,
                        institution_id=institution["id"],
                        company_name=company,
                        contact_email=email,
                        contact_name=contact,
                        contact_phone=f"0{rng.choice(('11', '12', '21', '31', '41'))} 555 {rng.randrange(10000):04d}",
                        tax_number=tax,
                        user_id=sponsor_user,
                    )
                )
            sponsors.extend(inst_sponsors)
            self.sponsor_rows.append(inst_sponsors)

        planned = [0] * len(_COHORTS)
        for plan in self.plans:
            planned[plan.cohort] += 1
        for index, (inst_index, name, programme, state, sponsor_index, _share) in enumerate(_COHORTS):
            when, start, end = self._cohort_dates(index)
            sponsor = self.sponsor_rows[inst_index][sponsor_index]
            main = self.main_templates[(inst_index, programme)]["row"]["id"]
            supporting = [self.main_templates[(inst_index, "POPIA Consent Form")]["row"]["id"]]
            if programme == "learnership":
                supporting.append(
                    self.main_templates[(inst_index, "Fixed-term Employment Contract (s18(2))")]["row"]["id"]
                )
            expected = max(10, int(math.ceil(planned[index] * 1.1 / 5.0)) * 5)
            row = self._own(
                "cohorts",
                self.accounts[inst_index],
                when,
                institution_id=self.institution_ids[inst_index],
                name=name,
                program_type=programme,
                sponsor_email=sponsor["contact_email"],
                sponsor_id=sponsor["id"],
                student_count=expected,
                main_template_id=main,
                supporting_templates=supporting,
                required_document_types=list(_PROGRAMME_DOCS[programme]),
                admin_signed_at=None if state == "draft" else start - timedelta(days=10),
                state=state,
                start_date=start,
                end_date=end,
                created_by_id=self.staff[inst_index][0],
            )
            if state == "draft":
                # Drafts that cannot be activated yet, so the guards have something to say.
                if programme == "learnership":
                    row["main_template_id"] = None
                elif programme == "candidacy":
                    row.update(student_count=0, start_date=None, end_date=None)
            cohorts.append(row)
        self.cohort_rows = cohorts

        for table, rows in (
            (Account.__table__, accounts),
            (User.__table__, users),
            (TemplateFolder.__table__, folders),
            (ActiveStorageBlob.__table__, blobs),
            (Template.__table__, templates),
            (ActiveStorageAttachment.__table__, attachments),
            (Institution.__table__, institutions),
            (Sponsor.__table__, sponsors),
            (Cohort.__table__, cohorts),
        ):
            self._emit(session, table, rows, on_rows)
        self.totals.add("organisation_users", len(users))

    def _template(
        self,
        account_id: int,
        author_id: int,
        folder_id: int,
        name: str,
        stored: StoredFile,
        demo_file: files.DemoFile,
        documents: tuple[str, ...],
        when: datetime,
        blobs: list[dict[str, Any]],
        attachments: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """A DocuSeal template: roles, fields (one file field per document type), schema, source PDF."""
        template_id = self.ids.take("templates")
        if stored.key not in self.blob_ids:
            blobs.append(self._blob_row(stored, demo_file, when))
        attachment = self._attachment_row(
            "Template", template_id, "documents", self.blob_ids[stored.key], when
        )
        attachments.append(attachment)
        roles = [
            {"name": role, "uuid": self._uuid()} for role in ("Learner", "Employer", "Training Provider")
        ]
        if not documents:
            roles = roles[:1]
        fields: list[dict[str, Any]] = []
        doc_fields: dict[str, str] = {}

        def area(page: int, row: int) -> list[dict[str, Any]]:
            return [{"attachment_uuid": attachment["uuid"], "page": page, "x": 0.12, "y": 0.1 + 0.07 * row,
                     "w": 0.34, "h": 0.045}]  # fmt: skip

        for row, doc in enumerate(documents):
            field_uuid = self._uuid()
            doc_fields[doc] = field_uuid
            fields.append(
                {"uuid": field_uuid, "submitter_uuid": roles[0]["uuid"], "name": document_label(doc), "type": "file",
                 "required": doc != "disability_proof", "preferences": {}, "areas": area(1, row)}
            )  # fmt: skip
        for line, role in enumerate(roles):
            fields.append({"uuid": self._uuid(), "submitter_uuid": role["uuid"], "name": f"{role['name']} signature",
                           "type": "signature", "required": True, "preferences": {}, "areas": area(demo_file.pages - 1, 8 + line)})  # fmt: skip
            fields.append({"uuid": self._uuid(), "submitter_uuid": role["uuid"], "name": "Date", "type": "date",
                           "required": True, "preferences": {"format": "YYYY-MM-DD"}, "areas": area(demo_file.pages - 1, 11 + line)})  # fmt: skip
        template_row = {
            "id": template_id,
            "account_id": account_id,
            "author_id": author_id,
            "folder_id": folder_id,
            "name": name,
            "slug": self._slug(),
            "external_id": None,
            "source": "native",
            "fields": fields,
            "schema": [
                {"attachment_uuid": attachment["uuid"], "name": demo_file.file_name.removesuffix(".pdf")}
            ],
            "submitters": roles,
            "preferences": {},
            "variables_schema": None,
            "shared_link": False,
            "archived_at": None,
            "created_at": when,
            "updated_at": when,
        }
        return {"row": template_row, "roles": roles, "doc_fields": doc_fields}

    def _pool_file(self, plan: _Plan, doc: str, version: int) -> tuple[StoredFile, files.DemoFile]:
        inst = _COHORTS[plan.cohort][0]
        own = self.file_pool.get((inst, plan.student.index, doc, version))
        if own is not None:
            return own
        candidates = self.pool_by_doc[(inst, doc)]
        return candidates[plan.student.index % len(candidates)]

    def _insert_students(self, session: Session, plans: list[_Plan], on_rows: Any) -> None:
        batch = _Batch()
        for plan in plans:
            self._student_rows(plan, batch)
        for table, rows in (
            (User.__table__, batch.users),
            (ActiveStorageBlob.__table__, batch.blobs),
            (Submission.__table__, batch.submissions),
            (Submitter.__table__, batch.submitters),
            (ActiveStorageAttachment.__table__, batch.attachments),
            (CohortEnrollment.__table__, batch.enrollments),
            (DocumentVerification.__table__, batch.verifications),
        ):
            self._emit(session, table, rows, on_rows)

    def _decided_at(self, after: datetime, until: datetime) -> datetime:
        """A moment between ``after`` and ``until`` (at least ten minutes later), whole seconds."""
        span = max((until - after).total_seconds(), 600)
        return (after + timedelta(seconds=self.rng.uniform(0.05, 0.9) * span)).replace(microsecond=0)

    def _upload_times(self, plan: _Plan) -> dict[str, datetime]:
        """Documents arrive between enrollment and the last upload; the last one (or a re-upload) last."""
        times: dict[str, datetime] = {}
        for position, doc in enumerate(plan.uploaded):
            if position == len(plan.uploaded) - 1 and doc != plan.resubmitted:
                times[doc] = plan.last_upload_at
            else:
                fraction = self.rng.uniform(0.0, 0.95)
                times[doc] = (plan.created_at + (plan.last_upload_at - plan.created_at) * fraction).replace(
                    microsecond=0
                )
        if plan.resubmitted:
            times[plan.resubmitted] = plan.last_upload_at
        return times

    def _signing_rows(
        self, plan: _Plan, batch: _Batch, until: datetime
    ) -> tuple[int | None, list[int], dict[str, Any] | None]:
        """The main agreement's submission with its three parties, and the POPIA consent submission."""
        rng = self.rng
        student = plan.student
        inst_index, _name, programme, cohort_state, sponsor_index, _share = _COHORTS[plan.cohort]
        if cohort_state == "draft":
            return None, [], None  # invitations go out when the cohort is activated
        account_id = self.accounts[inst_index]
        main = self.main_templates[(inst_index, programme)]
        complete = plan.state == "complete"
        learner_done = None
        if complete or (
            plan.state == "in_progress" and plan.verification != "pending" and rng.random() < 0.5
        ):
            learner_done = min(plan.last_upload_at + timedelta(minutes=rng.randrange(5, 600)), until)
        others_done = self._decided_at(learner_done, until) if complete and learner_done else None
        snapshot = student.index < self.unique_files
        submission_id = self.ids.take("submissions")
        submission = {
            "id": submission_id,
            "account_id": account_id,
            "template_id": main["row"]["id"],
            "created_by_user_id": self.staff[inst_index][0],
            "name": main["row"]["name"],
            "slug": self._slug(),
            "source": "invite",
            "submitters_order": "preserved",
            # DocuSeal snapshots the template; readers fall back to templates.fields when it is NULL.
            "template_fields": main["row"]["fields"] if snapshot else None,
            "template_schema": main["row"]["schema"] if snapshot else None,
            "template_submitters": main["row"]["submitters"] if snapshot else None,
            "preferences": {},
            "variables": None,
            "variables_schema": None,
            "expire_at": None,
            "completed_at": others_done,
            "archived_at": None,
            "created_at": plan.created_at,
            "updated_at": others_done or plan.last_upload_at,
        }
        batch.submissions.append(submission)
        sponsor = self.sponsor_rows[inst_index][sponsor_index]
        institution = _INSTITUTIONS[inst_index]
        parties = (
            (student.email, f"{student.first_name} {student.last_name}", student.phone, learner_done),
            (sponsor["contact_email"], sponsor["contact_name"], sponsor["contact_phone"], others_done),
            (f"info@{institution['domain']}", institution["name"], institution["phone"], others_done),
        )
        learner: dict[str, Any] | None = None
        for position, (role, (email, name, phone, done_at)) in enumerate(
            zip(main["roles"], parties, strict=True)
        ):
            opened = None
            if position == 0:
                if plan.uploaded:
                    opened = plan.last_upload_at
                elif rng.random() < 0.3:  # opened the invitation, nothing uploaded yet
                    opened = plan.created_at + timedelta(hours=3)
            row = {
                "id": self.ids.take("submitters"),
                "submission_id": submission_id,
                "account_id": account_id,
                "uuid": role["uuid"],
                "slug": self._slug(),
                "email": email,
                "name": name,
                "phone": phone,
                "external_id": None,
                "values": {},
                "preferences": {"send_email": True},
                "metadata": {},
                "sent_at": plan.created_at if position == 0 else learner_done,
                "opened_at": done_at or opened,
                "completed_at": done_at,
                "declined_at": None,
                "ip": "196.25.1.200" if done_at else None,
                "ua": "Mozilla/5.0 (Linux; Android 14) Mobile" if done_at else None,
                "timezone": "Africa/Johannesburg" if done_at else None,
                "created_at": plan.created_at,
                "updated_at": done_at or opened or plan.created_at,
            }
            batch.submitters.append(row)
            if position == 0:
                learner = row
        supporting: list[int] = []
        if plan.state != "waiting" and learner is not None:
            popia = self.main_templates[(inst_index, "POPIA Consent Form")]
            consent_id = self.ids.take("submissions")
            supporting.append(consent_id)
            consent_at = plan.created_at + timedelta(minutes=rng.randrange(10, 240))
            batch.submissions.append(
                {
                    **submission,
                    "id": consent_id,
                    "template_id": popia["row"]["id"],
                    "name": popia["row"]["name"],
                    "slug": self._slug(),
                    "template_fields": None,
                    "template_schema": None,
                    "template_submitters": None,
                    "completed_at": consent_at,
                    "updated_at": consent_at,
                }
            )
            batch.submitters.append(
                {
                    **learner,
                    "id": self.ids.take("submitters"),
                    "submission_id": consent_id,
                    "uuid": popia["roles"][0]["uuid"],
                    "slug": self._slug(),
                    "opened_at": consent_at,
                    "completed_at": consent_at,
                    "ip": "196.25.1.200",
                    "ua": "Mozilla/5.0 (Linux; Android 14) Mobile",
                    "timezone": "Africa/Johannesburg",
                    "updated_at": consent_at,
                }
            )
        return submission_id, supporting, learner

    def _student_rows(self, plan: _Plan, batch: _Batch) -> None:
        rng = self.rng
        student = plan.student
        inst_index, _name, programme, _state, _sponsor, _share = _COHORTS[plan.cohort]
        account_id = self.accounts[inst_index]
        cohort = self.cohort_rows[plan.cohort]
        if student.user_id is None:
            student.user_id, user = self._user_row(
                account_id,
                student.email,
                student.first_name,
                student.last_name,
                STUDENT_USER_ROLE,
                plan.created_at,
            )
            user["uuid"] = student.user_uuid
            batch.users.append(user)
        until = min(self.now, cohort["end_date"] or self.now)
        upload_times = self._upload_times(plan)
        submission_id, supporting_ids, learner = self._signing_rows(plan, batch, until)
        main = self.main_templates[(inst_index, programme)]

        uploaded_documents: dict[str, Any] = {}
        replaced: dict[str, dict[str, Any]] = {}
        values: dict[str, str] = {}
        for doc in plan.uploaded:
            for version in (0, 1) if doc == plan.resubmitted else (0,):
                stored, demo_file = self._pool_file(plan, doc, version)
                when = upload_times[doc]
                if doc == plan.resubmitted and version == 0:
                    when = (plan.created_at + (plan.last_upload_at - plan.created_at) * 0.3).replace(
                        microsecond=0
                    )
                if stored.key not in self.blob_ids:
                    batch.blobs.append(self._blob_row(stored, demo_file, when))
                meta = stored.as_upload()
                meta["uploaded_at"] = when.isoformat()
                if learner is not None:
                    attachment = self._attachment_row(
                        "Submitter", learner["id"], "attachments", self.blob_ids[stored.key], when
                    )
                    batch.attachments.append(attachment)
                    values[main["doc_fields"][doc]] = attachment["uuid"]
                if doc == plan.resubmitted and version == 0:
                    replaced[doc] = meta
                else:
                    uploaded_documents[doc] = meta
        if learner is not None:
            learner["values"] = values  # a replaced upload stays as an attachment no field refers to

        enrollment_id = self.ids.take("cohort_enrollments")
        officers = self.staff[inst_index]
        decisions: list[dict[str, Any]] = []

        def decide(
            doc: str, action: str, at: datetime, meta: dict[str, Any], code: str | None = None
        ) -> None:
            metadata = {"checksum": meta["checksum"], "storage_key": meta["storage_key"]}
            if code:
                metadata["reason_code"] = code
            officer = rng.choice(officers[1:]) if rng.random() < 0.85 else officers[0]
            decisions.append(
                self._own(
                    "document_verifications",
                    account_id,
                    at,
                    cohort_enrollment_id=enrollment_id,
                    admin_id=officer,
                    document_type=doc,
                    action=action,
                    reason=_REASON_MESSAGES[code] if code else None,
                    metadata=metadata,
                )
            )

        if plan.verification == "verified":
            if plan.resubmitted:
                old = replaced[plan.resubmitted]
                old_at = datetime.fromisoformat(old["uploaded_at"])
                first_at = (old_at + (plan.last_upload_at - old_at) * rng.uniform(0.2, 0.8)).replace(
                    microsecond=0
                )
                decide(
                    plan.resubmitted, "rejected", first_at, old, rng.choice(_REASONS_FOR[plan.resubmitted])
                )
            for doc in plan.uploaded:
                decide(doc, "approved", self._decided_at(plan.last_upload_at, until), uploaded_documents[doc])
        elif plan.verification == "rejected":
            for doc in plan.uploaded:
                at = self._decided_at(plan.last_upload_at, until)
                if doc in plan.rejected:
                    decide(doc, "rejected", at, uploaded_documents[doc], rng.choice(_REASONS_FOR[doc]))
                elif rng.random() < 0.7:
                    decide(doc, "approved", at, uploaded_documents[doc])
        else:
            for doc in plan.approved_early:
                decide(doc, "approved", self._decided_at(plan.last_upload_at, until), uploaded_documents[doc])
        decisions.sort(key=lambda row: row["created_at"])
        rejection_reason = None
        if plan.verification == "rejected":
            latest = {row["document_type"]: row for row in decisions}
            rejection_reason = "\n".join(
                f"{document_label(doc)}: {latest[doc]['reason']}" for doc in sorted(plan.rejected)
            )
        student_data: dict[str, Any] = {
            "age": _age(student.date_of_birth, self.now.date()),
            "date_of_birth": student.date_of_birth.isoformat(),
            "race": student.race,
            "gender": student.gender,
            "disability": student.disability,
            "city": student.city,
            "province": student.province,
            "phone": student.phone,
        }
        if student.sa_id_number:
            student_data["sa_id_number"] = student.sa_id_number
        else:
            student_data.update(alternate_id=student.alternate_id, alternate_id_type="527")  # 527: passport
        last_change = decisions[-1]["created_at"] if decisions else plan.last_upload_at
        batch.enrollments.append(
            {
                "id": enrollment_id,
                "uuid": self._uuid(),
                "account_id": account_id,
                "cohort_id": cohort["id"],
                "user_id": student.user_id,
                "submission_id": submission_id,
                "supporting_submission_ids": supporting_ids,
                "state": plan.state,
                "document_verification_state": plan.verification,
                "rejection_reason": rejection_reason,
                "student_data": student_data,
                "uploaded_documents": uploaded_documents,
                "pending_since": plan.last_upload_at,
                "created_at": plan.created_at,
                "updated_at": max(last_change, plan.created_at),
                "row_version": 1 + len(decisions),
            }
        )
        batch.verifications.extend(decisions)

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


def _age(dob: date, on: date) -> int:
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


def iter_demo_tables() -> Iterator[Table]:
    """The tables ``load_demo`` writes, parents first (benchmarks replay rows in this order)."""
    for model in (Account, User, TemplateFolder, ActiveStorageBlob, Template, ActiveStorageAttachment,
                  Institution, Sponsor, Cohort, Submission, Submitter, CohortEnrollment, DocumentVerification):  # fmt: skip
        yield model.__table__
