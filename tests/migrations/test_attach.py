"""Attach mode: on a database where DocuSeal already created its tables and holds rows, CohortDesk
creates only its own tables (foreign keys to DocuSeal's), changes no DocuSeal table, column, index or
row, and its downgrade removes only what it created. On SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import inspect, text

from cohortdesk.db import Database, migrate
from cohortdesk.errors import SchemaError
from cohortdesk.models import DOCUSEAL_TABLES, NEW_TABLES, Base
from cohortdesk.services.access.identity import local_identity
from cohortdesk.services.configuration import edits as ce
from tests import factories

#: DocuSeal tables CohortDesk never maps: they must come through untouched as well.
DOCUSEAL_ONLY_DDL = (
    "CREATE TABLE access_tokens (id INTEGER PRIMARY KEY, user_id BIGINT NOT NULL, "
    "token TEXT NOT NULL, created_at TIMESTAMP NOT NULL)",
    "CREATE TABLE encrypted_configs (id INTEGER PRIMARY KEY, account_id BIGINT NOT NULL, "
    "key TEXT NOT NULL, value TEXT NOT NULL)",
)
DOCUSEAL_ONLY = ("access_tokens", "encrypted_configs")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def docuseal_db(request: pytest.FixtureRequest) -> Iterator[Database]:
    """An empty database where "DocuSeal" created its tables (the models' DocuSeal tables, with
    DocuSeal's names and types, plus two it has and CohortDesk never maps) and some rows."""
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    db = Database(url)
    with db.engine.begin() as conn:
        Base.metadata.create_all(
            conn, tables=[Base.metadata.tables[name] for name in sorted(DOCUSEAL_TABLES)]
        )
        for ddl in DOCUSEAL_ONLY_DDL:
            conn.execute(text(ddl))
        conn.execute(text("ALTER TABLE users ADD COLUMN docuseal_only_setting TEXT"))
    account = factories.account(db, "Ikhwezi Skills Academy")
    author = factories.user(db, account, "Nomsa", "Dube")
    factories.template(db, account, author)
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO access_tokens (id, user_id, token, created_at) "
                "VALUES (1, :u, 'secret-token', '2026-01-02 03:04:05')"
            ),
            {"u": author},
        )
        conn.execute(
            text("INSERT INTO encrypted_configs (id, account_id, key, value) VALUES (1, :a, 'smtp', 'x')"),
            {"a": account},
        )
        conn.execute(text("UPDATE users SET docuseal_only_setting = 'kept' WHERE id = :u"), {"u": author})
    try:
        yield db
    finally:
        db.dispose()


def _docuseal_snapshot(db: Database) -> dict[str, Any]:
    """Every DocuSeal table's columns (name, type, nullability, default), indexes, foreign keys,
    triggers and rows (in id order); on PostgreSQL also its owner and row-level security flags."""
    snapshot: dict[str, Any] = {}
    with db.engine.connect() as conn:
        inspector = inspect(conn)
        for table in sorted(DOCUSEAL_TABLES | set(DOCUSEAL_ONLY)):
            columns = [
                (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                for c in inspector.get_columns(table)
            ]
            indexes = sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in inspector.get_indexes(table)
            )
            foreign_keys = sorted(
                (fk["name"] or "", tuple(fk["constrained_columns"]), fk["referred_table"])
                for fk in inspector.get_foreign_keys(table)
            )
            rows = [tuple(row) for row in conn.execute(text(f'SELECT * FROM "{table}" ORDER BY id'))]
            entry: dict[str, Any] = {
                "columns": columns,
                "indexes": indexes,
                "foreign_keys": foreign_keys,
                "rows": rows,
            }
            if db.dialect == "postgresql":
                entry["pg"] = conn.execute(
                    text(
                        "SELECT pg_get_userbyid(c.relowner), c.relrowsecurity, c.relforcerowsecurity, "
                        "(SELECT array_agg(t.tgname ORDER BY t.tgname) FROM pg_trigger t "
                        " WHERE t.tgrelid = c.oid AND NOT t.tgisinternal) "
                        "FROM pg_class c WHERE c.oid = to_regclass(:t)"
                    ),
                    {"t": f"public.{table}"},
                ).one()
            else:
                entry["triggers"] = conn.execute(
                    text(
                        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t ORDER BY name"
                    ),
                    {"t": table},
                ).all()
            snapshot[table] = entry
    return snapshot


def test_attach_creates_only_cohortdesk_tables_and_changes_no_docuseal_data(docuseal_db: Database):
    db = docuseal_db
    before = _docuseal_snapshot(db)
    docuseal_tables = set(inspect(db.engine).get_table_names())
    assert migrate.detect_mode(db) == "attach"  # DocuSeal's accounts table is there

    status = migrate.upgrade(db)  # no flag: detected
    assert status.up_to_date and status.mode == "attach"
    created = set(inspect(db.engine).get_table_names()) - docuseal_tables
    assert set(NEW_TABLES) <= created
    assert not created & DOCUSEAL_TABLES
    assert _docuseal_snapshot(db) == before

    # The backfill made an institution for DocuSeal's account; CohortDesk's rows point at DocuSeal's.
    identity = local_identity(db)
    assert identity.institution_id is not None and identity.account_id is not None
    with db.read_session() as s:
        account_of_institution = s.execute(
            text("SELECT a.name FROM institutions i JOIN accounts a ON a.id = i.account_id WHERE i.id = :i"),
            {"i": identity.institution_id},
        ).scalar_one()
    assert account_of_institution == "Ikhwezi Skills Academy"
    cohort = ce.create_cohort(
        db,
        ce.NewCohort(
            institution_id=identity.institution_id,
            name="2026 Attached Learnership",
            program_type="learnership",
        ),
    ).row
    assert cohort.account_id == identity.account_id
    assert _docuseal_snapshot(db) == before

    status = migrate.downgrade(db)
    assert status.current is None
    remaining = set(inspect(db.engine).get_table_names())
    assert remaining - {migrate.VERSION_TABLE} == docuseal_tables  # only what CohortDesk created is gone
    assert _docuseal_snapshot(db) == before


def test_attach_mode_needs_docuseal_tables(sqlite_url: str):
    db = Database(sqlite_url)
    try:
        with pytest.raises(SchemaError, match="Attach mode needs a database where DocuSeal"):
            migrate.upgrade(db, mode="attach")
        assert migrate.detect_mode(db) == "standalone"
    finally:
        db.dispose()


def test_an_attached_database_stays_attached(docuseal_db: Database):
    migrate.upgrade(docuseal_db, mode="attach")
    with pytest.raises(SchemaError, match="installed in attach mode, not standalone"):
        migrate.upgrade(docuseal_db, mode="standalone")
    assert migrate.detect_mode(docuseal_db) == "attach"


@pytest.mark.pg
def test_attach_keeps_docuseal_connecting_and_closes_what_only_public_opened(pg_url):
    """CONNECT leaves PUBLIC: DocuSeal's own login (owner of its tables) keeps it, a role that only had
    PUBLIC's default loses it until granted, and the downgrade gives PUBLIC its CONNECT back."""
    import uuid

    import psycopg

    from tests.pg.security_fixtures import drop_roles

    docuseal, reporter = (f"cdt_{name}_{uuid.uuid4().hex[:8]}" for name in ("docuseal", "reporter"))
    db = Database(pg_url)
    try:
        with db.engine.begin() as conn:
            for role in (docuseal, reporter):
                conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
            Base.metadata.create_all(conn, tables=[Base.metadata.tables[n] for n in sorted(DOCUSEAL_TABLES)])
            for name in DOCUSEAL_TABLES:
                conn.execute(text(f'ALTER TABLE "{name}" OWNER TO "{docuseal}"'))
        factories.account(db, "Attached Academy")
        migrate.upgrade(db)

        def can_connect(role: str) -> bool:
            try:
                psycopg.connect(host=pg_url.host, port=pg_url.port, dbname=pg_url.database, user=role).close()
            except psycopg.OperationalError:
                return False
            return True

        assert can_connect(docuseal) and not can_connect(reporter)
        migrate.downgrade(db)
        assert can_connect(reporter)
    finally:
        with db.engine.begin() as conn:
            conn.execute(text(f'REASSIGN OWNED BY "{docuseal}" TO CURRENT_USER'))
            conn.execute(text(f'DROP OWNED BY "{docuseal}", "{reporter}"'))
        db.dispose()
        drop_roles([docuseal, reporter])
