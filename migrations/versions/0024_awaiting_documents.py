"""How many of an enrollment's uploaded documents await a decision, kept by the database per enrollment
(PostgreSQL), so the cohort counts stop re-reading every enrollment's uploads and decisions.

"To decide" is a pending enrollment with at least one uploaded document that has no decision on the
file as it is now: no decision that still stands on its (canonical) document type, or the latest one
was made on a file with another checksum (``services.review.queue.live_awaiting_count``). Counted live,
a cohort of 4,000 pending enrollments took 60-100 ms, and every workstation's window re-reads its
cohorts' counts every 10-15 s: with 200 workstations those counts were most of what the server did
(``docs/deployment.md``).

On PostgreSQL:

* ``cohortdesk_awaiting`` (``enrollment_id``, ``account_id``, ``documents``): one row per enrollment,
  ``documents`` the number of its uploaded documents awaiting a decision. A table of its own rather
  than a column of ``cohort_enrollments``: that table is synced (every column of it travels in a push
  and a pull), read through the masked view of migration 0016 whose column list and grants follow the
  table's columns, and written by DocuSeal; a value derived from the decisions belongs to none of that,
  and its updates would stamp sync changes. The table is the owner's: forced row-level security, the
  three groups may only read their own account's rows (``cohortdesk_secure_table``), and nobody is
  granted any write: only the triggers below (``SECURITY DEFINER``, owned by ``cohortdesk_owner``)
  write it. One row per enrollment rather than a counter per cohort: officers deciding in one cohort
  would all queue on a cohort's row.
* The rule in SQL (``_rule`` below), exactly ``live_awaiting_count``'s: legacy upload keys
  canonicalised as ``validation.LEGACY_DOCUMENT_KEYS`` (``cohortdesk_canonical_document_type``); the
  latest approval or rejection not undone per document type, by time then id; its checksum against the
  file's, either missing counting as decided. An ``uploaded_documents`` that is not a JSON object
  counts as no uploads (the live rule cannot read it; DocuSeal's write is never refused for it).
* Triggers count new enrollments once per ``INSERT`` statement (an import adds thousands), and
  ``cohortdesk_refresh_awaiting(enrollment)`` recounts one enrollment after its ``uploaded_documents``
  (or ``account_id``) change and after a decision or an undo is inserted (decisions are append-only:
  never updated or deleted). Whoever writes (DocuSeal's web side, a sync push, the decision functions,
  maintenance sessions), the count follows. Concurrent writers of one enrollment queue on its row (``FOR
  UPDATE``) and each counts in a statement started after the one before it committed, so the last
  count always sees every committed change.
* The rows of existing enrollments are counted by the upgrade (after the triggers are in place: they
  hold off writers until the migration commits). An enrollment's row goes with it (``ON DELETE
  CASCADE``; synced rows are tombstoned, never deleted, and a tombstone is left out by the counts).

SQLite, one person's store, keeps counting live (``queue.STORED_AWAITING``): nothing changes there.

Revision ID: 0024_awaiting_documents
Revises: 0023_id_check_per_transaction
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0024_awaiting_documents"
down_revision = "0023_id_check_per_transaction"
branch_labels = None
depends_on = None

OWNER = "cohortdesk_owner"
GROUPS = "cohortdesk_super_admin, cohortdesk_officer, cohortdesk_report_viewer"
DEFINER = "SECURITY DEFINER SET search_path = pg_catalog, pg_temp"
# Frozen copy of validation.LEGACY_DOCUMENT_KEYS at the time of this revision (migrations never import
# app code; a test compares this function's answers with the mapping the application uses).
LEGACY_DOCUMENT_KEYS = {
    "id": "id_document",
    "id_copy": "id_document",
    "matric": "matric_certificate",
    "tertiary": "tertiary_qualification",
    "tertiary_certificate": "tertiary_qualification",
    "tertiary_transcript": "tertiary_qualification",
    "qualifications": "tertiary_qualification",
    "disability": "disability_proof",
    "certificates": "international_certificate",
}
FUNCTIONS = (
    "cohortdesk_canonical_document_type(text)",
    "cohortdesk_refresh_awaiting(bigint)",
    "cohortdesk_awaiting_after_enrollments()",
    "cohortdesk_awaiting_after_enrollment()",
    "cohortdesk_awaiting_after_decision()",
)
TRIGGERS = (
    ("cohortdesk_awaiting_enrollment_insert", "cohort_enrollments"),
    ("cohortdesk_awaiting_enrollment_update", "cohort_enrollments"),
    ("cohortdesk_awaiting_decision", "document_verifications"),
)


def _rule(enrollment_id: str, uploaded: str) -> str:
    """The rule as a SQL expression over an enrollment's id and ``uploaded_documents`` (written once,
    used by each statement that counts; not a function of its own, whose query would evaluate the
    row-level security conditions on decisions once per enrollment where a statement over many
    enrollments evaluates them once)."""
    return f"""(
    SELECT count(*)::integer
      FROM jsonb_each(CASE WHEN jsonb_typeof({uploaded}) = 'object' THEN {uploaded} ELSE '{{}}' END) upload
     WHERE NOT EXISTS (
       SELECT 1
         FROM (SELECT d.metadata FROM @s.document_verifications d
                WHERE d.cohort_enrollment_id = {enrollment_id}
                  AND d.document_type = @s.cohortdesk_canonical_document_type(upload.key)
                  AND d.action IN ('approved', 'rejected')
                  AND NOT EXISTS (SELECT 1 FROM @s.document_verifications r WHERE r.reverses_id = d.id)
                ORDER BY d.created_at DESC, d.id DESC
                LIMIT 1) latest
        WHERE (latest.metadata ->> 'checksum') IS NULL OR (upload.value ->> 'checksum') IS NULL
           OR (latest.metadata ->> 'checksum') = (upload.value ->> 'checksum')))"""


def _canonical_sql() -> str:
    legacy = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in LEGACY_DOCUMENT_KEYS.items())
    return f"""
CREATE FUNCTION @s.cohortdesk_canonical_document_type(p_key text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE p_key {legacy} ELSE p_key END
$$;
"""


UPGRADE_SQL = f"""
CREATE TABLE @s.cohortdesk_awaiting (
  enrollment_id bigint PRIMARY KEY REFERENCES @s.cohort_enrollments (id) ON DELETE CASCADE,
  account_id bigint NOT NULL,
  documents integer NOT NULL CHECK (documents >= 0)
);

CREATE FUNCTION @s.cohortdesk_refresh_awaiting(p_enrollment_id bigint) RETURNS void
LANGUAGE plpgsql {DEFINER} AS $$
DECLARE
  v_account bigint;
  v_documents integer;
BEGIN
  -- Writers of one enrollment queue here. In READ COMMITTED each statement below starts after the lock
  -- is held, so its snapshot has every change the writer before committed: the last count sees all.
  PERFORM 1 FROM @s.cohortdesk_awaiting a WHERE a.enrollment_id = p_enrollment_id FOR UPDATE;
  IF NOT FOUND THEN
    -- Nobody counted this enrollment yet (it is new): a writer of it that has not counted yet will
    -- find this row and wait for it.
    INSERT INTO @s.cohortdesk_awaiting (enrollment_id, account_id, documents)
    SELECT e.id, e.account_id, {_rule("e.id", "e.uploaded_documents")}
      FROM @s.cohort_enrollments e WHERE e.id = p_enrollment_id
    ON CONFLICT (enrollment_id) DO NOTHING;
    IF FOUND THEN
      RETURN;
    END IF;
    PERFORM 1 FROM @s.cohortdesk_awaiting a WHERE a.enrollment_id = p_enrollment_id FOR UPDATE;
  END IF;
  -- Row-level security (forced, for this function's owner too) shows only the writer's own account.
  SELECT e.account_id, {_rule("e.id", "e.uploaded_documents")}
    INTO v_account, v_documents
    FROM @s.cohort_enrollments e WHERE e.id = p_enrollment_id;
  IF FOUND THEN
    UPDATE @s.cohortdesk_awaiting a SET account_id = v_account, documents = v_documents
     WHERE a.enrollment_id = p_enrollment_id
       AND (a.account_id, a.documents) IS DISTINCT FROM (v_account, v_documents);
  END IF;
END $$;

-- New enrollments, counted together once per statement (an import inserts thousands): nobody can have
-- counted them before, and a decision on one waits for this transaction (its foreign key).
CREATE FUNCTION @s.cohortdesk_awaiting_after_enrollments() RETURNS trigger
LANGUAGE plpgsql {DEFINER} AS $$
DECLARE
  v_jit constant text := current_setting('jit');
BEGIN
  -- The planner guesses 100 uploads an enrollment, so for a batch of a thousand the server's JIT
  -- compiled this statement each time (0.4 s, more than the whole count): off for it alone.
  PERFORM set_config('jit', 'off', true);
  INSERT INTO @s.cohortdesk_awaiting (enrollment_id, account_id, documents)
  SELECT n.id, n.account_id, {_rule("n.id", "n.uploaded_documents")} FROM new_enrollments n
  ON CONFLICT (enrollment_id) DO UPDATE SET account_id = excluded.account_id, documents = excluded.documents;
  PERFORM set_config('jit', v_jit, true);
  RETURN NULL;
END $$;

CREATE FUNCTION @s.cohortdesk_awaiting_after_enrollment() RETURNS trigger
LANGUAGE plpgsql {DEFINER} AS $$
BEGIN
  PERFORM @s.cohortdesk_refresh_awaiting(NEW.id);
  RETURN NULL;
END $$;

CREATE FUNCTION @s.cohortdesk_awaiting_after_decision() RETURNS trigger
LANGUAGE plpgsql {DEFINER} AS $$
DECLARE
  v_undone_enrollment bigint;
BEGIN
  PERFORM @s.cohortdesk_refresh_awaiting(NEW.cohort_enrollment_id);
  IF NEW.reverses_id IS NOT NULL THEN
    -- The decision service undoes only decisions of the same enrollment; any other writer is followed too.
    SELECT d.cohort_enrollment_id INTO v_undone_enrollment
      FROM @s.document_verifications d WHERE d.id = NEW.reverses_id;
    IF v_undone_enrollment IS DISTINCT FROM NEW.cohort_enrollment_id AND v_undone_enrollment IS NOT NULL THEN
      PERFORM @s.cohortdesk_refresh_awaiting(v_undone_enrollment);
    END IF;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER cohortdesk_awaiting_enrollment_insert AFTER INSERT ON @s.cohort_enrollments
  REFERENCING NEW TABLE AS new_enrollments FOR EACH STATEMENT
  EXECUTE FUNCTION @s.cohortdesk_awaiting_after_enrollments();
CREATE TRIGGER cohortdesk_awaiting_enrollment_update AFTER UPDATE OF uploaded_documents, account_id
  ON @s.cohort_enrollments FOR EACH ROW
  WHEN (OLD.uploaded_documents IS DISTINCT FROM NEW.uploaded_documents
        OR OLD.account_id IS DISTINCT FROM NEW.account_id)
  EXECUTE FUNCTION @s.cohortdesk_awaiting_after_enrollment();
CREATE TRIGGER cohortdesk_awaiting_decision AFTER INSERT ON @s.document_verifications
  FOR EACH ROW EXECUTE FUNCTION @s.cohortdesk_awaiting_after_decision();

INSERT INTO @s.cohortdesk_awaiting (enrollment_id, account_id, documents)
SELECT e.id, e.account_id, {_rule("e.id", "e.uploaded_documents")} FROM @s.cohort_enrollments e;

SELECT @s.cohortdesk_secure_table('@s.cohortdesk_awaiting'::regclass, 'account_id', '{GROUPS}');
"""


def _sql(statement: str) -> None:
    bind = op.get_bind()
    schema = str(bind.exec_driver_sql("SELECT current_schema()").scalar_one())
    op.execute(statement.replace("@s", bind.dialect.identifier_preparer.quote(schema)))


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite counts live (queue.STORED_AWAITING)
    _sql(_canonical_sql() + UPGRADE_SQL)
    for function in FUNCTIONS:
        _sql(
            f"REVOKE ALL ON FUNCTION @s.{function} FROM PUBLIC; ALTER FUNCTION @s.{function} OWNER TO {OWNER}"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for trigger, table in TRIGGERS:
        _sql(f"DROP TRIGGER IF EXISTS {trigger} ON @s.{table}")
    _sql("DROP TABLE IF EXISTS @s.cohortdesk_awaiting")
    for function in reversed(FUNCTIONS):
        _sql(f"DROP FUNCTION IF EXISTS @s.{function}")
