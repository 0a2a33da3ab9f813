"""Security the database enforces: one login per person, institution isolation, append-only logs.

Both backends get two tables: ``cohortdesk_users`` (which PostgreSQL login is which person, in which
institution, with which CohortDesk role and capabilities) and ``cohortdesk_access_log`` (append-only:
document views, special-PI reveals, exports, permission changes). Everything else is PostgreSQL only
and skipped on SQLite, where one local person owns the file.

On PostgreSQL:

* **Roles** (cluster-wide, so created idempotently and never dropped: other databases of the same
  server may use them): NOLOGIN groups ``cohortdesk_super_admin``, ``cohortdesk_officer``,
  ``cohortdesk_report_viewer`` hold every grant; each person's LOGIN role is a member of exactly one.
  ``cohortdesk_owner`` (NOLOGIN, CREATEROLE so that a super admin's user management can create logins
  through SECURITY DEFINER functions) owns CohortDesk's tables, functions and views; no login is a member
  of it. ``cohortdesk_identity`` (NOLOGIN) owns only the functions that read a login's own mapping row
  (a role separate from the table owner, so the owner's own row-level policies can call them without
  recursing).
* **Identity comes only from ``session_user``**: ``cohortdesk_current_account()``,
  ``cohortdesk_current_institution()``, ``cohortdesk_current_role()``, ``cohortdesk_current_user_id()``
  and ``cohortdesk_has_capability(text)`` read the mapping row of ``session_user`` (NULL for an unknown
  or inactive login, so every policy fails closed). ``SET app.anything`` is never consulted; ``SET ROLE``
  and ``RESET ROLE`` change ``current_user`` only, and ``SET SESSION AUTHORIZATION`` needs a superuser.
  Every SECURITY DEFINER function pins ``search_path = pg_catalog, pg_temp`` (``pg_temp`` last so a temp
  table cannot shadow anything) and schema-qualifies every name; EXECUTE is revoked from PUBLIC first.
* **Row-level security, enabled and forced**, on the five tables, the two new ones and
  ``cohortdesk_install``: reads by the three groups are limited to ``account_id =
  cohortdesk_current_account()`` (written ``(SELECT …)`` so it is evaluated once per query), writes
  additionally check the institution, the referenced parent rows (foreign-key checks ignore RLS, so a
  policy makes sure a cohort cannot point at another institution's sponsor, nor a decision at another
  institution's enrollment) and, for decisions, that ``admin_id`` is the login's own user. FORCE makes
  the owner subject to the same policies, so even SECURITY DEFINER functions cannot cross institutions.
* **Grants**: every group reads; officers INSERT decisions and UPDATE only the verification columns of
  ``cohort_enrollments`` (plus the claim columns ``claimed_by``, ``claimed_by_user_id``, ``claim_token``, ``claim_expires_at``
  when a later migration has added them; that migration grants them itself if it lands after this
  one); super admins INSERT/UPDATE their institution's sponsors, cohorts and enrollments, update their
  institution and manage users through ``cohortdesk_admin_add_user`` / ``_set_role`` /
  ``_remove_user``, which check the caller is a super admin and only ever act inside the caller's own
  institution. Nobody but the owner can UPDATE, DELETE or TRUNCATE ``document_verifications`` (and the
  append-only triggers of 0002 refuse even the owner). The access log is written only through
  ``cohortdesk_log_access()`` (actor, time and institution set by the database, not the client) and
  read only by super admins.
* **DocuSeal tables: application roles get nothing.** What CohortDesk reads is exposed through
  ``security_barrier`` views in the schema ``cohortdesk_docuseal``, owned by ``cohortdesk_owner`` (which
  is granted SELECT on the DocuSeal tables), filtered to the DocuSeal account mapped to the login and
  leaving out every secret (``encrypted_password``, reset/unlock tokens, ``otp_secret``, sign-in IPs;
  ``access_tokens`` and ``encrypted_configs`` are not exposed at all). The views carry the DocuSeal table
  names (``cohortdesk_docuseal.users``, ``.templates``, ``.submissions``, ``.submitters``, ``.accounts``,
  ``.template_folders``, ``.active_storage_attachments``, ``.active_storage_blobs``) and each login gets
  ``search_path = cohortdesk_docuseal, public`` in this database.

  **Why routing by ``search_path``** rather than separate ORM classes for the views: every read path
  (the ORM classes ``User``/``Template``, Core selects and hand-written SQL in every service, including
  the ones other modules add later) keeps working unchanged under an application login, and nothing
  depends on the client for safety: a client that changes its ``search_path`` reaches the real DocuSeal
  tables, where it has no privilege, and gets "permission denied". Column-level grants on the DocuSeal
  tables were rejected: DocuSeal's tables have no RLS (and we must not change them), so a grant would
  show other accounts' rows. The secrets the ORM maps on ``User`` are deferred (never selected), so
  ``select(User)`` reads exactly the view's columns.
* **The sync tables of 0007** get the same treatment: ``tenant_clock`` readable by every login of the
  tenant; ``sync_device``, ``sync_conflict``, ``sync_id_reservation`` readable and writable by the
  tenant's super admins only; ``sync_schema`` readable by all; the laptop-only tables (``sync_state``,
  ``sync_outbox``, ``sync_id_pool``) closed to every login. Their functions move to the owner, and the
  SECURITY DEFINER ones get ``pg_temp`` last in their ``search_path``.
* **Owner policies** are ``tenant OR cohortdesk_session_is_privileged()``: a trigger or function owned
  by ``cohortdesk_owner`` acts within the login's institution, and without limit only for a session
  that could bypass RLS anyway (superuser or BYPASSRLS: migrations, maintenance, tests).
* ``cohortdesk_secure_table(regclass, tenant_column, readers)`` is left for later migrations: it gives
  a new CohortDesk table the owner, FORCE RLS, the tenant read policy, the owner's policy and SELECT
  for ``readers`` in one call (then add write grants/policies as that table needs). A test fails while
  any CohortDesk table lacks RLS, FORCE or a policy.

The downgrade removes this database's objects, policies and grants, gives the tables back to their
previous owner and resets the logins' ``search_path`` here; it never drops a role (roles belong to the
whole server). Running it needs a superuser, or a role with CREATEROLE that is a member of
``cohortdesk_owner``; the upgrade adds a non-superuser migrating role to ``cohortdesk_owner`` so later
migrations can still alter the tables.

Revision ID: 0005_security
Revises: 0009_queue_order_index
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005_security"
down_revision = "0009_queue_order_index"
branch_labels = None
depends_on = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TEXT_LIST = sa.JSON().with_variant(postgresql.ARRAY(sa.Text()), "postgresql")

# Frozen copies of names at the time of this revision (migrations never import app code).
OWNER = "cohortdesk_owner"
IDENTITY = "cohortdesk_identity"
SUPER_ADMIN = "cohortdesk_super_admin"
OFFICER = "cohortdesk_officer"
REPORT_VIEWER = "cohortdesk_report_viewer"
GROUPS = (SUPER_ADMIN, OFFICER, REPORT_VIEWER)
VIEW_SCHEMA = "cohortdesk_docuseal"
VERSION_TABLE = "cohortdesk_alembic_version"
TENANT_TABLES = (
    "institutions",
    "sponsors",
    "cohorts",
    "cohort_enrollments",
    "document_verifications",
    "cohortdesk_users",
    "cohortdesk_access_log",
)
#: The sync tables (0007) the server uses: tenant-keyed, super admins' (tenant_clock is read by all).
SYNC_TENANT_TABLES = ("tenant_clock", "sync_device", "sync_conflict", "sync_id_reservation")
#: Tables without personal data every login may read (installation facts, accepted sync schema).
SHARED_READ_TABLES = ("cohortdesk_install", "sync_schema")
#: Laptop-only sync tables: present on the server because the schema is one, used by nobody there.
LAPTOP_TABLES = ("sync_state", "sync_outbox", "sync_id_pool")
#: SECURITY DEFINER functions of 0007 whose search_path gets pg_temp last, and whose owner changes.
SYNC_DEFINER_FUNCTIONS = ("cohortdesk_sync_stamp()", "cohortdesk_reserve_ids(text, text, integer)")
SYNC_FUNCTIONS = (*SYNC_DEFINER_FUNCTIONS, "cohortdesk_refuse_delete()", "cohortdesk_notify_queue()")
DOCUSEAL_READ = (
    "accounts",
    "users",
    "template_folders",
    "templates",
    "submissions",
    "submitters",
    "active_storage_blobs",
    "active_storage_attachments",
)
VERIFICATION_COLUMNS = ("document_verification_state", "rejection_reason", "updated_at", "row_version")
CLAIM_COLUMNS = ("claimed_by", "claimed_by_user_id", "claim_token", "claim_expires_at")
CAPABILITIES = ("special_pi",)
PREVIOUS_OWNER_KEY = "security.previous_owner"
LOGIN_NAME_PATTERN = "^[a-z][a-z0-9_]{2,62}$"

IDENTITY_FUNCTIONS = (
    "cohortdesk_session_is_privileged()",
    "cohortdesk_current_account()",
    "cohortdesk_current_institution()",
    "cohortdesk_current_role()",
    "cohortdesk_current_user_id()",
    "cohortdesk_has_capability(text)",
)
OWNER_FUNCTIONS = (
    "cohortdesk_log_access(text, text, bigint, text, jsonb)",
    "cohortdesk_admin_add_user(text, text, bigint, text, text[])",
    "cohortdesk_admin_set_role(text, text, text[])",
    "cohortdesk_admin_remove_user(text)",
)
HELPER_FUNCTIONS = ("cohortdesk_secure_table(regclass, text, text)",)


def upgrade() -> None:
    op.create_table(
        "cohortdesk_users",
        sa.Column("db_role", sa.String(length=63), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("institution_id", sa.BigInteger(), nullable=False),
        sa.Column("app_role", sa.String(length=20), nullable=False),
        sa.Column("capabilities", TEXT_LIST, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=63), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "app_role IN ('super_admin', 'officer', 'report_viewer')",
            name=op.f("ck_cohortdesk_users_app_role"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_cohortdesk_users_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institutions.id"],
            name=op.f("fk_cohortdesk_users_institution_id_institutions"),
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_cohortdesk_users_user_id_users")),
        sa.PrimaryKeyConstraint("db_role", name=op.f("pk_cohortdesk_users")),
    )
    op.create_index("ix_cohortdesk_users_account_id", "cohortdesk_users", ["account_id"])
    op.create_index("ix_cohortdesk_users_user_id", "cohortdesk_users", ["user_id"])
    op.create_table(
        "cohortdesk_access_log",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=63), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("client_addr", sa.String(length=64), nullable=True),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("object_table", sa.String(length=63), nullable=True),
        sa.Column("object_id", sa.BigInteger(), nullable=True),
        sa.Column("purpose", sa.Text(), nullable=True),
        sa.Column("details", JSON_DOC, nullable=False),
        sa.CheckConstraint(
            "kind IN ('document_view', 'special_pi_reveal', 'export', 'permission_change')",
            name=op.f("ck_cohortdesk_access_log_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_cohortdesk_access_log_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_cohortdesk_access_log_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cohortdesk_access_log")),
    )
    op.create_index("ix_cohortdesk_access_log_account_id_at", "cohortdesk_access_log", ["account_id", "at"])
    op.create_index("ix_cohortdesk_access_log_object", "cohortdesk_access_log", ["object_table", "object_id"])
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _downgrade_postgresql()
    op.drop_index("ix_cohortdesk_access_log_object", table_name="cohortdesk_access_log")
    op.drop_index("ix_cohortdesk_access_log_account_id_at", table_name="cohortdesk_access_log")
    op.drop_table("cohortdesk_access_log")
    op.drop_index("ix_cohortdesk_users_user_id", table_name="cohortdesk_users")
    op.drop_index("ix_cohortdesk_users_account_id", table_name="cohortdesk_users")
    op.drop_table("cohortdesk_users")


# --- PostgreSQL ---------------------------------------------------------------------------------


def _schema() -> str:
    return str(op.get_bind().exec_driver_sql("SELECT current_schema()").scalar_one())


def _sql(statement: str, schema: str) -> None:
    """Run ``statement`` with ``@s`` standing for the schema holding CohortDesk's tables."""
    op.execute(statement.replace("@s", _ident(schema)))


def _ident(name: str) -> str:
    return op.get_bind().dialect.identifier_preparer.quote(name)


def _create_roles() -> None:
    """The shared roles, once per server. Parallel migrations of other databases may race us to
    create them: losing that race is fine."""
    for role, options in (
        (OWNER, "NOLOGIN CREATEROLE"),
        (IDENTITY, "NOLOGIN"),
        *((group, "NOLOGIN") for group in GROUPS),
    ):
        op.execute(
            f"""
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '{role}') THEN
    BEGIN
      CREATE ROLE {role} {options};
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL;
    END;
  END IF;
END $$"""
        )
    op.execute(
        f"""
DO $$
BEGIN
  IF NOT (SELECT rolcreaterole FROM pg_catalog.pg_roles WHERE rolname = '{OWNER}') THEN
    ALTER ROLE {OWNER} CREATEROLE;
  END IF;
  -- PostgreSQL 16+: granting a group to a login needs ADMIN OPTION on the group (CREATEROLE no longer
  -- suffices); the owner must not inherit the groups' rights or be able to SET ROLE to them.
  IF current_setting('server_version_num')::int >= 160000 THEN
    BEGIN
      EXECUTE 'GRANT {SUPER_ADMIN}, {OFFICER}, {REPORT_VIEWER} TO {OWNER} WITH ADMIN OPTION, INHERIT FALSE, SET FALSE';
    EXCEPTION WHEN internal_error OR unique_violation OR duplicate_object THEN
      NULL;  -- another database's migration granted it at the same moment
    END;
  END IF;
  -- A migrating role that is not a superuser must stay able to alter the tables it hands over.
  IF NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
    EXECUTE format('GRANT {OWNER} TO %I', current_user);
  END IF;
END $$"""
    )


IDENTITY_SQL = """
-- True when the login could bypass row-level security anyway (superuser or BYPASSRLS: maintenance,
-- migrations, tests). Only the owner's policies use it, so that triggers and functions owned by
-- cohortdesk_owner keep working for such a session; they grant it nothing it did not have.
CREATE FUNCTION @s.cohortdesk_session_is_privileged() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT coalesce((SELECT r.rolsuper OR r.rolbypassrls FROM pg_catalog.pg_roles r
                    WHERE r.rolname = session_user), false)
$$;
CREATE FUNCTION @s.cohortdesk_current_account() RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT m.account_id FROM @s.cohortdesk_users m WHERE m.db_role = session_user::text AND m.active
$$;
CREATE FUNCTION @s.cohortdesk_current_institution() RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT m.institution_id FROM @s.cohortdesk_users m WHERE m.db_role = session_user::text AND m.active
$$;
CREATE FUNCTION @s.cohortdesk_current_role() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT m.app_role::text FROM @s.cohortdesk_users m WHERE m.db_role = session_user::text AND m.active
$$;
CREATE FUNCTION @s.cohortdesk_current_user_id() RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT m.user_id FROM @s.cohortdesk_users m WHERE m.db_role = session_user::text AND m.active
$$;
-- Super admins hold every capability; other roles only those listed on their mapping row.
CREATE FUNCTION @s.cohortdesk_has_capability(p_capability text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT coalesce(bool_or(m.app_role = 'super_admin' OR p_capability = ANY (m.capabilities)), false)
    FROM @s.cohortdesk_users m WHERE m.db_role = session_user::text AND m.active
$$;
"""

SECURE_TABLE_SQL = f"""
CREATE FUNCTION @s.cohortdesk_secure_table(
  p_table regclass, p_tenant_column text DEFAULT 'account_id',
  p_readers text DEFAULT '{SUPER_ADMIN}, {OFFICER}, {REPORT_VIEWER}')
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_tenant text := format('%I = (SELECT @s.cohortdesk_current_account())', p_tenant_column);
  v_owner text := format('(%s OR (SELECT @s.cohortdesk_session_is_privileged()))', v_tenant);
BEGIN
  EXECUTE format('ALTER TABLE %s OWNER TO {OWNER}', p_table);
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', p_table);
  EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', p_table);
  EXECUTE format('REVOKE ALL ON %s FROM PUBLIC', p_table);
  EXECUTE format('CREATE POLICY cohortdesk_owner_tenant ON %s AS PERMISSIVE FOR ALL TO {OWNER} '
                 'USING %s WITH CHECK %s', p_table, v_owner, v_owner);
  IF coalesce(p_readers, '') <> '' THEN
    EXECUTE format('CREATE POLICY cohortdesk_read ON %s AS PERMISSIVE FOR SELECT TO %s USING (%s)',
                   p_table, p_readers, v_tenant);
    EXECUTE format('GRANT SELECT ON %s TO %s', p_table, p_readers);
  END IF;
END $$;
"""

LOG_ACCESS_SQL = """
CREATE FUNCTION @s.cohortdesk_log_access(p_kind text, p_object_table text, p_object_id bigint,
                                         p_purpose text, p_details jsonb)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_account bigint := @s.cohortdesk_current_account();
  v_id bigint;
BEGIN
  IF v_account IS NULL THEN
    RAISE EXCEPTION 'login % is not a CohortDesk user of this database', session_user
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF p_kind NOT IN ('document_view', 'special_pi_reveal', 'export') THEN
    RAISE EXCEPTION 'access log entries of kind % are written by the database itself', p_kind
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF p_kind = 'special_pi_reveal' AND NOT @s.cohortdesk_has_capability('special_pi') THEN
    RAISE EXCEPTION 'login % may not see special personal information', session_user
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  INSERT INTO @s.cohortdesk_access_log
         (at, actor, user_id, client_addr, account_id, kind, object_table, object_id, purpose, details)
  VALUES (now(), session_user, @s.cohortdesk_current_user_id(), host(inet_client_addr()), v_account,
          p_kind, p_object_table, p_object_id, p_purpose, coalesce(p_details, '{}'::jsonb))
  RETURNING id INTO v_id;
  RETURN v_id;
END $$;
"""

ADMIN_SQL = f"""
CREATE FUNCTION @s.cohortdesk_admin_add_user(p_login text, p_password text, p_user_id bigint,
                                             p_app_role text, p_capabilities text[])
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_account bigint := @s.cohortdesk_current_account();
  v_institution bigint := @s.cohortdesk_current_institution();
  v_capabilities text[] := coalesce(p_capabilities, '{{}}');
BEGIN
  IF @s.cohortdesk_current_role() IS DISTINCT FROM 'super_admin' THEN
    RAISE EXCEPTION 'only a super admin can add users' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF p_login IS NULL OR p_login !~ '{LOGIN_NAME_PATTERN}' OR p_login LIKE 'pg\\_%' OR p_login LIKE 'cohortdesk\\_%' THEN
    RAISE EXCEPTION 'login name %: use 3 to 63 lower-case letters, digits or _, starting with a letter', p_login
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_app_role IS NULL OR p_app_role NOT IN ('super_admin', 'officer', 'report_viewer') THEN
    RAISE EXCEPTION 'role %: must be super_admin, officer or report_viewer', p_app_role
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NOT v_capabilities <@ ARRAY[{", ".join(f"'{c}'" for c in CAPABILITIES)}]::text[] THEN
    RAISE EXCEPTION 'unknown capability in %', v_capabilities USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_password IS NOT NULL AND p_password NOT LIKE 'SCRAM-SHA-256$%' THEN
    RAISE EXCEPTION 'pass the password as a SCRAM-SHA-256 verifier, never in plain text'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = p_login) THEN
    RAISE EXCEPTION 'a database login named % already exists', p_login USING ERRCODE = 'duplicate_object';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM @s.users u WHERE u.id = p_user_id AND u.account_id = v_account) THEN
    RAISE EXCEPTION 'user % is not a person of your institution', p_user_id
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  EXECUTE format('CREATE ROLE %I LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION '
                 'NOBYPASSRLS CONNECTION LIMIT 20 PASSWORD %L', p_login, p_password);
  EXECUTE format('GRANT %I TO %I', 'cohortdesk_' || p_app_role, p_login);
  EXECUTE format('ALTER ROLE %I IN DATABASE %I SET search_path = {VIEW_SCHEMA}, %I',
                 p_login, current_database(), '@s');
  INSERT INTO @s.cohortdesk_users (db_role, user_id, account_id, institution_id, app_role, capabilities,
                                   active, created_at, created_by, updated_at)
  VALUES (p_login, p_user_id, v_account, v_institution, p_app_role, v_capabilities, true, now(),
          session_user, now());
  INSERT INTO @s.cohortdesk_access_log (at, actor, user_id, client_addr, account_id, kind, object_table,
                                        purpose, details)
  VALUES (now(), session_user, @s.cohortdesk_current_user_id(), host(inet_client_addr()), v_account,
          'permission_change', 'cohortdesk_users', 'add user',
          jsonb_build_object('login', p_login, 'user_id', p_user_id, 'role', p_app_role,
                             'capabilities', to_jsonb(v_capabilities)));
END $$;

CREATE FUNCTION @s.cohortdesk_admin_set_role(p_login text, p_app_role text, p_capabilities text[])
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_old @s.cohortdesk_users%ROWTYPE;
  v_capabilities text[] := coalesce(p_capabilities, '{{}}');
BEGIN
  IF @s.cohortdesk_current_role() IS DISTINCT FROM 'super_admin' THEN
    RAISE EXCEPTION 'only a super admin can change roles' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF p_app_role IS NULL OR p_app_role NOT IN ('super_admin', 'officer', 'report_viewer') THEN
    RAISE EXCEPTION 'role %: must be super_admin, officer or report_viewer', p_app_role
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NOT v_capabilities <@ ARRAY[{", ".join(f"'{c}'" for c in CAPABILITIES)}]::text[] THEN
    RAISE EXCEPTION 'unknown capability in %', v_capabilities USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_login = session_user::text THEN
    RAISE EXCEPTION 'you cannot change your own role; ask another super admin'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  -- Row-level security limits this to the caller's own institution.
  SELECT * INTO v_old FROM @s.cohortdesk_users WHERE db_role = p_login FOR UPDATE;
  IF NOT FOUND OR NOT v_old.active THEN
    RAISE EXCEPTION 'there is no active user % in your institution', p_login USING ERRCODE = 'no_data_found';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = p_login
              AND (r.rolsuper OR r.rolcreaterole OR r.rolbypassrls OR r.rolreplication)) THEN
    RAISE EXCEPTION 'login % is a database administrator; change it on the server', p_login
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF v_old.app_role <> p_app_role THEN
    EXECUTE format('REVOKE %I FROM %I', 'cohortdesk_' || v_old.app_role, p_login);
    EXECUTE format('GRANT %I TO %I', 'cohortdesk_' || p_app_role, p_login);
  END IF;
  UPDATE @s.cohortdesk_users SET app_role = p_app_role, capabilities = v_capabilities, updated_at = now()
   WHERE db_role = p_login;
  INSERT INTO @s.cohortdesk_access_log (at, actor, user_id, client_addr, account_id, kind, object_table,
                                        purpose, details)
  VALUES (now(), session_user, @s.cohortdesk_current_user_id(), host(inet_client_addr()), v_old.account_id,
          'permission_change', 'cohortdesk_users', 'set role',
          jsonb_build_object('login', p_login, 'from_role', v_old.app_role, 'to_role', p_app_role,
                             'from_capabilities', to_jsonb(v_old.capabilities),
                             'to_capabilities', to_jsonb(v_capabilities)));
END $$;

CREATE FUNCTION @s.cohortdesk_admin_remove_user(p_login text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_old @s.cohortdesk_users%ROWTYPE;
  v_group text;
BEGIN
  IF @s.cohortdesk_current_role() IS DISTINCT FROM 'super_admin' THEN
    RAISE EXCEPTION 'only a super admin can remove users' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF p_login = session_user::text THEN
    RAISE EXCEPTION 'you cannot remove yourself; ask another super admin'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  SELECT * INTO v_old FROM @s.cohortdesk_users WHERE db_role = p_login FOR UPDATE;
  IF NOT FOUND OR NOT v_old.active THEN
    RAISE EXCEPTION 'there is no active user % in your institution', p_login USING ERRCODE = 'no_data_found';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = p_login
              AND (r.rolsuper OR r.rolcreaterole OR r.rolbypassrls OR r.rolreplication)) THEN
    RAISE EXCEPTION 'login % is a database administrator; change it on the server', p_login
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  -- Disable, never drop: the name stays in the audit trail and is never given to someone else.
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = p_login) THEN
    EXECUTE format('ALTER ROLE %I NOLOGIN', p_login);
    FOREACH v_group IN ARRAY ARRAY['{SUPER_ADMIN}', '{OFFICER}', '{REPORT_VIEWER}'] LOOP
      IF EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members am
                  WHERE am.roleid = v_group::regrole AND am.member = p_login::regrole) THEN
        EXECUTE format('REVOKE %I FROM %I', v_group, p_login);
      END IF;
    END LOOP;
  END IF;
  UPDATE @s.cohortdesk_users SET active = false, disabled_at = now(), updated_at = now()
   WHERE db_role = p_login;
  INSERT INTO @s.cohortdesk_access_log (at, actor, user_id, client_addr, account_id, kind, object_table,
                                        purpose, details)
  VALUES (now(), session_user, @s.cohortdesk_current_user_id(), host(inet_client_addr()), v_old.account_id,
          'permission_change', 'cohortdesk_users', 'remove user',
          jsonb_build_object('login', p_login, 'role', v_old.app_role));
END $$;
"""

TENANT = "account_id = (SELECT @s.cohortdesk_current_account())"
IS_SUPER_ADMIN = "(SELECT @s.cohortdesk_current_role()) = 'super_admin'"
OWN_INSTITUTION = "institution_id = (SELECT @s.cohortdesk_current_institution())"

# (table, policy name, command, roles, USING, WITH CHECK) beyond what cohortdesk_secure_table creates.
WRITE_POLICIES: tuple[tuple[str, str, str, str, str | None, str | None], ...] = (
    (
        "institutions",
        "cohortdesk_admin_update",
        "UPDATE",
        SUPER_ADMIN,
        f"{TENANT} AND {IS_SUPER_ADMIN}",
        f"{TENANT} AND {IS_SUPER_ADMIN} AND id = (SELECT @s.cohortdesk_current_institution())",
    ),
    (
        "institutions",
        "cohortdesk_admin_insert",
        "INSERT",
        SUPER_ADMIN,
        None,
        f"{TENANT} AND {IS_SUPER_ADMIN}",
    ),
    (
        "sponsors",
        "cohortdesk_admin_write",
        "ALL",
        SUPER_ADMIN,
        f"{TENANT} AND {IS_SUPER_ADMIN}",
        f"{TENANT} AND {IS_SUPER_ADMIN} AND {OWN_INSTITUTION}",
    ),
    (
        "cohorts",
        "cohortdesk_admin_write",
        "ALL",
        SUPER_ADMIN,
        f"{TENANT} AND {IS_SUPER_ADMIN}",
        f"{TENANT} AND {IS_SUPER_ADMIN} AND {OWN_INSTITUTION}"
        " AND (sponsor_id IS NULL OR EXISTS (SELECT 1 FROM @s.sponsors sp WHERE sp.id = cohorts.sponsor_id))"
        " AND (main_template_id IS NULL OR EXISTS"
        f" (SELECT 1 FROM {VIEW_SCHEMA}.templates t WHERE t.id = cohorts.main_template_id))",
    ),
    (
        "cohort_enrollments",
        "cohortdesk_admin_write",
        "ALL",
        SUPER_ADMIN,
        f"{TENANT} AND {IS_SUPER_ADMIN}",
        f"{TENANT} AND {IS_SUPER_ADMIN}"
        " AND EXISTS (SELECT 1 FROM @s.cohorts c WHERE c.id = cohort_enrollments.cohort_id)"
        f" AND EXISTS (SELECT 1 FROM {VIEW_SCHEMA}.users u WHERE u.id = cohort_enrollments.user_id)",
    ),
    ("cohort_enrollments", "cohortdesk_officer_update", "UPDATE", OFFICER, TENANT, TENANT),
    (
        "document_verifications",
        "cohortdesk_decide",
        "INSERT",
        f"{SUPER_ADMIN}, {OFFICER}",
        None,
        f"{TENANT} AND admin_id = (SELECT @s.cohortdesk_current_user_id())"
        " AND EXISTS (SELECT 1 FROM @s.cohort_enrollments e"
        " WHERE e.id = document_verifications.cohort_enrollment_id)",
    ),
    ("sync_device", "cohortdesk_admin_write", "ALL", SUPER_ADMIN, TENANT, TENANT),
    ("sync_conflict", "cohortdesk_admin_write", "ALL", SUPER_ADMIN, TENANT, TENANT),
    ("sync_id_reservation", "cohortdesk_admin_update", "UPDATE", SUPER_ADMIN, TENANT, TENANT),
    (
        "cohortdesk_users",
        "cohortdesk_own_row",
        "SELECT",
        IDENTITY,
        "db_role = session_user::text",
        None,
    ),
)

ENROLLMENT_READ_SQL = """
  SELECT d.value ->> 'storage_key'
    FROM @s.cohort_enrollments e
   CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(e.uploaded_documents) = 'object'
                                      THEN e.uploaded_documents ELSE '{}'::jsonb END) d
   WHERE e.account_id = (SELECT @s.cohortdesk_current_account())
"""

# DocuSeal views: only the columns CohortDesk maps (secrets left out), only the login's account.
VIEWS: tuple[tuple[str, str, str], ...] = (
    (
        "accounts",
        "id, name, timezone, locale, uuid, archived_at, created_at, updated_at",
        "id = (SELECT @s.cohortdesk_current_account())",
    ),
    (
        "users",
        "id, account_id, email, first_name, last_name, role, uuid, archived_at, created_at, updated_at",
        TENANT,
    ),
    (
        "template_folders",
        "id, account_id, author_id, name, parent_folder_id, archived_at, created_at, updated_at",
        TENANT,
    ),
    (
        "templates",
        'id, account_id, author_id, folder_id, name, slug, external_id, "source", fields, "schema", '
        "submitters, preferences, variables_schema, shared_link, archived_at, created_at, updated_at",
        TENANT,
    ),
    (
        "submissions",
        'id, account_id, template_id, created_by_user_id, name, slug, "source", submitters_order, '
        "template_fields, template_schema, template_submitters, preferences, variables, variables_schema, "
        "expire_at, completed_at, archived_at, created_at, updated_at",
        TENANT,
    ),
    (
        "submitters",
        'id, submission_id, account_id, uuid, slug, email, name, phone, external_id, "values", preferences, '
        "metadata, sent_at, opened_at, completed_at, declined_at, ip, ua, timezone, created_at, updated_at",
        TENANT,
    ),
    (
        "active_storage_attachments",
        "id, name, record_type, record_id, blob_id, uuid, created_at",
        f"""(record_type = 'Submitter' AND record_id IN (SELECT s.id FROM @s.submitters s WHERE s.{TENANT}))
         OR (record_type = 'Submission' AND record_id IN (SELECT s.id FROM @s.submissions s WHERE s.{TENANT}))
         OR (record_type = 'Template' AND record_id IN (SELECT t.id FROM @s.templates t WHERE t.{TENANT}))
         OR (record_type = 'User' AND record_id IN (SELECT u.id FROM @s.users u WHERE u.{TENANT}))""",
    ),
    (
        "active_storage_blobs",
        'id, "key", filename, content_type, metadata, service_name, byte_size, checksum, uuid, created_at',
        f"""id IN (SELECT a.blob_id FROM {VIEW_SCHEMA}.active_storage_attachments a)
         OR "key" IN ({ENROLLMENT_READ_SQL})""",
    ),
)


def _upgrade_postgresql() -> None:
    schema = _schema()
    bind = op.get_bind()
    previous_owner = bind.exec_driver_sql(
        "SELECT tableowner FROM pg_catalog.pg_tables WHERE schemaname = current_schema() "
        "AND tablename = 'institutions'"
    ).scalar_one()
    bind.execute(
        sa.text("INSERT INTO cohortdesk_install (key, value) VALUES (:k, :v)"),
        {"k": PREVIOUS_OWNER_KEY, "v": previous_owner},
    )
    _create_roles()

    # Column defaults only the database can fill truthfully.
    _sql(
        """
ALTER TABLE @s.cohortdesk_access_log ALTER COLUMN at SET DEFAULT now(),
  ALTER COLUMN actor SET DEFAULT session_user, ALTER COLUMN details SET DEFAULT '{}'::jsonb,
  ALTER COLUMN client_addr SET DEFAULT host(inet_client_addr());
ALTER TABLE @s.cohortdesk_users ALTER COLUMN capabilities SET DEFAULT '{}'::text[],
  ALTER COLUMN active SET DEFAULT true, ALTER COLUMN created_at SET DEFAULT now(),
  ALTER COLUMN updated_at SET DEFAULT now(), ALTER COLUMN created_by SET DEFAULT session_user;
CREATE TRIGGER cohortdesk_access_log_no_change BEFORE UPDATE OR DELETE ON @s.cohortdesk_access_log
  FOR EACH ROW EXECUTE FUNCTION @s.cohortdesk_refuse_change();
CREATE TRIGGER cohortdesk_access_log_no_truncate BEFORE TRUNCATE ON @s.cohortdesk_access_log
  FOR EACH STATEMENT EXECUTE FUNCTION @s.cohortdesk_refuse_change();
""",
        schema,
    )

    # Functions: identity lookups (owned by the identity role), then the owner's.
    _sql(IDENTITY_SQL, schema)
    _sql(SECURE_TABLE_SQL, schema)
    _sql(LOG_ACCESS_SQL, schema)
    _sql(ADMIN_SQL, schema)
    for function in (*IDENTITY_FUNCTIONS, *OWNER_FUNCTIONS, *HELPER_FUNCTIONS):
        _sql(f"REVOKE ALL ON FUNCTION @s.{function} FROM PUBLIC", schema)
    for function in IDENTITY_FUNCTIONS:
        _sql(f"ALTER FUNCTION @s.{function} OWNER TO {IDENTITY}", schema)
        _sql(f"GRANT EXECUTE ON FUNCTION @s.{function} TO {OWNER}, {', '.join(GROUPS)}", schema)
    for function in (*OWNER_FUNCTIONS, *HELPER_FUNCTIONS, "cohortdesk_refuse_change()"):
        _sql(f"ALTER FUNCTION @s.{function} OWNER TO {OWNER}", schema)
    _sql(
        f"GRANT EXECUTE ON FUNCTION @s.cohortdesk_log_access(text, text, bigint, text, jsonb) TO {', '.join(GROUPS)}",
        schema,
    )
    for function in OWNER_FUNCTIONS[1:]:
        _sql(f"GRANT EXECUTE ON FUNCTION @s.{function} TO {SUPER_ADMIN}", schema)

    # Schemas and the DocuSeal tables the owner's views read.
    _sql(f"GRANT USAGE ON SCHEMA @s TO {OWNER}, {IDENTITY}, {', '.join(GROUPS)}", schema)
    if not bind.exec_driver_sql("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").scalar_one():
        _sql(f"GRANT CREATE ON SCHEMA @s TO {OWNER}", schema)
    for table in DOCUSEAL_READ:
        _sql(f"GRANT SELECT ON @s.{table} TO {OWNER}", schema)
    _sql(
        f"GRANT SELECT (db_role, user_id, account_id, institution_id, app_role, capabilities, active) "
        f"ON @s.cohortdesk_users TO {IDENTITY}",
        schema,
    )

    # Ownership, RLS, the tenant read policy and SELECT for every tenant table.
    readers = {"cohortdesk_access_log": SUPER_ADMIN, "sync_device": SUPER_ADMIN, "sync_conflict": SUPER_ADMIN}
    readers["sync_id_reservation"] = SUPER_ADMIN
    for table in (*TENANT_TABLES, *SYNC_TENANT_TABLES):
        who = readers.get(table, ", ".join(GROUPS))
        _sql(f"SELECT @s.cohortdesk_secure_table('@s.{table}'::regclass, 'account_id', '{who}')", schema)
    # Laptop-only tables: forced RLS, the owner's policy for privileged sessions only, no grants.
    for table in LAPTOP_TABLES:
        _sql(
            f"""
ALTER TABLE @s.{table} OWNER TO {OWNER};
ALTER TABLE @s.{table} ENABLE ROW LEVEL SECURITY;
ALTER TABLE @s.{table} FORCE ROW LEVEL SECURITY;
REVOKE ALL ON @s.{table} FROM PUBLIC;
CREATE POLICY cohortdesk_owner_tenant ON @s.{table} FOR ALL TO {OWNER}
  USING ((SELECT @s.cohortdesk_session_is_privileged())) WITH CHECK ((SELECT @s.cohortdesk_session_is_privileged()));
""",
            schema,
        )
    # DocuSeal data through the owner's filtered views.
    _sql(f"CREATE SCHEMA {VIEW_SCHEMA} AUTHORIZATION {OWNER}", schema)
    for name, columns, where in VIEWS:
        _sql(
            f"CREATE VIEW {VIEW_SCHEMA}.{name} WITH (security_barrier = true) AS "
            f"SELECT {columns} FROM @s.{name} WHERE {where}",
            schema,
        )
        _sql(f"ALTER VIEW {VIEW_SCHEMA}.{name} OWNER TO {OWNER}", schema)
    _sql(f"REVOKE ALL ON ALL TABLES IN SCHEMA {VIEW_SCHEMA} FROM PUBLIC", schema)
    _sql(f"GRANT USAGE ON SCHEMA {VIEW_SCHEMA} TO {', '.join(GROUPS)}", schema)
    _sql(f"GRANT SELECT ON ALL TABLES IN SCHEMA {VIEW_SCHEMA} TO {', '.join(GROUPS)}", schema)

    for table, name, command, roles, using, check in WRITE_POLICIES:
        clauses = (f" USING ({using})" if using else "") + (f" WITH CHECK ({check})" if check else "")
        _sql(f"CREATE POLICY {name} ON @s.{table} FOR {command} TO {roles}{clauses}", schema)
    # Installation facts and the accepted sync schema: readable by every login, written by migrations.
    for table in SHARED_READ_TABLES:
        _sql(
            f"""
ALTER TABLE @s.{table} OWNER TO {OWNER};
ALTER TABLE @s.{table} ENABLE ROW LEVEL SECURITY;
ALTER TABLE @s.{table} FORCE ROW LEVEL SECURITY;
CREATE POLICY cohortdesk_owner_all ON @s.{table} FOR ALL TO {OWNER} USING (true) WITH CHECK (true);
CREATE POLICY cohortdesk_read ON @s.{table} FOR SELECT TO {", ".join(GROUPS)} USING (true);
GRANT SELECT ON @s.{table} TO {", ".join(GROUPS)};
""",
            schema,
        )
    _sql(f"GRANT SELECT ON @s.{VERSION_TABLE} TO {', '.join(GROUPS)}", schema)
    _secure_sync_functions(schema)

    # Write grants: super admins manage their institution, officers decide.
    columns = "name, registration_number, address, contact_email, contact_phone, super_admin_id, settings"
    # INSERT only ever succeeds into the super admin's own account (the policy), which already has its
    # one institution (a unique index): a laptop's sync push gets a clean refusal it can report.
    _sql(f"GRANT INSERT ON @s.institutions TO {SUPER_ADMIN}", schema)
    _sql(
        f"GRANT UPDATE ({columns}, updated_at, row_version, deleted_at) ON @s.institutions TO {SUPER_ADMIN}",
        schema,
    )
    for table in ("sponsors", "cohorts", "cohort_enrollments"):
        _sql(f"GRANT INSERT, UPDATE ON @s.{table} TO {SUPER_ADMIN}", schema)
    _sql(f"GRANT INSERT ON @s.document_verifications TO {SUPER_ADMIN}, {OFFICER}", schema)
    _sql(f"GRANT UPDATE ({', '.join(VERIFICATION_COLUMNS)}) ON @s.cohort_enrollments TO {OFFICER}", schema)
    # Claim columns, if the claims migration landed before this one (it grants them itself otherwise).
    for column in CLAIM_COLUMNS:
        _sql(
            f"""
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = '@s'
              AND table_name = 'cohort_enrollments' AND column_name = '{column}') THEN
    EXECUTE 'GRANT UPDATE ({column}) ON @s.cohort_enrollments TO {OFFICER}';
  END IF;
END $$""",
            schema,
        )
    # The sync tables' grants (0007 grants them too when these roles already exist; GRANT is idempotent).
    _sql(
        f"""
GRANT INSERT, UPDATE ON @s.sync_device, @s.sync_conflict TO {SUPER_ADMIN};
GRANT UPDATE ON @s.sync_id_reservation TO {SUPER_ADMIN};
GRANT EXECUTE ON FUNCTION @s.cohortdesk_reserve_ids(text, text, integer) TO {SUPER_ADMIN};
""",
        schema,
    )
    for table, roles in (
        ("sync_conflict", SUPER_ADMIN),
        ("sponsors", SUPER_ADMIN),
        ("cohorts", SUPER_ADMIN),
        ("cohort_enrollments", SUPER_ADMIN),
        ("document_verifications", f"{SUPER_ADMIN}, {OFFICER}"),
    ):
        _sql(
            f"""
DO $$
DECLARE v_sequence text := pg_get_serial_sequence('@s.{table}', 'id');
BEGIN
  IF v_sequence IS NOT NULL THEN
    EXECUTE format('GRANT USAGE ON SEQUENCE %s TO {roles}', v_sequence);
  END IF;
END $$""",
            schema,
        )


def _secure_sync_functions(schema: str) -> None:
    """0007's functions: owned by the owner (never by a superuser, whose definer rights bypass every
    policy), and ``pg_temp`` last in the definer functions' search_path so a
    temporary table cannot stand in for ``sync_device`` or ``tenant_clock``."""
    for function in SYNC_FUNCTIONS:
        _sql(f"ALTER FUNCTION @s.{function} OWNER TO {OWNER}", schema)
    for function in SYNC_DEFINER_FUNCTIONS:
        _sql(f"ALTER FUNCTION @s.{function} SET search_path = pg_catalog, @s, pg_temp", schema)


def _downgrade_postgresql() -> None:
    schema = _schema()
    bind = op.get_bind()
    previous_owner = bind.execute(
        sa.text("SELECT value FROM cohortdesk_install WHERE key = :k"), {"k": PREVIOUS_OWNER_KEY}
    ).scalar()
    if (
        not previous_owner
        or not bind.execute(
            sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": previous_owner}
        ).scalar()
    ):
        previous_owner = bind.exec_driver_sql("SELECT current_user").scalar_one()

    # Logins keep existing (they belong to the server) but lose this database's search_path.
    _sql(
        """
DO $$
DECLARE v_login text;
BEGIN
  FOR v_login IN SELECT m.db_role FROM @s.cohortdesk_users m JOIN pg_catalog.pg_roles r ON r.rolname = m.db_role
  LOOP
    EXECUTE format('ALTER ROLE %I IN DATABASE %I RESET search_path', v_login, current_database());
  END LOOP;
END $$""",
        schema,
    )
    op.execute(f"DROP SCHEMA IF EXISTS {VIEW_SCHEMA} CASCADE")

    for table in (*TENANT_TABLES, *SYNC_TENANT_TABLES, *LAPTOP_TABLES, *SHARED_READ_TABLES):
        for (policy,) in bind.execute(
            sa.text("SELECT policyname FROM pg_policies WHERE schemaname = :s AND tablename = :t"),
            {"s": schema, "t": table},
        ).all():
            _sql(f"DROP POLICY {_ident(policy)} ON @s.{table}", schema)
        _sql(f"ALTER TABLE @s.{table} NO FORCE ROW LEVEL SECURITY", schema)
        _sql(f"ALTER TABLE @s.{table} DISABLE ROW LEVEL SECURITY", schema)
        _sql(f"REVOKE ALL ON @s.{table} FROM {', '.join(GROUPS)}, {IDENTITY}", schema)
        _sql(f"ALTER TABLE @s.{table} OWNER TO {_ident(previous_owner)}", schema)
    _sql(f"REVOKE ALL ON @s.{VERSION_TABLE} FROM {', '.join(GROUPS)}", schema)
    for table in ("sponsors", "cohorts", "cohort_enrollments", "document_verifications", "sync_conflict"):
        _sql(
            f"""
DO $$
DECLARE v_sequence text := pg_get_serial_sequence('@s.{table}', 'id');
BEGIN
  IF v_sequence IS NOT NULL THEN
    EXECUTE format('REVOKE ALL ON SEQUENCE %s FROM {", ".join(GROUPS)}', v_sequence);
  END IF;
END $$""",
            schema,
        )
    for function in (*OWNER_FUNCTIONS, *HELPER_FUNCTIONS, *IDENTITY_FUNCTIONS):
        _sql(f"DROP FUNCTION IF EXISTS @s.{function}", schema)
    for function in SYNC_FUNCTIONS:
        _sql(f"ALTER FUNCTION @s.{function} OWNER TO {_ident(previous_owner)}", schema)
    for function in SYNC_DEFINER_FUNCTIONS:
        _sql(f"ALTER FUNCTION @s.{function} SET search_path = pg_catalog, public", schema)
    _sql(f"ALTER FUNCTION @s.cohortdesk_refuse_change() OWNER TO {_ident(previous_owner)}", schema)
    for table in DOCUSEAL_READ:
        _sql(f"REVOKE SELECT ON @s.{table} FROM {OWNER}", schema)
    _sql(f"REVOKE ALL ON SCHEMA @s FROM {OWNER}, {IDENTITY}, {', '.join(GROUPS)}", schema)
    _sql(
        """
DROP TRIGGER IF EXISTS cohortdesk_access_log_no_truncate ON @s.cohortdesk_access_log;
DROP TRIGGER IF EXISTS cohortdesk_access_log_no_change ON @s.cohortdesk_access_log;
""",
        schema,
    )
    bind.execute(sa.text("DELETE FROM cohortdesk_install WHERE key = :k"), {"k": PREVIOUS_OWNER_KEY})
