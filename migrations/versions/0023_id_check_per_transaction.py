"""An ID number check says nothing inside the transaction that asked it: one check per transaction,
and its access-log entry unreadable until that transaction commits.

``cohortdesk_id_number_check`` (migration 0021) gives its answer only once the asking transaction has
committed, but two things inside that transaction already depended on the answer:

* **the "no" limit counted the transaction's own uncommitted checks.** One short of the limit (the
  fillers can be uncommitted "no"s too), check X, then check any new number in the same transaction:
  refused if X did not match, compared if it did. Roll back: no log entry, no count, and every
  candidate could be tried that way. A check now refuses to run in a transaction that already made
  one (``CD011``, before any limit is counted or the enrollment read), so the only checks a limit
  counts are committed ones, whose entries and answers are on the record;
* **a super admin reads the access log**, including the rows its own transaction has just written:
  ``BEGIN; SELECT cohortdesk_id_number_check(…); SELECT details ->> 'answer' FROM
  cohortdesk_access_log …; ROLLBACK``. A restrictive policy hides an ``id_number_check`` entry from the
  application groups while the transaction that wrote it is the reader's own
  (``cohortdesk_id_check_settled(log_id)``: the check's stored transaction id against
  ``pg_current_xact_id_if_assigned()``); once committed it is readable as before.

``tests/pg/test_hostile_review.py`` tries both (with transactions, savepoints and a ``DO`` block that
catches the refusal).

Revision ID: 0023_id_check_per_transaction
Revises: 0022_enrollment_view_plans
Create Date: 2026-12-08
"""

from __future__ import annotations

from alembic import op

revision = "0023_id_check_per_transaction"
down_revision = "0022_enrollment_view_plans"
branch_labels = None
depends_on = None

OWNER = "cohortdesk_owner"
GROUPS = "cohortdesk_super_admin, cohortdesk_officer, cohortdesk_report_viewer"
CHECK = "cohortdesk_id_number_check(bigint, text)"
SETTLED = "cohortdesk_id_check_settled(bigint)"
POLICY = "cohortdesk_id_check_settled"
#: Where 0021's check is extended: right after the candidate's format, before anything else is read.
ANCHOR = """    RAISE EXCEPTION 'an SA ID number is 13 digits' USING ERRCODE = 'invalid_parameter_value';
  END IF;
"""
ONE_PER_TRANSACTION = """  -- One check per transaction: a second one would count the first's uncommitted answer in the
  -- "no" limit (migration 0023). Refused before anything depends on the answer.
  IF EXISTS (SELECT 1 FROM @s.cohortdesk_id_checks k
              WHERE k.xact = pg_current_xact_id()::text::bigint AND k.login = v_login) THEN
    RAISE EXCEPTION 'one ID number check per transaction: commit this one, then check again'
      USING ERRCODE = 'CD011';
  END IF;
"""

SETTLED_SQL = f"""
CREATE INDEX ix_cohortdesk_id_checks_xact ON @s.cohortdesk_id_checks (xact);
-- False while the entry's check belongs to the caller's own, still open, transaction.
CREATE FUNCTION @s.cohortdesk_id_check_settled(p_log_id bigint) RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT pg_current_xact_id_if_assigned() IS NULL
      OR NOT EXISTS (SELECT 1 FROM @s.cohortdesk_id_checks k
                      WHERE k.xact = pg_current_xact_id_if_assigned()::text::bigint AND k.log_id = p_log_id)
$$;
REVOKE ALL ON FUNCTION @s.{SETTLED} FROM PUBLIC;
ALTER FUNCTION @s.{SETTLED} OWNER TO {OWNER};
GRANT EXECUTE ON FUNCTION @s.{SETTLED} TO {GROUPS};
CREATE POLICY {POLICY} ON @s.cohortdesk_access_log AS RESTRICTIVE FOR SELECT TO {GROUPS}
  USING (kind <> 'id_number_check' OR @s.cohortdesk_id_check_settled(id));
"""


def _sql(statement: str) -> None:
    bind = op.get_bind()
    schema = str(bind.exec_driver_sql("SELECT current_schema()").scalar_one())
    op.execute(statement.replace("@s", bind.dialect.identifier_preparer.quote(schema)))


def _rewrite_check(old: str, new: str) -> None:
    """Replace ``old`` by ``new`` in the check function's definition (exactly once, or fail)."""
    quoted = "$q$" + old + "$q$", "$q$" + new + "$q$"
    _sql(
        f"""
DO $$
DECLARE
  v_definition text := pg_catalog.pg_get_functiondef('@s.{CHECK}'::regprocedure);
BEGIN
  IF (pg_catalog.length(v_definition) - pg_catalog.length(pg_catalog.replace(v_definition, {quoted[0]}, '')))
     <> pg_catalog.length({quoted[0]}) THEN
    RAISE EXCEPTION 'cohortdesk_id_number_check() is not the definition this migration expects';
  END IF;
  EXECUTE pg_catalog.replace(v_definition, {quoted[0]}, {quoted[1]});
END $$;
"""
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite has no logins and no ID number checks of the server's
    _sql(SETTLED_SQL)
    _rewrite_check(ANCHOR, ANCHOR + ONE_PER_TRANSACTION)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _rewrite_check(ANCHOR + ONE_PER_TRANSACTION, ANCHOR)
    _sql(
        f"""
DROP POLICY IF EXISTS {POLICY} ON @s.cohortdesk_access_log;
DROP FUNCTION IF EXISTS @s.{SETTLED};
DROP INDEX IF EXISTS @s.ix_cohortdesk_id_checks_xact;
"""
    )
