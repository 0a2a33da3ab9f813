"""Fewer statements inside the decision and claim functions (same behaviour, same answers).

* ``cohortdesk_decision_state(enrollment, uploaded, required)`` derives the verification state, the
  rejection reason and the counting decision per document in one query, from the enrollment values
  the decision function already holds; ``cohortdesk_record_decision`` uses it instead of deriving and
  then reading the latest decisions again, and takes the updated enrollment from ``RETURNING``
  instead of reading it back.
* ``cohortdesk_claim_next`` / ``cohortdesk_claim_one`` build their answer in ``RETURNING``.

The functions are edited in their stored definitions; an edit whose text is not found stops the
migration rather than guessing.

Revision ID: 0019_leaner_decision_calls
Revises: 0018_no_direct_writes
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0019_leaner_decision_calls"
down_revision = "0018_no_direct_writes"
branch_labels = None
depends_on = None

OWNER = "cohortdesk_owner"
DEFINER = "SECURITY DEFINER SET search_path = pg_catalog, pg_temp"
STATE_FUNCTION = "cohortdesk_decision_state(bigint, jsonb, jsonb)"
RECORD = (
    "cohortdesk_record_decision(bigint, text, text, text, text, text, text, bigint, text, boolean, "
    "double precision, jsonb, bigint, bigint)"
)
CLAIMS = (
    "cohortdesk_claim_next(bigint[], double precision, text, bigint, bigint)",
    "cohortdesk_claim_one(bigint, double precision, text, bigint, bigint)",
)

STATE_SQL = f"""
CREATE FUNCTION {{s}}.cohortdesk_decision_state(p_enrollment_id bigint, p_uploaded jsonb, p_required jsonb,
                                                 OUT state text, OUT reason text, OUT latest jsonb)
LANGUAGE plpgsql STABLE {DEFINER} AS $$
DECLARE
  v_uploaded jsonb := CASE WHEN jsonb_typeof(p_uploaded) = 'object' THEN p_uploaded ELSE '{{}}' END;
  v_required_json jsonb := p_required;
  v_required text[];
BEGIN
  IF v_required_json IS NULL THEN
    SELECT c.required_document_types INTO v_required_json
      FROM {{s}}.cohort_enrollments e JOIN {{s}}.cohorts c ON c.id = e.cohort_id WHERE e.id = p_enrollment_id;
  END IF;
  v_required := CASE WHEN jsonb_typeof(v_required_json) = 'array'
                     THEN ARRAY(SELECT jsonb_array_elements_text(v_required_json)) ELSE '{{}}' END;
  IF cardinality(v_required) = 0 THEN
    v_required := ARRAY(SELECT jsonb_object_keys(v_uploaded));
  END IF;
  WITH latest_ AS (
    SELECT DISTINCT ON (d.document_type) d.id, d.document_type, d.action, d.reason, d.admin_id,
           d.created_at, d.metadata
      FROM {{s}}.document_verifications d
     WHERE d.cohort_enrollment_id = p_enrollment_id AND d.action IN ('approved', 'rejected')
       AND NOT EXISTS (SELECT 1 FROM {{s}}.document_verifications r WHERE r.reverses_id = d.id)
     ORDER BY d.document_type, d.created_at DESC, d.id DESC
  ), current_ AS (
    SELECT l.* FROM latest_ l
     WHERE (l.metadata ->> 'checksum') IS NULL OR NOT (v_uploaded ? l.document_type)
        OR (l.metadata ->> 'checksum') IS NOT DISTINCT FROM (v_uploaded -> l.document_type ->> 'checksum')
  )
  SELECT CASE
           WHEN (SELECT bool_or(x.action = 'rejected') FROM current_ x) THEN 'rejected'
           WHEN cardinality(v_required) > 0 AND (SELECT count(*) FROM current_ a
                 WHERE a.action = 'approved' AND a.document_type = ANY (v_required)) = cardinality(v_required)
             THEN 'verified'
           ELSE 'pending' END,
         (SELECT string_agg({{s}}.cohortdesk_document_label(x.document_type) || ': ' || x.reason, E'\\n'
                            ORDER BY x.document_type COLLATE "C")
            FROM current_ x WHERE x.action = 'rejected'),
         (SELECT coalesce(jsonb_object_agg(l.document_type, jsonb_build_object(
                     'id', l.id, 'action', l.action, 'reason', l.reason, 'admin_id', l.admin_id,
                     'created_at', l.created_at)), '{{}}')
            FROM latest_ l)
    INTO state, reason, latest;
END $$;
"""

CLAIM_ANSWER = (
    "jsonb_build_object('id', e.id, 'account_id', e.account_id, 'cohort_id', e.cohort_id, "
    "'row_version', e.row_version, 'claim_token', e.claim_token, 'claim_expires_at', e.claim_expires_at, "
    "'claimed_by', e.claimed_by, 'claimed_by_user_id', e.claimed_by_user_id, 'lease_seconds', v_lease)"
)
CLAIM_EDITS = (
    ("  v_id bigint;\nBEGIN", "  v_id bigint;\n  v_answer jsonb;\nBEGIN"),
    (
        "  RETURNING e.id INTO v_id;\n  IF v_id IS NULL THEN\n    RETURN NULL;\n  END IF;\n"
        "  PERFORM {s}.cohortdesk_release_other_claims(v_id, v_user);\n"
        "  RETURN {s}.cohortdesk_claim_json(v_id, v_lease);",
        f"  RETURNING e.id, {CLAIM_ANSWER} INTO v_id, v_answer;\n  IF v_id IS NULL THEN\n    RETURN NULL;\n"
        "  END IF;\n  PERFORM {s}.cohortdesk_release_other_claims(v_id, v_user);\n  RETURN v_answer;",
    ),
)
FINAL_READ = (
    "  SELECT * INTO v_e FROM {s}.cohort_enrollments e WHERE e.id = v_e.id;\n  RETURN jsonb_build_object("
)
RECORD_EDITS = (
    ("  v_holder text;\nBEGIN", "  v_holder text;\n  v_latest jsonb;\nBEGIN"),
    (FINAL_READ, "  @@FINAL_READ@@"),
    (
        "    SELECT s.state, s.reason INTO v_state, v_rejection FROM {s}.cohortdesk_derive_verification(v_e.id) s;",
        "    SELECT s.state, s.reason, s.latest INTO v_state, v_rejection, v_latest\n"
        "      FROM {s}.cohortdesk_decision_state(v_e.id, v_uploaded, v_required) s;",
    ),
    ("       WHERE e.id = v_e.id;", "       WHERE e.id = v_e.id\n      RETURNING * INTO v_e;"),
    (
        "  @@FINAL_READ@@",
        "  IF v_duplicate THEN\n"
        "    SELECT * INTO v_e FROM {s}.cohort_enrollments e WHERE e.id = v_e.id;\n  END IF;\n"
        "  RETURN jsonb_build_object(",
    ),
    ("    'latest', (\n", "    'latest', coalesce(v_latest, (\n"),
    (
        "                 ORDER BY d.document_type, d.created_at DESC, d.id DESC) l),",
        "                 ORDER BY d.document_type, d.created_at DESC, d.id DESC) l)),",
    ),
)


def _schema() -> str:
    bind = op.get_bind()
    return bind.dialect.identifier_preparer.quote(
        str(bind.exec_driver_sql("SELECT current_schema()").scalar_one())
    )


def _run(sql: str) -> None:
    """Straight to the driver without parameters, so a definition's own % signs stay as they are."""
    with op.get_bind().connection.dbapi_connection.cursor() as cursor:
        cursor.execute(sql)


def _edit(schema: str, function: str, edits: tuple[tuple[str, str], ...], undo: bool = False) -> None:
    definition = str(
        op.get_bind()
        .exec_driver_sql(f"SELECT pg_get_functiondef('{schema}.{function}'::regprocedure)")
        .scalar_one()
    )
    for old, new in reversed(edits) if undo else edits:
        old, new = (new, old) if undo else (old, new)
        old, new = old.replace("{s}", schema), new.replace("{s}", schema)
        if old not in definition:
            raise RuntimeError(f"{function}: expected text not found; refusing to guess: {old[:80]!r}")
        definition = definition.replace(old, new)
    _run(definition)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    schema = _schema()
    _run(STATE_SQL.replace("{s}", schema))
    _run(f"REVOKE ALL ON FUNCTION {schema}.{STATE_FUNCTION} FROM PUBLIC")
    _run(f"ALTER FUNCTION {schema}.{STATE_FUNCTION} OWNER TO {OWNER}")
    _edit(schema, RECORD, RECORD_EDITS)
    for function in CLAIMS:
        _edit(schema, function, CLAIM_EDITS)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    schema = _schema()
    for function in CLAIMS:
        _edit(schema, function, CLAIM_EDITS, undo=True)
    _edit(schema, RECORD, RECORD_EDITS, undo=True)
    _run(f"DROP FUNCTION {schema}.{STATE_FUNCTION}")
