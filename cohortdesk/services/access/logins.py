"""Managing who may log in: one PostgreSQL login role per person, mapped to an institution and a role.

Two callers, one set of functions:

* a **super admin** connected with their own login: every change goes through the database's SECURITY
  DEFINER functions (``cohortdesk_admin_add_user`` …), which check the caller is a super admin and only
  ever act inside the caller's own institution, whatever this client sends;
* a **database administrator** connected with a privileged login (superuser, or CREATEROLE with
  BYPASSRLS), as ``cohortdesk admin …`` is: the same steps run directly, for any institution.

Passwords never travel or rest in plain text: the client turns them into a SCRAM-SHA-256 verifier
(libpq's ``PQencryptPasswordConn``) before sending ``CREATE ROLE … PASSWORD``. Removing a user disables
the login (NOLOGIN, group memberships revoked, mapping marked inactive) and keeps their ``users`` row,
their decisions and the mapping row, so every record they made stays attributable; a login name is
never reused for somebody else.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from cohortdesk.db import Database
from cohortdesk.errors import NotFoundError, PermissionDenied, ValidationError
from cohortdesk.models import AccessKind, AccessLogEntry, AppRole, Institution, LoginMapping, User
from cohortdesk.services import validation

#: What a login name may look like (PostgreSQL identifiers that need no quoting).
LOGIN_PATTERN = re.compile(r"^[a-z][a-z0-9_]{2,62}$")
RESERVED_PREFIXES = ("pg_", "cohortdesk_")
#: Capabilities a mapping row may carry beyond its role's defaults.
KNOWN_CAPABILITIES = ("special_pi",)
#: Schema of the DocuSeal views a login reads instead of DocuSeal's tables.
VIEW_SCHEMA = "cohortdesk_docuseal"
GROUP_ROLES = tuple(role.group_role for role in AppRole)


@dataclass(frozen=True)
class LoginRow:
    login: str
    user_id: int
    email: str | None
    display_name: str
    account_id: int
    institution_id: int
    role: str
    capabilities: tuple[str, ...]
    active: bool
    created_at: datetime
    created_by: str | None
    disabled_at: datetime | None


@dataclass(frozen=True)
class NewLogin:
    """A person to give a login. Name the person by ``user_id`` or ``email`` (their DocuSeal user).

    ``institution_id`` is needed only on a privileged connection to a database with several
    institutions (a super admin always adds users to their own). ``create_user`` lets a privileged
    connection create the DocuSeal user row when no user has that e-mail yet.
    """

    login: str
    role: str
    user_id: int | None = None
    email: str | None = None
    institution_id: int | None = None
    capabilities: tuple[str, ...] = ()
    create_user: bool = False
    first_name: str | None = None
    last_name: str | None = None


@dataclass(frozen=True)
class _Caller:
    login: str
    privileged: bool
    super_admin: bool


# --- checks -------------------------------------------------------------------------------------


def check_login_name(login: str) -> str:
    cleaned = (login or "").strip()
    if not LOGIN_PATTERN.match(cleaned) or cleaned.startswith(RESERVED_PREFIXES):
        raise ValidationError(
            "login",
            f"{cleaned!r} is not a usable login name: use 3 to 63 lower-case letters, digits or _, "
            "starting with a letter (and not starting with pg_ or cohortdesk_)",
        )
    return cleaned


def check_role(role: str) -> AppRole:
    try:
        return AppRole(role)
    except ValueError as exc:
        choices = ", ".join(r.value for r in AppRole)
        raise ValidationError("role", f"{role!r} is not one of {choices}") from exc


def check_capabilities(capabilities: Iterable[str]) -> list[str]:
    result = sorted({c.strip() for c in capabilities if c and c.strip()})
    unknown = [c for c in result if c not in KNOWN_CAPABILITIES]
    if unknown:
        raise ValidationError(
            "capabilities", f"unknown capability {', '.join(unknown)}; known: {', '.join(KNOWN_CAPABILITIES)}"
        )
    return result


def _require_postgresql(db: Database) -> None:
    if db.dialect != "postgresql":
        raise PermissionDenied(
            "User accounts exist only on a shared PostgreSQL database; the local store has one user."
        )


def _caller(s: Session) -> _Caller:
    row = s.execute(
        text(
            "SELECT session_user::text AS login, "
            "coalesce(r.rolsuper OR (r.rolcreaterole AND r.rolbypassrls), false) AS privileged, "
            "cohortdesk_current_role() AS app_role "
            "FROM (SELECT 1) one LEFT JOIN pg_catalog.pg_roles r ON r.rolname = session_user"
        )
    ).one()
    return _Caller(
        login=row.login, privileged=bool(row.privileged), super_admin=row.app_role == "super_admin"
    )


def _authorise(s: Session) -> _Caller:
    caller = _caller(s)
    if not (caller.privileged or caller.super_admin):
        raise PermissionDenied(
            "Only a super admin, or a database administrator with a privileged login, can manage users."
        )
    return caller


@contextmanager
def _database_errors() -> Iterator[None]:
    """Turn the database's refusals (raised by its functions and grants) into typed, plain errors."""
    try:
        yield
    except DBAPIError as exc:
        orig: Any = exc.orig
        state = getattr(orig, "sqlstate", None)
        diag = getattr(orig, "diag", None)
        message = (getattr(diag, "message_primary", None) or str(orig)).strip()
        if message:
            message = message[0].upper() + message[1:]
        if state in ("42501",):
            raise PermissionDenied(f"{message}.") from exc
        if state in ("42710", "23505"):
            raise ValidationError("login", message) from exc
        if state == "22023":
            lowered = message.lower()
            field = next(
                (
                    f
                    for f, word in (("role", "role"), ("capabilities", "capabilit"), ("password", "password"))
                    if lowered.startswith(word) or word in lowered.split(":")[0]
                ),
                "login",
            )
            raise ValidationError(field, message) from exc
        if state == "P0002":
            raise NotFoundError(f"{message}.") from exc
        raise


def _verifier(s: Session, login: str, password: str | None) -> str | None:
    """A SCRAM-SHA-256 verifier of ``password``, computed here so the server never sees the password."""
    if password is None:
        return None
    if not password:
        raise ValidationError("password", "is empty")
    pgconn = s.connection().connection.driver_connection.pgconn  # type: ignore[union-attr]
    return pgconn.encrypt_password(password.encode(), login.encode(), b"scram-sha-256").decode("ascii")


def _role_exists(s: Session, login: str) -> bool:
    return bool(s.scalar(text("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = :n"), {"n": login}))


def _ident(s: Session, name: str) -> str:
    return s.get_bind().dialect.identifier_preparer.quote_identifier(name)


def _log_permission_change(s: Session, account_id: int, purpose: str, details: dict[str, Any]) -> None:
    """The privileged path's own access-log entry (super admins' entries are written by the database)."""
    actor = s.scalar(text("SELECT session_user::text"))
    s.add(
        AccessLogEntry(
            actor=actor,
            account_id=account_id,
            kind=AccessKind.PERMISSION_CHANGE.value,
            object_table="cohortdesk_users",
            purpose=purpose,
            details=details,
        )
    )


# --- reading ------------------------------------------------------------------------------------


def _rows(s: Session, where: Any = None) -> list[LoginRow]:
    stmt = (
        select(LoginMapping, User.first_name, User.last_name, User.email)
        .join(User, User.id == LoginMapping.user_id, isouter=True)
        .order_by(LoginMapping.active.desc(), LoginMapping.db_role)
    )
    if where is not None:
        stmt = stmt.where(where)
    result = []
    for mapping, first, last, email in s.execute(stmt):
        name = " ".join(p for p in (first, last) if p) or email or mapping.db_role
        result.append(
            LoginRow(
                login=mapping.db_role,
                user_id=mapping.user_id,
                email=email,
                display_name=name,
                account_id=mapping.account_id,
                institution_id=mapping.institution_id,
                role=mapping.app_role,
                capabilities=tuple(mapping.capabilities or ()),
                active=mapping.active,
                created_at=mapping.created_at,
                created_by=mapping.created_by,
                disabled_at=mapping.disabled_at,
            )
        )
    return result


def list_users(
    db: Database, institution_id: int | None = None, include_removed: bool = True
) -> list[LoginRow]:
    """Every login of the institution (a super admin sees only their own institution's)."""
    _require_postgresql(db)
    with db.read_session() as s:
        _authorise(s)
        conditions = []
        if institution_id is not None:
            conditions.append(LoginMapping.institution_id == institution_id)
        if not include_removed:
            conditions.append(LoginMapping.active.is_(True))
        where = conditions[0] if len(conditions) == 1 else None
        if len(conditions) == 2:
            where = conditions[0] & conditions[1]
        return _rows(s, where)


def get_user(db: Database, login: str) -> LoginRow:
    _require_postgresql(db)
    with db.read_session() as s:
        rows = _rows(s, LoginMapping.db_role == login)
    if not rows:
        raise NotFoundError(f"There is no CohortDesk user with the login {login!r}.")
    return rows[0]


# --- changing -----------------------------------------------------------------------------------


def add_user(db: Database, cmd: NewLogin, password: str | None) -> LoginRow:
    """Create the person's login role, put it in their role's group and map it to the institution."""
    _require_postgresql(db)
    login = check_login_name(cmd.login)
    role = check_role(cmd.role)
    capabilities = check_capabilities(cmd.capabilities)
    if cmd.user_id is None and not (cmd.email or "").strip():
        raise ValidationError("email", "name the person by their e-mail address (or user id)")
    with _database_errors(), db.session() as s:
        caller = _authorise(s)
        verifier = _verifier(s, login, password)
        if caller.super_admin and not caller.privileged:
            user_id = _find_user(s, cmd, account_id=None)
            _refuse_second_login(s, user_id)
            s.execute(
                text("SELECT cohortdesk_admin_add_user(:login, :password, :user_id, :role, :capabilities)"),
                {
                    "login": login,
                    "password": verifier,
                    "user_id": user_id,
                    "role": role.value,
                    "capabilities": capabilities,
                },
            )
        else:
            _add_user_privileged(s, cmd, login, role, capabilities, verifier)
    return get_user(db, login)


def _refuse_second_login(s: Session, user_id: int) -> None:
    """One person, one active login (the database's unique index says so too): decisions are only
    ever in the name of the person whose login made them."""
    existing = s.scalar(
        text("SELECT db_role FROM cohortdesk_users WHERE user_id = :u AND active"), {"u": user_id}
    )
    if existing is not None:
        raise ValidationError(
            "user_id",
            f"this person already has the login {existing!r}; one person has one login "
            "(remove that login first to give them a new one)",
        )


def _find_user(s: Session, cmd: NewLogin, account_id: int | None) -> int:
    """The DocuSeal user the login is for; a super admin's lookups only ever see their own account."""
    stmt = select(User.id, User.account_id)
    if cmd.user_id is not None:
        stmt = stmt.where(User.id == cmd.user_id)
    else:
        email = validation.validate_email(cmd.email or "", "email")
        stmt = stmt.where(func.lower(User.email) == email.lower())
    found = s.execute(stmt).first()
    if found is None or (account_id is not None and found.account_id != account_id):
        who = f"user {cmd.user_id}" if cmd.user_id is not None else f"e-mail {cmd.email!r}"
        raise NotFoundError(f"There is no person with {who} in this institution.")
    return int(found.id)


def _add_user_privileged(
    s: Session,
    cmd: NewLogin,
    login: str,
    role: AppRole,
    capabilities: list[str],
    verifier: str | None,
) -> None:
    institution = _institution_for(s, cmd.institution_id)
    try:
        user_id = _find_user(s, cmd, institution.account_id)
    except NotFoundError:
        if not cmd.create_user or cmd.user_id is not None:
            raise
        user_id = _create_docuseal_user(s, cmd, institution.account_id)
    _refuse_second_login(s, user_id)
    if _role_exists(s, login):
        raise ValidationError("login", f"a database login named {login!r} already exists")
    quoted = _ident(s, login)
    password_clause = "PASSWORD NULL"
    if verifier is not None:
        password_clause = "PASSWORD " + s.scalar(text("SELECT quote_literal(:v)"), {"v": verifier})
    # Driver-level SQL: a verifier is full of ':' that text() would take for bind parameters.
    s.connection().exec_driver_sql(
        f"CREATE ROLE {quoted} LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
        f"NOBYPASSRLS CONNECTION LIMIT 20 {password_clause}"
    )
    s.execute(text(f"GRANT {role.group_role} TO {quoted}"))
    database = _ident(s, s.scalar(text("SELECT current_database()")))
    schema = _ident(s, s.scalar(text("SELECT current_schema()")))
    s.execute(text(f"ALTER ROLE {quoted} IN DATABASE {database} SET search_path = {VIEW_SCHEMA}, {schema}"))
    _as_owner(s, "SELECT cohortdesk_login_setup(:login)", login)
    s.add(
        LoginMapping(
            db_role=login,
            user_id=user_id,
            account_id=institution.account_id,
            institution_id=institution.id,
            app_role=role.value,
            capabilities=capabilities,
            active=True,
            created_by=s.scalar(text("SELECT session_user::text")),
        )
    )
    _log_permission_change(
        s,
        institution.account_id,
        "add user",
        {"login": login, "user_id": user_id, "role": role.value, "capabilities": capabilities},
    )
    s.flush()


def _institution_for(s: Session, institution_id: int | None) -> Institution:
    if institution_id is not None:
        institution = s.get(Institution, institution_id)
        if institution is None:
            raise NotFoundError(f"There is no institution with id {institution_id}.")
        return institution
    institutions = s.scalars(select(Institution).order_by(Institution.id).limit(2)).all()
    if len(institutions) != 1:
        raise ValidationError(
            "institution_id",
            "this database has no institution yet"
            if not institutions
            else "name the institution (several exist)",
        )
    return institutions[0]


def _create_docuseal_user(s: Session, cmd: NewLogin, account_id: int) -> int:
    email = validation.validate_email(cmd.email or "", "email").lower()
    user = User(
        account_id=account_id,
        email=email,
        first_name=(cmd.first_name or "").strip() or None,
        last_name=(cmd.last_name or "").strip() or None,
        uuid=str(uuid.uuid4()),
    )
    s.add(user)
    s.flush()
    return user.id


def _mapping_for_change(s: Session, login: str) -> LoginMapping:
    mapping = s.scalars(select(LoginMapping).where(LoginMapping.db_role == login).with_for_update()).first()
    if mapping is None or not mapping.active:
        raise NotFoundError(f"There is no active CohortDesk user with the login {login!r}.")
    privileged = s.scalar(
        text(
            "SELECT rolsuper OR rolcreaterole OR rolbypassrls OR rolreplication "
            "FROM pg_catalog.pg_roles WHERE rolname = :n"
        ),
        {"n": login},
    )
    if privileged:
        raise PermissionDenied(f"The login {login!r} is a database administrator; change it on the server.")
    return mapping


def set_role(db: Database, login: str, role: str, capabilities: Iterable[str] | None = None) -> LoginRow:
    """Change a person's CohortDesk role (and, when given, their extra capabilities)."""
    _require_postgresql(db)
    target = check_role(role)
    with _database_errors(), db.session() as s:
        caller = _authorise(s)
        if login == caller.login:
            raise PermissionDenied("You cannot change your own role; ask another super admin.")
        if caller.super_admin and not caller.privileged:
            current = _rows(s, LoginMapping.db_role == login)
            caps = check_capabilities(
                capabilities if capabilities is not None else (current[0].capabilities if current else ())
            )
            s.execute(
                text("SELECT cohortdesk_admin_set_role(:login, :role, :capabilities)"),
                {"login": login, "role": target.value, "capabilities": caps},
            )
        else:
            mapping = _mapping_for_change(s, login)
            caps = check_capabilities(capabilities if capabilities is not None else mapping.capabilities)
            old_role, old_caps = mapping.app_role, list(mapping.capabilities or ())
            if old_role != target.value:
                quoted = _ident(s, login)
                s.execute(text(f"REVOKE {AppRole(old_role).group_role} FROM {quoted}"))
                s.execute(text(f"GRANT {target.group_role} TO {quoted}"))
            mapping.app_role = target.value
            mapping.capabilities = caps
            _log_permission_change(
                s,
                mapping.account_id,
                "set role",
                {
                    "login": login,
                    "from_role": old_role,
                    "to_role": target.value,
                    "from_capabilities": old_caps,
                    "to_capabilities": caps,
                },
            )
            s.flush()
    return get_user(db, login)


def remove_user(db: Database, login: str) -> LoginRow:
    """Disable a person's login; everything they recorded, and their mapping row, stays."""
    _require_postgresql(db)
    with _database_errors(), db.session() as s:
        caller = _authorise(s)
        if login == caller.login:
            raise PermissionDenied("You cannot remove yourself; ask another super admin.")
        if caller.super_admin and not caller.privileged:
            s.execute(text("SELECT cohortdesk_admin_remove_user(:login)"), {"login": login})
        else:
            mapping = _mapping_for_change(s, login)
            if _role_exists(s, login):
                quoted = _ident(s, login)
                s.execute(text(f"ALTER ROLE {quoted} NOLOGIN"))
                for group in GROUP_ROLES:
                    member = s.scalar(
                        text(
                            "SELECT 1 FROM pg_catalog.pg_auth_members am "
                            "WHERE am.roleid = CAST(:g AS regrole) AND am.member = CAST(:m AS regrole)"
                        ),
                        {"g": group, "m": login},
                    )
                    if member:
                        s.execute(text(f"REVOKE {group} FROM {quoted}"))
                database = _ident(s, s.scalar(text("SELECT current_database()")))
                s.execute(text(f"REVOKE CONNECT ON DATABASE {database} FROM {quoted}"))
                _as_owner(s, "SELECT cohortdesk_login_teardown(:login)", login)
            mapping.active = False
            mapping.disabled_at = datetime.now(UTC)
            _log_permission_change(
                s, mapping.account_id, "remove user", {"login": login, "role": mapping.app_role}
            )
            s.flush()
        if caller.privileged:
            _end_sessions(s, login)
    return get_user(db, login)


def _as_owner(s: Session, statement: str, login: str) -> None:
    """Run one of the owner's login helpers (CONNECT on this database, the login's server-side timeouts)
    as ``cohortdesk_owner``, so what it grants the owner can later take back when the login is removed."""
    s.execute(text("SET LOCAL ROLE cohortdesk_owner"))
    try:
        s.execute(text(statement), {"login": login})
    finally:
        s.execute(text("RESET ROLE"))


def _end_sessions(s: Session, login: str) -> None:
    """Close the removed login's open connections. Only a database administrator may; a super admin's
    removal takes every right away at once anyway (the mapping is inactive, the group revoked)."""
    s.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :n"), {"n": login})
