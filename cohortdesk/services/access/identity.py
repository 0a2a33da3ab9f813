"""Who is working: the person, their institution, their CohortDesk role and capabilities.

On PostgreSQL the identity is derived from ``session_user`` through the mapping table
``cohortdesk_users``, which no client can write (migration ``0005_security``); the database derives the
same facts the same way for its row-level policies, so this identity only decides what the screens
offer, never what the login may read or write. A login that is not mapped, or has been removed, is
refused. A database administrator's login (superuser or BYPASSRLS: maintenance, tests) is treated like
the local user. On the embedded SQLite store there is one local person, who holds every role and
capability of the first institution.

The identity and the capabilities import no database code (the window shows them before SQLAlchemy
loads); the functions that resolve an identity import it when called.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cohortdesk.errors import PermissionDenied, SchemaError

if TYPE_CHECKING:
    from cohortdesk.db import Database

ROLES = ("super_admin", "officer", "report_viewer")
#: Capability to see special personal information (race, disability, full ID number) unmasked.
SPECIAL_PI = "special_pi"
ROLE_CAPABILITIES: dict[str, frozenset[str]] = {
    "super_admin": frozenset({"decide", "configure", "export", "manage_users", "release_claims", SPECIAL_PI}),
    "officer": frozenset({"decide", "export"}),
    "report_viewer": frozenset({"export"}),
}


@dataclass(frozen=True)
class Identity:
    user_id: int | None
    display_name: str
    account_id: int | None
    institution_id: int | None
    role: str
    capabilities: frozenset[str] = field(default_factory=frozenset)
    db_role: str | None = None

    def can(self, capability: str) -> bool:
        return capability in self.capabilities


def local_identity(db: Database) -> Identity:
    """The single local user of an embedded store: the first institution's super admin."""
    from sqlalchemy import select

    from cohortdesk.models import Institution, User

    with db.read_session() as s:
        institution = s.scalars(select(Institution).order_by(Institution.id)).first()
        user = None
        if institution is not None and institution.super_admin_id:
            user = s.get(User, institution.super_admin_id)
        if user is None and institution is not None:
            user = s.scalars(
                select(User).where(User.account_id == institution.account_id).order_by(User.id)
            ).first()
        return Identity(
            user_id=user.id if user else None,
            display_name=(user.full_name or user.email) if user else "Local user",
            account_id=institution.account_id if institution else None,
            institution_id=institution.id if institution else None,
            role="super_admin",
            capabilities=ROLE_CAPABILITIES["super_admin"],
        )


_MAPPING_SQL = (
    "SELECT m.db_role, m.user_id, m.account_id, m.institution_id, m.app_role, m.capabilities, m.active, "
    "u.first_name, u.last_name, u.email "
    "FROM cohortdesk_users m LEFT JOIN users u ON u.id = m.user_id WHERE m.db_role = session_user"
)


def resolve_identity(db: Database) -> Identity:
    """The identity of whoever this database connection logs in as.

    Raises ``PermissionDenied`` for a PostgreSQL login that is not a CohortDesk user of this database
    (or has been removed), in words that say what to do.
    """
    if db.dialect != "postgresql":
        return local_identity(db)
    from sqlalchemy import text

    with db.read_session() as s:
        login, privileged = s.execute(
            text(
                "SELECT session_user::text, coalesce(r.rolsuper OR r.rolbypassrls, false) "
                "FROM (SELECT 1) one LEFT JOIN pg_catalog.pg_roles r ON r.rolname = session_user"
            )
        ).one()
        if s.scalar(text("SELECT to_regclass('cohortdesk_users')")) is None:
            if privileged:
                return local_identity(db)
            raise SchemaError(
                "This database has no CohortDesk user accounts yet: an administrator must run "
                "'cohortdesk db upgrade' on it first."
            )
        row = s.execute(text(_MAPPING_SQL)).first()
    if row is None or not row.active:
        if privileged:
            return local_identity(db)
        raise PermissionDenied(
            f"The database login {login!r} is not a CohortDesk user of this database, or has been removed. "
            "Ask your institution's super admin to add it."
        )
    role = row.app_role
    name = " ".join(part for part in (row.first_name, row.last_name) if part) or row.email or login
    return Identity(
        user_id=row.user_id,
        display_name=name,
        account_id=row.account_id,
        institution_id=row.institution_id,
        role=role,
        capabilities=ROLE_CAPABILITIES.get(role, frozenset()) | frozenset(row.capabilities or ()),
        db_role=row.db_role,
    )
