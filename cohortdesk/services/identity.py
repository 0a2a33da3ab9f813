"""Who is working: the person, their institution, their CohortDesk role and capabilities.

On PostgreSQL the identity is derived from ``session_user`` through a mapping table no client can
write (see the security migration). On the embedded SQLite store there is one local person, who holds
every role and capability of the first institution.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from cohortdesk.db import Database
from cohortdesk.models import Institution, User

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


def resolve_identity(db: Database) -> Identity:
    """The identity of whoever this database connection logs in as."""
    return local_identity(db)
