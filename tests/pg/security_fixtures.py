"""A secured PostgreSQL database with two institutions, data in every table, and a login per role.

Built once per test module (two cores are shared by many helpers). Logins have random names, because
roles are cluster-wide and other test runs create theirs at the same time; they are dropped after the
database. PostgreSQL here trusts 127.0.0.1, so logins connect without passwords.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import URL, create_engine, text

from cohortdesk.db import Database
from cohortdesk.models import ActiveStorageAttachment, ActiveStorageBlob, Submission, Submitter
from cohortdesk.services.access import log as access_log
from cohortdesk.services.access import logins as admin_users
from cohortdesk.services.access.identity import ROLE_CAPABILITIES, Identity
from cohortdesk.services.configuration import edits as ce
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.services.review import decisions as verification
from tests import factories
from tests.conftest import MigratedDatabases, _pg_admin_url, drop_pg_database

TENANT_TABLES = (
    "institutions",
    "sponsors",
    "cohorts",
    "cohort_enrollments",
    "document_verifications",
    "cohortdesk_users",
    "cohortdesk_access_log",
    "tenant_clock",
    "sync_device",
    "sync_conflict",
    "sync_id_reservation",
)
VIEWS = (
    "accounts",
    "users",
    "template_folders",
    "templates",
    "submissions",
    "submitters",
    "active_storage_attachments",
    "active_storage_blobs",
)


@dataclass
class Tenant:
    account: int
    institution: int
    sponsor: int
    cohort: int
    enrollment: int
    student: int
    verification: int
    blob: int
    attachment: int
    submission: int
    submitter: int
    logins: dict[str, str] = field(default_factory=dict)  # role name -> login
    user_ids: dict[str, int] = field(default_factory=dict)  # role name -> users.id


@dataclass
class Secured:
    url: URL
    admin: Database
    a: Tenant
    b: Tenant
    created_logins: list[str] = field(default_factory=list)
    _dbs: list[Database] = field(default_factory=list)

    def conninfo(self, login: str) -> dict[str, Any]:
        return {
            "host": self.url.host or "127.0.0.1",
            "port": self.url.port or 5432,
            "dbname": self.url.database,
            "user": login,
        }

    @contextmanager
    def connect(self, login: str, autocommit: bool = True) -> Iterator[psycopg.Connection]:
        """A raw psycopg connection logged in as ``login``."""
        conn = psycopg.connect(**self.conninfo(login), autocommit=autocommit)
        try:
            yield conn
        finally:
            conn.close()

    def database(self, login: str) -> Database:
        """CohortDesk's own ``Database`` logged in as ``login``."""
        db = Database(self.url.set(username=login))
        self._dbs.append(db)
        return db

    def new_login_name(self, role: str) -> str:
        name = f"cdt_{role[:5]}_{uuid.uuid4().hex[:10]}"
        self.created_logins.append(name)
        return name

    def add_login(self, tenant: Tenant, role: str, capabilities: tuple[str, ...] = (), name: str = "") -> str:
        login = self.new_login_name(name or role)
        user_id = factories.user(self.admin, tenant.account, role.title(), login[-6:])
        admin_users.add_user(
            self.admin,
            admin_users.NewLogin(
                login=login,
                role=role,
                user_id=user_id,
                institution_id=tenant.institution,
                capabilities=capabilities,
            ),
            password=None,
        )
        tenant.logins[name or role] = login
        tenant.user_ids[name or role] = user_id
        return login


def _tenant(db: Database, store: DocumentStore, name: str) -> Tenant:
    made = factories.setup_cohort(db, store)
    account = made["account"]
    inst = made["institution"]
    sponsor = ce.create_sponsor(db, ce.NewSponsor(institution_id=inst.id, company_name=f"{name} Sponsor")).row
    now = datetime.now(UTC)
    with db.session() as s:
        submission = Submission(account_id=account, template_id=made["template"], slug=uuid.uuid4().hex)
        s.add(submission)
        s.flush()
        submitter = Submitter(
            submission_id=submission.id, account_id=account, uuid=str(uuid.uuid4()), slug=uuid.uuid4().hex
        )
        s.add(submitter)
        key = made["enrollment"].uploaded_documents["id_document"]["storage_key"]
        blob = ActiveStorageBlob(key=key, filename="id.pdf", byte_size=10, created_at=now)
        s.add(blob)
        s.flush()
        attachment = ActiveStorageAttachment(
            name="attachments",
            record_type="Submitter",
            record_id=submitter.id,
            blob_id=blob.id,
            uuid=str(uuid.uuid4()),
            created_at=now,
        )
        s.add(attachment)
        s.flush()
        ids = (submission.id, submitter.id, blob.id, attachment.id)
    local = Identity(
        user_id=made["officer"],
        display_name="seed",
        account_id=account,
        institution_id=inst.id,
        role="super_admin",
        capabilities=ROLE_CAPABILITIES["super_admin"],
    )
    decision = verification.record_decision(
        db,
        verification.DecisionCommand(
            enrollment_id=made["enrollment"].id, document_type="id_document", action="approved"
        ),
        local,
    )
    access_log.log_document_view(db, local, made["enrollment"].id, "id_document")
    return Tenant(
        account=account,
        institution=inst.id,
        sponsor=sponsor.id,
        cohort=made["cohort"].id,
        enrollment=made["enrollment"].id,
        student=made["student"],
        verification=decision.verification.id,
        submission=ids[0],
        submitter=ids[1],
        blob=ids[2],
        attachment=ids[3],
    )


@contextmanager
def secured_database(tmp_path_factory: Any, migrated: MigratedDatabases) -> Iterator[Secured]:
    # A copy of the session's migrated database, dropped here (not in the background): its logins can
    # only be dropped once the database that grants them rights is gone.
    url = migrated.pg_url()
    admin = Database(url)
    secured: Secured | None = None
    try:
        store = DocumentStore(tmp_path_factory.mktemp("store"))
        secured = Secured(url=url, admin=admin, a=_tenant(admin, store, "A"), b=_tenant(admin, store, "B"))
        for tenant in (secured.a, secured.b):
            secured.add_login(tenant, "super_admin")
            secured.add_login(tenant, "officer")
            secured.add_login(tenant, "report_viewer")
        secured.add_login(secured.a, "officer", ("special_pi",), name="officer_pi")
        yield secured
    finally:
        for db in secured._dbs if secured else ():
            db.dispose()
        admin.dispose()
        drop_pg_database(url)
        if secured is not None:
            drop_roles(secured.created_logins)


_DATABASE_GRANTS_TO = text(
    "SELECT d.datname, pg_get_userbyid(a.grantor) FROM pg_database d, aclexplode(d.datacl) a "
    "JOIN pg_roles r ON r.oid = a.grantee WHERE r.rolname = :name"
)


def drop_roles(names: list[str]) -> None:
    """Drop test logins, first taking back the CONNECT a database still grants them (a login added to
    a database that outlives it, as a test database may, could not be dropped otherwise)."""
    engine = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for name in names:
            for database, grantor in conn.execute(_DATABASE_GRANTS_TO, {"name": name}).all():
                conn.execute(text(f'SET ROLE "{grantor}"'))  # only the grantor may take a grant back
                conn.execute(text(f'REVOKE ALL ON DATABASE "{database}" FROM "{name}"'))
                conn.execute(text("RESET ROLE"))
            conn.execute(text(f'DROP ROLE IF EXISTS "{name}"'))
    engine.dispose()


def in_days(days: int) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)
