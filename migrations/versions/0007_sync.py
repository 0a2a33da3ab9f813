"""Offline-first sync (docs/claims-sync-security.md): change counters, tombstones, devices, conflicts, id reservations.

Both backends (one schema for server and laptops, so the same ORM works on both):

* ``change_seq``, ``deleted_at`` and ``updated_by`` on the four synced tables (institutions, sponsors,
  cohorts, cohort_enrollments), with an ``(account_id, change_seq)`` index for pulls;
* the one-per-learner-per-cohort unique index becomes partial (``WHERE deleted_at IS NULL``), so a
  tombstoned enrollment does not block enrolling the learner again;
* the sync tables: ``tenant_clock``, ``sync_schema``, ``sync_device``, ``sync_conflict``,
  ``sync_id_reservation`` (server side) and ``sync_state``, ``sync_outbox``, ``sync_id_pool`` (laptop).

PostgreSQL only:

* ``cohortdesk_sync_stamp()``: a BEFORE INSERT OR UPDATE row trigger on each synced table that bumps
  the tenant's ``tenant_clock.last_seq`` (taking that row's lock until commit) and stamps the row with
  it, bumps ``row_version`` on UPDATE and records ``updated_by = session_user``. Why a counter row and
  not a sequence or ``updated_at``: a ``nextval`` or ``now()`` value is taken when the writing
  transaction runs but becomes visible when it commits, in another order, so a reader that advanced
  its cursor past a later value would never see an earlier one that commits afterwards. Writers of
  one tenant queue on the counter row's lock until commit, so counter values become visible in order
  and ``hi = last_seq`` read in a snapshot is a cursor no later commit can fall below.
* ``cohortdesk_refuse_delete()``: synced rows are never hard-deleted (a deletion must travel to the
  laptops as a tombstone), so DELETE and TRUNCATE are refused.
* ``cohortdesk_reserve_ids(device, table, n)``: SECURITY DEFINER; draws ``n`` ids from the table's own
  sequence for a device of the calling login and records them in ``sync_id_reservation``.
* Existing rows are numbered into their tenant's counter (parents first), and grants go to the
  CohortDesk group roles that exist.

Revision ID: 0007_sync
Revises: 0004_backfill_defaults
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007_sync"
down_revision = "0004_backfill_defaults"
branch_labels = None
depends_on = None

SYNCED_TABLES = ("institutions", "sponsors", "cohorts", "cohort_enrollments")
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)
SYNC_SCHEMA_VERSION = 1  # frozen copy: migrations never import app code that may change later

STAMP_FUNCTION = """
CREATE FUNCTION cohortdesk_sync_stamp() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  seq bigint;
BEGIN
  -- The row lock taken here is held until commit: one tenant's writers queue on it, so counter
  -- values become visible in the order they were handed out.
  UPDATE tenant_clock SET last_seq = last_seq + 1 WHERE account_id = NEW.account_id
   RETURNING last_seq INTO seq;
  IF seq IS NULL THEN
    INSERT INTO tenant_clock AS c (account_id, last_seq) VALUES (NEW.account_id, 1)
    ON CONFLICT (account_id) DO UPDATE SET last_seq = c.last_seq + 1
    RETURNING c.last_seq INTO seq;
  END IF;
  NEW.change_seq := seq;
  IF TG_OP = 'UPDATE' THEN
    NEW.row_version := OLD.row_version + 1;
  END IF;
  NEW.updated_by := session_user;
  RETURN NEW;
END $$
"""

REFUSE_DELETE_FUNCTION = """
CREATE FUNCTION cohortdesk_refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'rows of % are never deleted (% refused): set deleted_at instead, so the deletion '
                  'reaches every laptop as a tombstone', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$
"""

RESERVE_FUNCTION = """
CREATE FUNCTION cohortdesk_reserve_ids(p_device text, p_table text, p_count integer)
RETURNS SETOF bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  v_account bigint;
BEGIN
  IF p_table NOT IN ('institutions', 'sponsors', 'cohorts', 'cohort_enrollments') THEN
    RAISE EXCEPTION 'ids cannot be reserved for table %', p_table USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_count < 1 OR p_count > 100000 THEN
    RAISE EXCEPTION 'cannot reserve % ids at once', p_count USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT account_id INTO v_account FROM sync_device
   WHERE device_id = p_device AND db_role = session_user AND active;
  IF v_account IS NULL THEN
    RAISE EXCEPTION 'device % is not an active device of login %', p_device, session_user
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN QUERY
    INSERT INTO sync_id_reservation (table_name, id, account_id, device_id, reserved_at)
    SELECT p_table, nextval(pg_get_serial_sequence(p_table, 'id')::regclass), v_account, p_device, now()
      FROM generate_series(1, p_count)
    RETURNING sync_id_reservation.id;
END $$
"""

GRANTS = """
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cohortdesk_super_admin') THEN
    GRANT SELECT ON tenant_clock, sync_schema TO cohortdesk_super_admin;
    GRANT SELECT, INSERT, UPDATE ON sync_device, sync_conflict TO cohortdesk_super_admin;
    GRANT SELECT, UPDATE ON sync_id_reservation TO cohortdesk_super_admin;
    GRANT USAGE ON SEQUENCE sync_conflict_id_seq TO cohortdesk_super_admin;
    GRANT EXECUTE ON FUNCTION cohortdesk_reserve_ids(text, text, integer) TO cohortdesk_super_admin;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cohortdesk_officer') THEN
    GRANT SELECT ON tenant_clock TO cohortdesk_officer;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cohortdesk_report_viewer') THEN
    GRANT SELECT ON tenant_clock TO cohortdesk_report_viewer;
  END IF;
END $$
"""


def _sync_columns(table: str) -> None:
    with op.batch_alter_table(table) as batch:
        batch.add_column(
            sa.Column("change_seq", sa.BigInteger(), server_default=sa.text("0"), nullable=False)
        )
        batch.add_column(sa.Column("deleted_at", TS, nullable=True))
        batch.add_column(sa.Column("updated_by", sa.String(length=63), nullable=True))
    op.create_index(f"ix_{table}_account_id_change_seq", table, ["account_id", "change_seq"], unique=False)


def upgrade() -> None:
    is_pg = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "tenant_clock",
        sa.Column("account_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_tenant_clock_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_tenant_clock")),
    )
    op.create_table(
        "sync_schema",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("min_client_schema", sa.Integer(), nullable=False),
        sa.Column("current_client_schema", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_schema")),
    )
    op.create_table(
        "sync_device",
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("db_role", sa.String(length=63), nullable=False),
        sa.Column("label", sa.String(length=255), nullable=True),
        sa.Column("last_mutation_id", sa.BigInteger(), nullable=False),
        sa.Column("last_pulled_seq", sa.BigInteger(), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("app_version", sa.String(length=50), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_sync_device_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_sync_device")),
    )
    op.create_index("ix_sync_device_account_id", "sync_device", ["account_id"], unique=False)
    op.create_table(
        "sync_conflict",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("mutation_id", sa.BigInteger(), nullable=False),
        sa.Column("op", sa.String(length=20), nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("row_id", sa.BigInteger(), nullable=False),
        sa.Column("field", sa.String(length=128), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("base_value", JSON_DOC, nullable=True),
        sa.Column("mine", JSON_DOC, nullable=True),
        sa.Column("theirs", JSON_DOC, nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("server_row_version", sa.BigInteger(), nullable=True),
        sa.Column("theirs_updated_by", sa.String(length=63), nullable=True),
        sa.Column("theirs_updated_at", TS, nullable=True),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("resolved_by", sa.String(length=63), nullable=True),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("resolution", JSON_DOC, nullable=True),
        sa.CheckConstraint(
            "kind IN ('field_conflict', 'row_deleted', 'parent_deleted', 'delete_vs_edit', 'duplicate', 'rejected')",
            name=op.f("ck_sync_conflict_kind"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'kept_mine', 'kept_theirs', 'merged', 'withdrawn')",
            name=op.f("ck_sync_conflict_status"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_sync_conflict_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_conflict")),
    )
    op.create_index(
        "ix_sync_conflict_account_id_device_id_status",
        "sync_conflict",
        ["account_id", "device_id", "status"],
        unique=False,
    )
    op.create_index(
        "ix_sync_conflict_table_name_row_id", "sync_conflict", ["table_name", "row_id"], unique=False
    )
    op.create_table(
        "sync_id_reservation",
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("reserved_at", TS, nullable=False),
        sa.Column("used_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_sync_id_reservation_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("table_name", "id", name=op.f("pk_sync_id_reservation")),
    )
    op.create_index("ix_sync_id_reservation_device_id", "sync_id_reservation", ["device_id"], unique=False)
    op.create_table(
        "sync_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=True),
        sa.Column("server_url", sa.Text(), nullable=True),
        sa.Column("last_pulled_seq", sa.BigInteger(), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("last_mutation_id", sa.BigInteger(), nullable=False),
        sa.Column("last_synced_at", TS, nullable=True),
        sa.Column("last_attempt_at", TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("clock_offset_seconds", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_state")),
    )
    op.create_table(
        "sync_outbox",
        sa.Column("mutation_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("row_id", sa.BigInteger(), nullable=False),
        sa.Column("op", sa.String(length=20), nullable=False),
        sa.Column("base_row_version", sa.BigInteger(), nullable=True),
        sa.Column("changes_json", JSON_DOC, nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("result", sa.String(length=20), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("acknowledged_at", TS, nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'acknowledged')", name=op.f("ck_sync_outbox_status")
        ),
        sa.PrimaryKeyConstraint("mutation_id", name=op.f("pk_sync_outbox")),
    )
    op.create_index(
        "ix_sync_outbox_status_mutation_id", "sync_outbox", ["status", "mutation_id"], unique=False
    )
    op.create_index("ix_sync_outbox_table_name_row_id", "sync_outbox", ["table_name", "row_id"], unique=False)
    op.create_table(
        "sync_id_pool",
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("table_name", "id", name=op.f("pk_sync_id_pool")),
    )

    for table in SYNCED_TABLES:
        _sync_columns(table)
    op.drop_index("ix_cohort_enrollments_cohort_id_user_id", table_name="cohort_enrollments")
    op.create_index(
        "ix_cohort_enrollments_cohort_id_user_id",
        "cohort_enrollments",
        ["cohort_id", "user_id"],
        unique=True,
        postgresql_where=sa.text("deleted_at IS NULL"),
        sqlite_where=sa.text("deleted_at IS NULL"),
    )
    op.execute(
        sa.text(
            "INSERT INTO sync_schema (id, min_client_schema, current_client_schema) VALUES (1, :v, :v)"
        ).bindparams(v=SYNC_SCHEMA_VERSION)
    )
    if is_pg:
        _upgrade_postgresql()


def _upgrade_postgresql() -> None:
    # Number the rows that already exist into their tenant's counter, parents first.
    for table in SYNCED_TABLES:
        op.execute(
            f"INSERT INTO tenant_clock (account_id, last_seq) SELECT DISTINCT account_id, 0 FROM {table} "
            "ON CONFLICT (account_id) DO NOTHING"
        )
        op.execute(
            f"UPDATE {table} t SET change_seq = c.last_seq + n.rn "
            f"FROM (SELECT id, account_id, row_number() OVER (PARTITION BY account_id ORDER BY id) AS rn "
            f"FROM {table}) n JOIN tenant_clock c ON c.account_id = n.account_id WHERE t.id = n.id"
        )
        op.execute(
            f"UPDATE tenant_clock c SET last_seq = c.last_seq + m.cnt "
            f"FROM (SELECT account_id, count(*) AS cnt FROM {table} GROUP BY account_id) m "
            "WHERE c.account_id = m.account_id"
        )
    op.execute(STAMP_FUNCTION)
    op.execute(REFUSE_DELETE_FUNCTION)
    op.execute(RESERVE_FUNCTION)
    op.execute("REVOKE ALL ON FUNCTION cohortdesk_reserve_ids(text, text, integer) FROM PUBLIC")
    for table in SYNCED_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_sync_stamp BEFORE INSERT OR UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION cohortdesk_sync_stamp()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION cohortdesk_refuse_delete()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION cohortdesk_refuse_delete()"
        )
    op.execute(GRANTS)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in SYNCED_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_sync_stamp ON {table}")
        op.execute("DROP FUNCTION IF EXISTS cohortdesk_reserve_ids(text, text, integer)")
        op.execute("DROP FUNCTION IF EXISTS cohortdesk_refuse_delete()")
        op.execute("DROP FUNCTION IF EXISTS cohortdesk_sync_stamp()")
    op.drop_index("ix_cohort_enrollments_cohort_id_user_id", table_name="cohort_enrollments")
    op.create_index(
        "ix_cohort_enrollments_cohort_id_user_id", "cohort_enrollments", ["cohort_id", "user_id"], unique=True
    )
    for table in reversed(SYNCED_TABLES):
        op.drop_index(f"ix_{table}_account_id_change_seq", table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("updated_by")
            batch.drop_column("deleted_at")
            batch.drop_column("change_seq")
    for table in (
        "sync_id_pool",
        "sync_outbox",
        "sync_state",
        "sync_id_reservation",
        "sync_conflict",
        "sync_device",
        "sync_schema",
        "tenant_clock",
    ):
        op.drop_table(table)
