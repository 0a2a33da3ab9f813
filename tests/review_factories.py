"""Builders for review-claim tests: a queue of pending packs and the officers who work it."""

from __future__ import annotations

from sqlalchemy import select

from cohortdesk.db import Database
from cohortdesk.models import Institution, User
from cohortdesk.services.access.identity import ROLE_CAPABILITIES, Identity
from cohortdesk.services.configuration import edits as ce
from cohortdesk.services.documents.storage import DocumentStore
from tests.factories import setup_cohort, upload, user


def officer_identity(db: Database, account_id: int, user_id: int, role: str = "officer") -> Identity:
    """The ``Identity`` of a verification officer (or super admin) of ``account_id``."""
    with db.read_session() as s:
        person = s.get(User, user_id)
        name = person.full_name if person else f"user {user_id}"
        institution_id = s.scalar(select(Institution.id).where(Institution.account_id == account_id))
    return Identity(
        user_id=user_id,
        display_name=name,
        account_id=account_id,
        institution_id=institution_id,
        role=role,
        capabilities=ROLE_CAPABILITIES[role],
    )


def identity_for_user(db: Database, user_id: int, role: str = "officer") -> Identity:
    """The ``Identity`` of user ``user_id`` as an officer (or ``role``) of their own account."""
    with db.read_session() as s:
        account_id = s.get(User, user_id).account_id
    return officer_identity(db, account_id, user_id, role)


def review_queue(db: Database, store: DocumentStore, packs: int = 6, documents=("id_document",)) -> dict:
    """``setup_cohort`` plus more enrolled students (``packs`` pending enrollments in all), two
    officers (``alice`` is "Officer One", ``bob`` is "Sipho Dlamini") and a super admin (``boss``)."""
    world = setup_cohort(db, store, documents)
    cohort = world["cohort"]
    enrollments = [world["enrollment"]]
    for n in range(1, packs):
        student = user(db, world["account"], f"Student{n}", "Learner")
        enrollments.append(
            ce.enroll(
                db,
                ce.NewEnrollment(
                    cohort_id=cohort.id,
                    user_id=student,
                    student_data={"race": "BA", "gender": "M", "disability": "N", "city": "Durban"},
                    uploaded_documents={
                        d: upload(store, f"{d}.pdf", f"%PDF {d} {n}".encode()) for d in documents
                    },
                ),
            ).row
        )
    second = user(db, world["account"], "Sipho", "Dlamini")
    boss = user(db, world["account"], "Zanele", "Admin")
    world["enrollments"] = enrollments
    world["alice"] = officer_identity(db, world["account"], world["officer"])
    world["bob"] = officer_identity(db, world["account"], second)
    world["boss"] = officer_identity(db, world["account"], boss, "super_admin")
    return world
