"""Planning the demo in pure, seeded Python before anything is written: who the students are, which
cohort each joins, in which state, with which documents and decisions, and when."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from cohortdesk.errors import CohortDeskError
from cohortdesk.services.demo import files
from cohortdesk.services.demo.reference import (
    B36,
    B58,
    CITIES,
    COHORT_SHARES,
    COHORTS,
    DISABILITY_WEIGHTS,
    EMAIL_DOMAINS,
    NAMES,
    PROGRAMME_DOCS,
    RACE_WEIGHTS,
    ascii_fold,
    sa_id_number,
    weighted,
)
from cohortdesk.services.documents.storage import DocumentStore, StoredFile

ProgressFn = Callable[..., None]


class DemoCancelled(CohortDeskError):
    """Loading the demo was cancelled; nothing was added."""


@dataclass
class StudentPlan:
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
class EnrollmentPlan:
    student: StudentPlan
    cohort: int  # index into COHORTS
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
class Batch:
    """Rows of one batch of students, table by table, inserted parents first."""

    users: list[dict[str, Any]] = field(default_factory=list)
    blobs: list[dict[str, Any]] = field(default_factory=list)
    submissions: list[dict[str, Any]] = field(default_factory=list)
    submitters: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    enrollments: list[dict[str, Any]] = field(default_factory=list)
    verifications: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Totals:
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, table: str, n: int) -> None:
        self.counts[table] = self.counts.get(table, 0) + n


class Planner:
    """The seeded plan of a demo load (the first layer of ``DemoGenerator``)."""

    def __init__(self, seed: int, now: datetime, students: int, store: DocumentStore, unique_file_stud: int):
        self.seed = seed
        self.rng = random.Random(seed)
        self.now = now
        self.n = students
        self.store = store
        self.unique_files = max(1, unique_file_stud)
        self.totals = Totals()
        self.plans: list[EnrollmentPlan] = []
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
        return "".join(self.rng.choices(B58, k=length))

    def _blob_key(self) -> str:
        return "".join(self.rng.choices(B36, k=28))

    def _cohort_dates(self, index: int) -> tuple[datetime, datetime, datetime]:
        """created_at, start and end of cohort ``index``, relative to now."""
        _inst, _name, programme, state, _sponsor, _share = COHORTS[index]
        months = {"learnership": 12, "internship": 12, "candidacy": 24}[programme]
        offset = {"active": -40 - 12 * (index % 5), "completed": -400 - 30 * (index % 3),
                  "draft": 45 + 15 * (index % 3), "cancelled": -20 - 10 * (index % 4)}[state]  # fmt: skip
        start = (self.now + timedelta(days=offset)).replace(hour=8, minute=0, second=0)
        end = start + timedelta(days=30 * months)
        if state == "completed" and end > self.now:
            end = self.now - timedelta(days=20)
        created = min(start - timedelta(days=35), self.now - timedelta(days=5))
        return created.replace(hour=9, minute=0, second=0), start, end

    def _new_student(self, index: int, programme: str) -> StudentPlan:
        rng = self.rng
        race = weighted(rng, RACE_WEIGHTS)
        group = race if race in NAMES else rng.choice(tuple(NAMES))
        female, male, surnames = NAMES[group]
        gender = "F" if rng.random() < 0.56 else "M"
        first = rng.choice(female if gender == "F" else male)
        last = rng.choice(surnames)
        city, province, _w = weighted(rng, CITIES)
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
        return StudentPlan(
            index=index,
            first_name=first,
            last_name=last,
            email=f"{local}@{rng.choice(EMAIL_DOMAINS)}",
            phone=phone,
            race=race,
            gender=gender,
            disability=weighted(rng, DISABILITY_WEIGHTS),
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
        return weighted(self.rng, COHORT_SHARES)

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
        state = weighted(
            rng,
            (("waiting", 20), ("in_progress", 60), ("complete", 20))
            if cohort_state == "active"
            else (("waiting", 45), ("in_progress", 55)),
        )
        if state == "waiting":
            return state, "pending"
        if state == "complete":
            return state, "verified"
        return state, weighted(rng, (("pending", 55), ("verified", 25), ("rejected", 20)))

    def plan(self) -> None:
        rng = self.rng
        active = [i for i, c in enumerate(COHORTS) if c[3] == "active"]
        seen: list[EnrollmentPlan] = []
        in_active: list[EnrollmentPlan] = []
        want_shared_file = False
        for index in range(self.n):
            forced = index if index < 5 else None
            cohort = active[index % len(active)] if forced is not None else self._cohort_for(index)
            student: StudentPlan | None = None
            if index % 50 == 21 and in_active:
                # Learnership hopping: someone already in an active cohort enrolls in another active
                # cohort of the same institution (the console flags the shared ID number).
                donor = rng.choice(in_active[-400:])
                institution = COHORTS[donor.cohort][0]
                siblings = [
                    i for i in active if COHORTS[i][0] == institution and i not in donor.student.cohorts
                ]
                if siblings:
                    student, cohort = donor.student, rng.choice(siblings)
            _inst, _name, programme, cohort_state, _sponsor, _share = COHORTS[cohort]
            if student is None:
                student = self._new_student(index, programme)
            student.cohorts.add(cohort)
            state, verification = self._states(cohort_state, forced)
            required = PROGRAMME_DOCS[programme]
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
            plan = EnrollmentPlan(
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
                        if "id_document" in p.uploaded and COHORTS[p.cohort][0] == COHORTS[cohort][0]
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
        if COHORTS[cohort][3] in ("active", "draft") and state != "complete" and verification == "pending":
            # Waiting ages from an hour to about six weeks, mostly days: oldest-first has something to sort.
            age = timedelta(hours=min(max(rng.expovariate(1 / 150), 1), 42 * 24))
            last = max(earliest + timedelta(hours=2), self.now - age)
        else:
            span = max((horizon - earliest).total_seconds(), 7200)
            last = earliest + timedelta(seconds=rng.uniform(0.3, 0.8) * span)
        created = max(earliest, last - timedelta(days=rng.uniform(0.2, 12)))
        return created.replace(microsecond=0), last.replace(microsecond=0)
