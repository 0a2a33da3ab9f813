"""A logged, rate-limited answer to "is this the learner's ID number?" that never gives the number.

Logins read ``student_data.sa_id_number`` masked (``800101*****87``, migration 0016), so the workstation
could compare a number read off an ID document only on its visible digits: never "matches". Both
backends get a new access-log kind, ``id_number_check``. On PostgreSQL:

* ``cohortdesk_id_number_check(enrollment, candidate) → bigint`` (officers and super admins of the
  enrollment's institution; identity from ``session_user``) compares the 13-digit candidate with the
  stored number, writes the access log (who, when, which enrollment, the answer, never a number) and
  keeps the answer in ``cohortdesk_id_checks`` under a **ticket** it returns. It does **not** return
  the answer.
* ``cohortdesk_id_number_check_result(ticket) → boolean`` gives the answer, only to the login that
  asked and only once the transaction that asked has **committed** (``pg_xact_status`` of the ticket's
  transaction): the log entry and the counts below are then durable. A single function returning the
  answer would be an oracle with its log undone by a rollback: ``SELECT CASE WHEN check(…) THEN 1/0
  END`` (or a ``DO`` block raising after a ``NOTICE``) learns the answer and rolls back the log entry
  and the counter with the error.
* **Limits** per login (one login per person), checked before the answer is computed, so a refusal
  says nothing about the candidate: at most 3 different numbers per learner's ID document (per
  uploaded version), at most 20 different numbers answered "no" in any 24 hours, at most 1,000 checks
  in any 24 hours. Asking again about the same number for the same learner is answered (and logged)
  but counts only towards the last. The numbers are justified in ``docs/claims-sync-security.md``; a
  database administrator may change them in ``cohortdesk_install`` (``id_check.per_document``,
  ``id_check.misses_per_day``, ``id_check.per_day``, ``id_check.answer_seconds``). A login's checks are
  serialised on a row of ``cohortdesk_id_check_logins`` (an upsert, so concurrent sessions of one login
  queue behind each other, or fail to serialise under REPEATABLE READ): parallel connections cannot
  slip past a limit.
* A repeated candidate is recognised by a keyed hash (``sha256`` with a server secret in
  ``cohortdesk_secrets``); no table holds a candidate number. Both tables are the owner's alone
  (forced row-level security, no grants).

The downgrade restores the access log's kinds as a ``NOT VALID`` constraint on PostgreSQL (the log is
append-only: entries of the dropped kind stay).

Revision ID: 0021_id_number_check
Revises: 0020_cohort_certification_age
Create Date: 2026-12-08
"""

from __future__ import annotations

from alembic import op

revision = "0021_id_number_check"
down_revision = "0020_cohort_certification_age"
branch_labels = None
depends_on = None

OWNER = "cohortdesk_owner"
REVIEWERS = "cohortdesk_officer, cohortdesk_super_admin"
KIND_CHECK = "ck_cohortdesk_access_log_kind"
OLD_KINDS = "kind IN ('document_view', 'special_pi_reveal', 'export', 'permission_change')"
NEW_KINDS = "kind IN ('document_view', 'special_pi_reveal', 'export', 'permission_change', 'id_number_check')"
FUNCTIONS = (
    "cohortdesk_id_number_check(bigint, text)",
    "cohortdesk_id_number_check_result(bigint)",
)
#: Defaults of the limits (``cohortdesk_install`` keys override them).
PER_DOCUMENT = 3
MISSES_PER_DAY = 20
PER_DAY = 1000
ANSWER_SECONDS = 600

TABLES_SQL = """
CREATE TABLE @s.cohortdesk_id_checks (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account_id bigint NOT NULL,
  login text NOT NULL,
  enrollment_id bigint NOT NULL,
  document_version text NOT NULL,
  candidate_hash text NOT NULL,
  repeat boolean NOT NULL,
  matches boolean NOT NULL,
  xact bigint NOT NULL,  -- the asking transaction (pg_current_xact_id)
  at timestamptz NOT NULL,
  answered_at timestamptz,
  log_id bigint NOT NULL
);
CREATE INDEX ix_cohortdesk_id_checks_login_at ON @s.cohortdesk_id_checks (login, at);
CREATE INDEX ix_cohortdesk_id_checks_login_enrollment ON @s.cohortdesk_id_checks (login, enrollment_id);
CREATE TABLE @s.cohortdesk_id_check_logins (
  login text PRIMARY KEY,
  account_id bigint NOT NULL,
  last_at timestamptz NOT NULL
);
SELECT @s.cohortdesk_secure_table('@s.cohortdesk_id_checks'::regclass, 'account_id', '');
SELECT @s.cohortdesk_secure_table('@s.cohortdesk_id_check_logins'::regclass, 'account_id', '');
INSERT INTO @s.cohortdesk_secrets (name, value)
VALUES ('id_check', replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''));
"""

FUNCTIONS_SQL = f"""
CREATE FUNCTION @s.cohortdesk_id_check_setting(p_key text, p_default bigint) RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT coalesce((SELECT CASE WHEN i.value ~ '^[0-9]{{1,9}}$' THEN i.value::bigint END
                     FROM @s.cohortdesk_install i WHERE i.key = 'id_check.' || p_key), p_default)
$$;

-- Compare a candidate with the enrollment's stored SA ID number: logged, counted, answered later.
CREATE FUNCTION @s.cohortdesk_id_number_check(p_enrollment_id bigint, p_candidate text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_account constant bigint := @s.cohortdesk_current_account();
  v_institution constant bigint := @s.cohortdesk_current_institution();
  v_role constant text := @s.cohortdesk_current_role();
  v_login constant text := session_user::text;
  v_candidate constant text := regexp_replace(coalesce(p_candidate, ''), '\\s', '', 'g');
  v_per_document constant bigint := @s.cohortdesk_id_check_setting('per_document', {PER_DOCUMENT});
  v_misses_per_day constant bigint := @s.cohortdesk_id_check_setting('misses_per_day', {MISSES_PER_DAY});
  v_per_day constant bigint := @s.cohortdesk_id_check_setting('per_day', {PER_DAY});
  v_data jsonb;
  v_documents jsonb;
  v_document jsonb;
  v_stored text;
  v_version text;
  v_hash text;
  v_repeat boolean;
  v_matches boolean;
  v_now timestamptz;
  v_count bigint;
  v_next timestamptz;
  v_log bigint;
  v_ticket bigint;
BEGIN
  IF v_account IS NULL OR v_role IS NULL OR v_role NOT IN ('officer', 'super_admin') THEN
    RAISE EXCEPTION 'only verification officers and super admins compare ID numbers'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF v_candidate !~ '^[0-9]{{13}}$' THEN
    RAISE EXCEPTION 'an SA ID number is 13 digits' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- Forced row-level security limits this to the login's account; the institution is checked too.
  SELECT e.student_data, e.uploaded_documents INTO v_data, v_documents
    FROM @s.cohort_enrollments e JOIN @s.cohorts c ON c.id = e.cohort_id
   WHERE e.id = p_enrollment_id AND e.account_id = v_account AND e.deleted_at IS NULL
     AND (v_institution IS NULL OR c.institution_id = v_institution);
  IF NOT FOUND THEN
    RAISE EXCEPTION 'there is no enrollment % in your institution', p_enrollment_id
      USING ERRCODE = 'no_data_found';
  END IF;
  SELECT d.value INTO v_document
    FROM jsonb_each(CASE WHEN jsonb_typeof(v_documents) = 'object' THEN v_documents ELSE '{{}}'::jsonb END) d
   WHERE d.key IN ('id_document', 'id', 'id_copy') AND jsonb_typeof(d.value) = 'object'
   ORDER BY d.key = 'id_document' DESC LIMIT 1;
  IF v_document IS NULL THEN
    RAISE EXCEPTION 'enrollment % has no ID document uploaded to compare with', p_enrollment_id
      USING ERRCODE = 'no_data_found';
  END IF;
  v_stored := replace(btrim(CASE WHEN jsonb_typeof(v_data) = 'object' THEN v_data ->> 'sa_id_number' END), ' ', '');
  IF coalesce(v_stored, '') = '' THEN
    RAISE EXCEPTION 'no SA ID number was captured for enrollment %', p_enrollment_id
      USING ERRCODE = 'no_data_found';
  END IF;
  v_version := coalesce(v_document ->> 'checksum', v_document ->> 'storage_key', '');
  -- One login's checks one after the other, whichever of its sessions asks: the counts below see
  -- every earlier check (READ COMMITTED waits here; REPEATABLE READ fails to serialise instead).
  INSERT INTO @s.cohortdesk_id_check_logins AS l (login, account_id, last_at)
  VALUES (v_login, v_account, clock_timestamp())
  ON CONFLICT (login) DO UPDATE SET last_at = clock_timestamp();
  v_now := clock_timestamp();
  v_hash := encode(sha256(convert_to(
              (SELECT s.value FROM @s.cohortdesk_secrets s WHERE s.name = 'id_check')
              || ':' || p_enrollment_id || ':' || v_candidate, 'UTF8')), 'hex');
  v_repeat := EXISTS (SELECT 1 FROM @s.cohortdesk_id_checks k
                       WHERE k.login = v_login AND k.enrollment_id = p_enrollment_id AND k.candidate_hash = v_hash);
  -- The limits, before the answer is known: a refusal says nothing about this candidate.
  SELECT count(*), min(k.at) + interval '24 hours' INTO v_count, v_next FROM @s.cohortdesk_id_checks k
   WHERE k.login = v_login AND k.at > v_now - interval '24 hours';
  IF v_count >= v_per_day THEN
    RAISE EXCEPTION 'you have made % ID number checks in the last 24 hours; the server compares no more '
                    'for you until %. Compare by eye, or ask a colleague who may reveal the number',
                    v_count, to_char(v_next AT TIME ZONE 'Africa/Johannesburg', 'DD Mon HH24:MI')
      USING ERRCODE = 'CD010';
  END IF;
  IF NOT v_repeat THEN
    SELECT count(DISTINCT k.candidate_hash) INTO v_count FROM @s.cohortdesk_id_checks k
     WHERE k.login = v_login AND k.enrollment_id = p_enrollment_id AND k.document_version = v_version;
    IF v_count >= v_per_document THEN
      RAISE EXCEPTION 'you have compared % different numbers with this learner''s ID document; the server '
                      'compares no more for this document. Compare by eye, or ask a colleague who may '
                      'reveal the number', v_count
        USING ERRCODE = 'CD010';
    END IF;
    SELECT count(*), min(k.at) + interval '24 hours' INTO v_count, v_next FROM @s.cohortdesk_id_checks k
     WHERE k.login = v_login AND NOT k.repeat AND NOT k.matches AND k.at > v_now - interval '24 hours';
    IF v_count >= v_misses_per_day THEN
      RAISE EXCEPTION '% numbers you checked in the last 24 hours did not match; the server compares no new '
                      'numbers for you until %. Compare by eye, or ask a colleague who may reveal the number',
                      v_count, to_char(v_next AT TIME ZONE 'Africa/Johannesburg', 'DD Mon HH24:MI')
        USING ERRCODE = 'CD010';
    END IF;
  END IF;
  v_matches := v_stored = v_candidate;
  INSERT INTO @s.cohortdesk_access_log (at, actor, user_id, client_addr, account_id, kind, object_table,
                                        object_id, purpose, details)
  VALUES (v_now, v_login, @s.cohortdesk_current_user_id(), host(inet_client_addr()), v_account,
          'id_number_check', 'cohort_enrollments', p_enrollment_id, 'verification',
          jsonb_build_object('document_type', 'id_document', 'answer',
                             CASE WHEN v_matches THEN 'matches' ELSE 'differs' END, 'repeat', v_repeat))
  RETURNING id INTO v_log;
  INSERT INTO @s.cohortdesk_id_checks (account_id, login, enrollment_id, document_version, candidate_hash, repeat,
                                       matches, xact, at, log_id)
  VALUES (v_account, v_login, p_enrollment_id, v_version, v_hash, v_repeat, v_matches, pg_current_xact_id()::text::bigint,
          v_now, v_log)
  RETURNING id INTO v_ticket;
  RETURN v_ticket;
END $$;

-- The answer of one's own check, once the check (and its log entry) is committed.
CREATE FUNCTION @s.cohortdesk_id_number_check_result(p_ticket bigint) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_check @s.cohortdesk_id_checks%ROWTYPE;
  v_seconds constant bigint := @s.cohortdesk_id_check_setting('answer_seconds', {ANSWER_SECONDS});
BEGIN
  IF @s.cohortdesk_current_account() IS NULL THEN
    RAISE EXCEPTION 'login % is not a CohortDesk user of this database', session_user
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  SELECT * INTO v_check FROM @s.cohortdesk_id_checks k WHERE k.id = p_ticket AND k.login = session_user::text;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'there is no ID number check % of yours', p_ticket USING ERRCODE = 'no_data_found';
  END IF;
  IF pg_xact_status(v_check.xact::text::xid8) IS DISTINCT FROM 'committed' THEN
    RAISE EXCEPTION 'an ID number check is answered only once it is logged: commit the check, then ask'
      USING ERRCODE = 'CD011';
  END IF;
  IF v_check.at < clock_timestamp() - make_interval(secs => v_seconds) THEN
    RAISE EXCEPTION 'this ID number check has expired; check again' USING ERRCODE = 'CD011';
  END IF;
  UPDATE @s.cohortdesk_id_checks k SET answered_at = coalesce(k.answered_at, clock_timestamp())
   WHERE k.id = p_ticket;
  RETURN v_check.matches;
END $$;
"""


def _sql(statement: str) -> None:
    bind = op.get_bind()
    schema = str(bind.exec_driver_sql("SELECT current_schema()").scalar_one())
    op.execute(statement.replace("@s", bind.dialect.identifier_preparer.quote(schema)))


def _kinds(check: str, *, valid: bool = True) -> None:
    if op.get_bind().dialect.name == "postgresql":
        _sql(f"ALTER TABLE @s.cohortdesk_access_log DROP CONSTRAINT {KIND_CHECK}")
        _sql(
            f"ALTER TABLE @s.cohortdesk_access_log ADD CONSTRAINT {KIND_CHECK} CHECK ({check})"
            + ("" if valid else " NOT VALID")
        )
        return
    with op.batch_alter_table("cohortdesk_access_log", recreate="always") as batch:
        batch.drop_constraint(op.f(KIND_CHECK), type_="check")
        batch.create_check_constraint(op.f(KIND_CHECK), check)


def upgrade() -> None:
    _kinds(NEW_KINDS)
    if op.get_bind().dialect.name != "postgresql":
        return
    _sql(TABLES_SQL)
    _sql(FUNCTIONS_SQL)
    for function in (*FUNCTIONS, "cohortdesk_id_check_setting(text, bigint)"):
        _sql(f"REVOKE ALL ON FUNCTION @s.{function} FROM PUBLIC")
        _sql(f"ALTER FUNCTION @s.{function} OWNER TO {OWNER}")
    for function in FUNCTIONS:
        _sql(f"GRANT EXECUTE ON FUNCTION @s.{function} TO {REVIEWERS}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for function in (*FUNCTIONS, "cohortdesk_id_check_setting(text, bigint)"):
            _sql(f"DROP FUNCTION IF EXISTS @s.{function}")
        _sql(
            """
DROP TABLE IF EXISTS @s.cohortdesk_id_checks;
DROP TABLE IF EXISTS @s.cohortdesk_id_check_logins;
DELETE FROM @s.cohortdesk_secrets WHERE name = 'id_check';
"""
        )
        # The log is append-only: entries of the kind going away stay, unchecked.
        _kinds(OLD_KINDS, valid=False)
        return
    _kinds(OLD_KINDS)
