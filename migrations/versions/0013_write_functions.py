"""Configuration and sync writes through server functions; the server's clock; logins closed per database.

PostgreSQL only (SQLite, one local person owning the file, keeps its behaviour):

* ``cohortdesk_write(device, ops jsonb) → jsonb``: the one door for writing institutions, sponsors,
  cohorts and enrollments (and, for a laptop's sync, its own ``sync_conflict`` rows). SECURITY DEFINER,
  owned by ``cohortdesk_owner``, ``search_path`` pinned. Who calls comes from ``session_user`` (a super
  admin, or a privileged maintenance session); ids come from the table's sequence, or, for a laptop's
  insert, must be ids the server reserved for that very device and not used yet; every row written or
  pointed at (sponsor, cohort, learner, template, submission, super admin) must belong to the caller's
  account; state changes follow the state machines and their guards; an enrollment goes only into a
  draft or active cohort; a delete with live children is refused unless the same operation tombstones
  all of them. Updates name fields (``name``) or single keys of the per-key JSON objects
  (``student_data.city``, ``settings.rejection_reasons``), so two edits of different keys both hold.
  Each op gets a result (``{"ok": true, …}`` or ``{"ok": false, "code", "error"}``) and a refused op
  changes nothing; the others still apply, all in the caller's one transaction.
* ``cohortdesk_sync_lock(table, ids)``: the tenant's rows locked FOR UPDATE, as JSON (a push reads the
  rows it will merge under lock without holding UPDATE on the tables).
* ``cohortdesk_sync_register`` / ``_sync_begin`` / ``_sync_progress`` / ``_sync_mark_pulled``: a laptop's
  ``sync_device`` bookkeeping, only for devices of the calling login.
* **The stamp trigger** no longer trusts a custom setting: the block of counter values a transaction is
  using lives in ``tenant_clock`` (``block_owner`` = the top-level transaction id, ``block_start``,
  ``block_ticket``), which only the owner writes, and the position in the block comes from a private
  sequence, so ``change_seq`` can never be chosen or rewound by a client. For application logins it also
  stamps ``created_at`` / ``updated_at`` / ``deleted_at`` / ``pending_since`` / ``admin_signed_at`` from
  the server clock (a laptop 400 days slow cannot jump its learners to the head of the queue).
* **Grants**: the groups lose INSERT, UPDATE, DELETE, TRUNCATE (hence every blocking ``LOCK TABLE``
  mode) on institutions, sponsors, cohorts and the sync tables, and USAGE on their sequences.
* **Connections**: CONNECT on this database is revoked from PUBLIC and the groups and granted to each
  mapped active login (``cohortdesk_owner`` may grant it, so adding a user grants it and removing one
  withdraws it and ends the login's sessions). In attach mode the database owner and the role that owned
  DocuSeal's tables before CohortDesk keep CONNECT explicitly. Every mapped login gets server-side
  ``statement_timeout``, ``lock_timeout`` and ``idle_in_transaction_session_timeout`` in this database
  (role settings are not inherited from groups).
* One login per person: adding a login for a DocuSeal user already mapped to an active login is refused.

Revision ID: 0013_write_functions
Revises: 0012_reupload_returns_to_pending
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_write_functions"
down_revision = "0012_reupload_returns_to_pending"
branch_labels = None
depends_on = None

OWNER = "cohortdesk_owner"
GROUPS = ("cohortdesk_super_admin", "cohortdesk_officer", "cohortdesk_report_viewer")
SUPER_ADMIN = "cohortdesk_super_admin"
#: Tables whose every write now goes through functions (this migration's part of the revocation).
CLOSED_TABLES = (
    "institutions",
    "sponsors",
    "cohorts",
    "sync_device",
    "sync_conflict",
    "sync_id_reservation",
    "tenant_clock",
    "sync_schema",
    "cohortdesk_install",
    "cohortdesk_users",
    "cohortdesk_access_log",
)
CLOSED_SEQUENCES = ("institutions", "sponsors", "cohorts", "sync_conflict")

STAMP_FUNCTION = """
CREATE OR REPLACE FUNCTION @s.cohortdesk_sync_stamp() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_me constant bigint := pg_current_xact_id()::text::bigint;
  v_last bigint;
  v_owner bigint;
  v_start bigint;
  v_ticket0 bigint;
  v_ticket bigint;
  v_seq bigint;
  v_size bigint := 1;
BEGIN
  SELECT c.last_seq, c.block_owner, c.block_start, c.block_ticket INTO v_last, v_owner, v_start, v_ticket0
    FROM @s.tenant_clock c WHERE c.account_id = NEW.account_id;
  -- A private sequence orders this transaction's stamps within its block: nobody else can set it, so a
  -- value can neither be chosen nor handed out twice.
  v_ticket := nextval('@s.cohortdesk_stamp_ticket');
  IF v_owner = v_me THEN
    v_seq := v_start + (v_ticket - v_ticket0);
    IF v_seq > v_last THEN
      v_seq := NULL;
      v_size := LEAST(GREATEST((v_last - v_start + 1) * 2, 2), 4096);
    END IF;
  END IF;
  IF v_seq IS NULL THEN
    -- The row lock taken here is held until commit: one tenant's writers queue on it, so counter
    -- values become visible in the order they were handed out.
    UPDATE @s.tenant_clock SET last_seq = last_seq + v_size, block_owner = v_me, block_start = last_seq + 1,
           block_ticket = v_ticket
     WHERE account_id = NEW.account_id RETURNING block_start INTO v_seq;
    IF v_seq IS NULL THEN
      INSERT INTO @s.tenant_clock AS c (account_id, last_seq, block_owner, block_start, block_ticket)
      VALUES (NEW.account_id, v_size, v_me, 1, v_ticket)
      ON CONFLICT (account_id) DO UPDATE SET last_seq = c.last_seq + v_size, block_owner = v_me,
             block_start = c.last_seq + 1, block_ticket = v_ticket
      RETURNING c.block_start INTO v_seq;
    END IF;
  END IF;
  NEW.change_seq := v_seq;
  IF TG_OP = 'UPDATE' THEN
    NEW.row_version := OLD.row_version + 1;
  END IF;
  NEW.updated_by := session_user;
  -- Times an application login writes come from the server clock, whatever the client sent
  -- (maintenance sessions keep theirs: migrations and demo data carry historic times).
  IF NOT @s.cohortdesk_session_is_privileged() THEN
    IF TG_OP = 'INSERT' THEN
      NEW.created_at := now();
      NEW.row_version := 1;
      NEW.deleted_at := NULL;
    ELSE
      NEW.created_at := OLD.created_at;
      IF NEW.deleted_at IS NOT NULL THEN
        NEW.deleted_at := CASE WHEN OLD.deleted_at IS NULL THEN now() ELSE OLD.deleted_at END;
      END IF;
    END IF;
    NEW.updated_at := now();
    IF TG_TABLE_NAME = 'cohort_enrollments' THEN
      IF NEW.pending_since IS NOT NULL
         AND (TG_OP = 'INSERT' OR NEW.pending_since IS DISTINCT FROM OLD.pending_since) THEN
        NEW.pending_since := now();
      END IF;
    ELSIF TG_TABLE_NAME = 'cohorts' THEN
      IF TG_OP = 'UPDATE' AND OLD.admin_signed_at IS NOT NULL THEN
        NEW.admin_signed_at := OLD.admin_signed_at;
      ELSIF NEW.admin_signed_at IS NOT NULL THEN
        NEW.admin_signed_at := now();
      END IF;
    END IF;
  END IF;
  RETURN NEW;
END $$;
"""

# Frozen copy of 0008's function, restored on downgrade.
BLOCK_STAMP_FUNCTION = r"""
CREATE OR REPLACE FUNCTION @s.cohortdesk_sync_stamp() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, @s, pg_temp AS $$
DECLARE
  slot constant text := 'cohortdesk.stamp_' || NEW.account_id;
  state constant text := current_setting(slot, true);
  next_seq bigint;
  block_end bigint;
  block_size bigint := 0;
BEGIN
  IF state ~ '^[0-9]{1,18}/[0-9]{1,18}/[0-9]{1,4}$' THEN
    next_seq := split_part(state, '/', 1)::bigint;
    block_end := split_part(state, '/', 2)::bigint;
    block_size := LEAST(GREATEST(split_part(state, '/', 3)::bigint, 1), 4096);
    IF next_seq <= block_end - block_size OR NOT EXISTS (
         SELECT 1 FROM tenant_clock
          WHERE account_id = NEW.account_id AND last_seq = block_end
            AND xmin = pg_current_xact_id()::xid) THEN
      next_seq := NULL;
      block_size := 0;
    ELSIF next_seq > block_end THEN
      next_seq := NULL;
    END IF;
  END IF;
  IF next_seq IS NULL THEN
    block_size := CASE WHEN block_size = 0 THEN 1 ELSE LEAST(block_size * 2, 4096) END;
    UPDATE tenant_clock SET last_seq = last_seq + block_size WHERE account_id = NEW.account_id
     RETURNING last_seq INTO block_end;
    IF block_end IS NULL THEN
      INSERT INTO tenant_clock AS c (account_id, last_seq) VALUES (NEW.account_id, block_size)
      ON CONFLICT (account_id) DO UPDATE SET last_seq = c.last_seq + block_size
      RETURNING c.last_seq INTO block_end;
    END IF;
    next_seq := block_end - block_size + 1;
  END IF;
  PERFORM set_config(slot, (next_seq + 1) || '/' || block_end || '/' || block_size, true);
  NEW.change_seq := next_seq;
  IF TG_OP = 'UPDATE' THEN
    NEW.row_version := OLD.row_version + 1;
  END IF;
  NEW.updated_by := session_user;
  RETURN NEW;
END $$;
"""

# The account a write acts in: the login's own, or (maintenance sessions only) the one named.
WRITE_SQL = r"""
CREATE FUNCTION @s.cohortdesk_write_refuse(p_code text, p_error text) RETURNS jsonb
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT jsonb_build_object('ok', false, 'code', p_code, 'error', p_error)
$$;

-- Why a cohort cannot take the state p_target (NULL: it can); the same guards as services.configuration.states.
CREATE FUNCTION @s.cohortdesk_cohort_blocker(p_old jsonb, p_new jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_from text := p_old ->> 'state';
  v_to text := p_new ->> 'state';
  v_missing text[] := '{}';
BEGIN
  IF v_from = v_to THEN
    RETURN NULL;
  END IF;
  IF NOT ((v_from = 'draft' AND v_to IN ('active', 'cancelled'))
          OR (v_from = 'active' AND v_to IN ('completed', 'cancelled'))) THEN
    RETURN format('a %s cohort cannot become %s', v_from, v_to);
  END IF;
  IF v_to = 'active' THEN
    IF p_new ->> 'main_template_id' IS NULL THEN
      v_missing := v_missing || 'choose the main agreement template first'::text;
    END IF;
    IF jsonb_typeof(p_new -> 'required_document_types') IS DISTINCT FROM 'array'
       OR jsonb_array_length(p_new -> 'required_document_types') = 0 THEN
      v_missing := v_missing || 'list at least one required document type'::text;
    END IF;
    IF coalesce((p_new ->> 'student_count')::int, 0) <= 0 THEN
      v_missing := v_missing || 'set the expected number of students'::text;
    END IF;
    IF p_new ->> 'start_date' IS NULL OR p_new ->> 'end_date' IS NULL THEN
      v_missing := v_missing || 'set the start and end dates'::text;
    END IF;
    IF cardinality(v_missing) > 0 THEN
      RETURN 'it cannot become active: ' || array_to_string(v_missing, '; ');
    END IF;
  END IF;
  RETURN NULL;
END $$;

-- What is wrong with a row (as it would be written) pointing at rows outside the account (NULL: fine).
-- p_old is the row before an update (NULL for an insert): references it already held are not re-judged.
CREATE FUNCTION @s.cohortdesk_write_refs(p_table text, p_row jsonb, p_old jsonb, p_account bigint) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_id bigint;
  v_new_ref boolean;
BEGIN
  IF p_table IN ('sponsors', 'cohorts') AND (p_row -> 'institution_id') IS DISTINCT FROM (p_old -> 'institution_id')
     AND NOT EXISTS (SELECT 1 FROM @s.institutions i WHERE i.id = (p_row ->> 'institution_id')::bigint
                      AND i.account_id = p_account AND i.deleted_at IS NULL) THEN
    RETURN format('institution %s is not yours', p_row ->> 'institution_id');
  END IF;
  IF p_table = 'institutions' AND p_row ->> 'super_admin_id' IS NOT NULL
     AND (p_row -> 'super_admin_id') IS DISTINCT FROM (p_old -> 'super_admin_id')
     AND NOT EXISTS (SELECT 1 FROM @s.users u WHERE u.id = (p_row ->> 'super_admin_id')::bigint
                      AND u.account_id = p_account) THEN
    RETURN format('user %s is not a person of your institution', p_row ->> 'super_admin_id');
  END IF;
  IF p_table = 'sponsors' AND p_row ->> 'user_id' IS NOT NULL
     AND (p_row -> 'user_id') IS DISTINCT FROM (p_old -> 'user_id')
     AND NOT EXISTS (SELECT 1 FROM @s.users u WHERE u.id = (p_row ->> 'user_id')::bigint
                      AND u.account_id = p_account) THEN
    RETURN format('user %s is not a person of your institution', p_row ->> 'user_id');
  END IF;
  IF p_table = 'cohorts' THEN
    IF p_row ->> 'sponsor_id' IS NOT NULL AND (p_row -> 'sponsor_id') IS DISTINCT FROM (p_old -> 'sponsor_id')
       AND NOT EXISTS (
         SELECT 1 FROM @s.sponsors sp WHERE sp.id = (p_row ->> 'sponsor_id')::bigint AND sp.account_id = p_account
            AND sp.institution_id = (p_row ->> 'institution_id')::bigint AND sp.deleted_at IS NULL) THEN
      RETURN format('the sponsor (id %s) is deleted or not yours', p_row ->> 'sponsor_id');
    END IF;
    IF p_row ->> 'created_by_id' IS NOT NULL AND (p_row -> 'created_by_id') IS DISTINCT FROM (p_old -> 'created_by_id')
       AND NOT EXISTS (SELECT 1 FROM @s.users u WHERE u.id = (p_row ->> 'created_by_id')::bigint
                        AND u.account_id = p_account) THEN
      RETURN format('user %s is not a person of your institution', p_row ->> 'created_by_id');
    END IF;
    v_new_ref := (p_row -> 'main_template_id') IS DISTINCT FROM (p_old -> 'main_template_id')
                 OR (p_row -> 'supporting_templates') IS DISTINCT FROM (p_old -> 'supporting_templates');
    IF v_new_ref THEN
      FOR v_id IN
        SELECT (p_row ->> 'main_template_id')::bigint WHERE p_row ->> 'main_template_id' IS NOT NULL
        UNION ALL
        SELECT t::bigint FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(p_row -> 'supporting_templates') = 'array'
                                                            THEN p_row -> 'supporting_templates' ELSE '[]' END) t
      LOOP
        IF NOT EXISTS (SELECT 1 FROM @s.templates t WHERE t.id = v_id AND t.account_id = p_account) THEN
          RETURN format('DocuSeal template %s does not exist in your account', v_id);
        END IF;
      END LOOP;
    END IF;
  END IF;
  IF p_table = 'cohort_enrollments' AND p_old IS NULL THEN
    IF NOT EXISTS (SELECT 1 FROM @s.users u WHERE u.id = (p_row ->> 'user_id')::bigint AND u.account_id = p_account) THEN
      RETURN format('there is no learner with user id %s in your account', p_row ->> 'user_id');
    END IF;
    IF p_row ->> 'submission_id' IS NOT NULL AND NOT EXISTS (
         SELECT 1 FROM @s.submissions sb WHERE sb.id = (p_row ->> 'submission_id')::bigint AND sb.account_id = p_account) THEN
      RETURN format('submission %s is not in your account', p_row ->> 'submission_id');
    END IF;
    FOR v_id IN SELECT t::bigint FROM jsonb_array_elements_text(
                  CASE WHEN jsonb_typeof(p_row -> 'supporting_submission_ids') = 'array'
                       THEN p_row -> 'supporting_submission_ids' ELSE '[]' END) t LOOP
      IF NOT EXISTS (SELECT 1 FROM @s.submissions sb WHERE sb.id = v_id AND sb.account_id = p_account) THEN
        RETURN format('submission %s is not in your account', v_id);
      END IF;
    END LOOP;
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION @s.cohortdesk_write_insert(p_op jsonb, p_device text, p_account bigint, p_privileged boolean)
RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_table constant text := p_op ->> 'table';
  v_rows jsonb := '[]';
  v_row jsonb;
  v_index int := 0;
  v_id bigint;
  v_account bigint;
  v_problem text;
  v_cohort record;
  v_existing bigint;
  v_seen text[] := '{}';
  v_ids bigint[];
BEGIN
  IF jsonb_typeof(p_op -> 'rows') IS DISTINCT FROM 'array' THEN
    RETURN @s.cohortdesk_write_refuse('refused', 'an insert needs a list of rows');
  END IF;
  IF v_table = 'cohort_enrollments' THEN
    RETURN @s.cohortdesk_write_enrollments(p_op -> 'rows', p_device, p_account, p_privileged);
  END IF;
  FOR v_row IN SELECT jsonb_strip_nulls(value) FROM jsonb_array_elements(p_op -> 'rows') LOOP
    v_account := coalesce(p_account, (v_row ->> 'account_id')::bigint);
    IF v_account IS NULL OR (v_row ? 'account_id' AND (v_row ->> 'account_id')::bigint <> v_account) THEN
      RETURN @s.cohortdesk_write_refuse('refused', 'the row belongs to another institution''s account')
             || jsonb_build_object('index', v_index);
    END IF;
    -- Ids: a laptop's insert uses an id the server reserved for that very device; otherwise the
    -- table's own sequence decides (an id a client picks is ignored).
    IF p_device IS NOT NULL THEN
      v_id := (v_row ->> 'id')::bigint;
      IF NOT EXISTS (SELECT 1 FROM @s.sync_id_reservation r WHERE r.table_name = v_table AND r.id = v_id
                        AND r.device_id = p_device AND r.used_at IS NULL) THEN
        RETURN @s.cohortdesk_write_refuse('refused', format('id %s was not reserved for this laptop', v_id))
               || jsonb_build_object('index', v_index);
      END IF;
    ELSIF p_privileged AND v_row ->> 'id' IS NOT NULL THEN
      v_id := (v_row ->> 'id')::bigint;
    ELSE
      v_id := nextval(pg_get_serial_sequence('@s.' || quote_ident(v_table), 'id'));
    END IF;
    v_row := v_row || jsonb_build_object('id', v_id, 'account_id', v_account, 'row_version', 1,
                                         'deleted_at', NULL, 'change_seq', 0);
    IF NOT v_row ? 'uuid' OR v_row ->> 'uuid' IS NULL THEN
      v_row := v_row || jsonb_build_object('uuid', gen_random_uuid()::text);
    END IF;
    IF p_privileged THEN
      v_row := jsonb_build_object('created_at', now(), 'updated_at', now()) || v_row;
    ELSE
      v_row := v_row || jsonb_build_object('created_at', now(), 'updated_at', now());
    END IF;
    IF v_table = 'institutions' THEN
      v_row := jsonb_build_object('settings', '{}'::jsonb) || v_row;
    ELSIF v_table = 'sponsors' THEN
      NULL;
    ELSIF v_table = 'cohorts' THEN
      v_row := jsonb_build_object('supporting_templates', '[]'::jsonb, 'required_document_types', '[]'::jsonb,
                                  'student_count', 0) || v_row;
      IF coalesce(v_row ->> 'state', 'draft') <> 'draft' AND NOT p_privileged THEN
        RETURN @s.cohortdesk_write_refuse('refused', 'a new cohort starts as a draft')
               || jsonb_build_object('index', v_index);
      END IF;
      v_row := v_row || jsonb_build_object('state', coalesce(v_row ->> 'state', 'draft'));
    ELSIF v_table = 'cohort_enrollments' THEN
      v_row := jsonb_build_object('supporting_submission_ids', '[]'::jsonb, 'student_data', '{}'::jsonb,
                                  'uploaded_documents', '{}'::jsonb, 'state', 'waiting') || v_row;
      IF NOT p_privileged THEN
        -- Verification and documents are not configuration: a new enrollment starts pending, with no
        -- documents (they arrive from DocuSeal) and no claim.
        IF v_row -> 'uploaded_documents' IS DISTINCT FROM '{}'::jsonb THEN
          RETURN @s.cohortdesk_write_refuse('refused', 'documents arrive through DocuSeal, not with a new enrollment')
                 || jsonb_build_object('index', v_index);
        END IF;
        v_row := v_row || jsonb_build_object('document_verification_state', 'pending', 'rejection_reason', NULL,
                                             'claimed_by', NULL, 'claimed_by_user_id', NULL, 'claim_token', NULL,
                                             'claim_expires_at', NULL, 'pending_since', now(), 'state', 'waiting');
      ELSE
        v_row := jsonb_build_object('document_verification_state', 'pending') || v_row;
      END IF;
      SELECT c.id, c.state, c.deleted_at INTO v_cohort FROM @s.cohorts c
       WHERE c.id = (v_row ->> 'cohort_id')::bigint AND c.account_id = v_account;
      IF v_cohort.id IS NULL OR v_cohort.deleted_at IS NOT NULL THEN
        RETURN @s.cohortdesk_write_refuse('parent_deleted',
                 format('the cohort (id %s) was deleted or does not exist on the server', v_row ->> 'cohort_id'))
               || jsonb_build_object('index', v_index);
      END IF;
      IF v_cohort.state NOT IN ('draft', 'active') THEN
        RETURN @s.cohortdesk_write_refuse('refused',
                 format('the cohort is %s; it takes no new enrollments', v_cohort.state))
               || jsonb_build_object('index', v_index);
      END IF;
      SELECT e.id INTO v_existing FROM @s.cohort_enrollments e
       WHERE e.cohort_id = v_cohort.id AND e.user_id = (v_row ->> 'user_id')::bigint AND e.deleted_at IS NULL;
      IF v_existing IS NOT NULL OR (v_cohort.id || '/' || (v_row ->> 'user_id')) = ANY (v_seen) THEN
        RETURN @s.cohortdesk_write_refuse('duplicate', 'this learner is already enrolled in the cohort')
               || jsonb_build_object('index', v_index, 'existing', v_existing);
      END IF;
      v_seen := v_seen || (v_cohort.id || '/' || (v_row ->> 'user_id'));
    ELSE
      RETURN @s.cohortdesk_write_refuse('refused', format('%s is not a configuration table', v_table));
    END IF;
    v_problem := @s.cohortdesk_write_refs(v_table, v_row, NULL, v_account);
    IF v_problem IS NOT NULL THEN
      RETURN @s.cohortdesk_write_refuse('refused', v_problem) || jsonb_build_object('index', v_index);
    END IF;
    v_rows := v_rows || jsonb_build_array(v_row);
    v_index := v_index + 1;
  END LOOP;
  IF p_device IS NOT NULL THEN
    UPDATE @s.sync_id_reservation r SET used_at = now()
      FROM jsonb_array_elements(v_rows) e
     WHERE r.table_name = v_table AND r.id = (e.value ->> 'id')::bigint AND r.device_id = p_device;
  END IF;
  IF v_table = 'institutions' THEN
    WITH w AS (INSERT INTO @s.institutions SELECT * FROM jsonb_populate_recordset(NULL::@s.institutions, v_rows) RETURNING id)
    SELECT array_agg(id) INTO v_ids FROM w;
  ELSIF v_table = 'sponsors' THEN
    WITH w AS (INSERT INTO @s.sponsors SELECT * FROM jsonb_populate_recordset(NULL::@s.sponsors, v_rows) RETURNING id)
    SELECT array_agg(id) INTO v_ids FROM w;
  ELSIF v_table = 'cohorts' THEN
    WITH w AS (INSERT INTO @s.cohorts SELECT * FROM jsonb_populate_recordset(NULL::@s.cohorts, v_rows) RETURNING id)
    SELECT array_agg(id) INTO v_ids FROM w;
  ELSE
    WITH w AS (INSERT INTO @s.cohort_enrollments
               SELECT * FROM jsonb_populate_recordset(NULL::@s.cohort_enrollments, v_rows) RETURNING id)
    SELECT array_agg(id) INTO v_ids FROM w;
  END IF;
  RETURN jsonb_build_object('ok', true, 'ids', (SELECT coalesce(jsonb_agg(e.value -> 'id'), '[]')
                                                  FROM jsonb_array_elements(v_rows) e));
END $$;

-- New enrollments, set-based (an import or a laptop's batch brings hundreds at once): every check is one
-- pass over the rows; the first problem, in row order, refuses the whole op (nothing written).
CREATE FUNCTION @s.cohortdesk_write_enrollments(p_rows jsonb, p_device text, p_account bigint,
                                               p_privileged boolean)
RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_problem record;
  v_rows jsonb;
BEGIN
  WITH input AS (
    SELECT e.r, e.ord, coalesce(p_account, (e.r ->> 'account_id')::bigint) AS account,
           count(*) OVER (PARTITION BY e.r ->> 'cohort_id', e.r ->> 'user_id') AS twins
      FROM jsonb_array_elements(p_rows) WITH ORDINALITY e(r, ord))
  SELECT i.ord - 1 AS idx, CASE
      WHEN i.account IS NULL OR (p_account IS NOT NULL AND i.r ->> 'account_id' IS NOT NULL
                                 AND (i.r ->> 'account_id')::bigint <> p_account)
        THEN 'refused:the row belongs to another institution''s account'
      WHEN p_device IS NOT NULL AND NOT EXISTS (
             SELECT 1 FROM @s.sync_id_reservation res WHERE res.table_name = 'cohort_enrollments'
                AND res.id = (i.r ->> 'id')::bigint AND res.device_id = p_device AND res.used_at IS NULL)
        THEN format('refused:id %s was not reserved for this laptop', i.r ->> 'id')
      WHEN NOT p_privileged AND coalesce(i.r -> 'uploaded_documents', 'null') NOT IN ('{}'::jsonb, 'null'::jsonb)
        THEN 'refused:documents arrive through DocuSeal, not with a new enrollment'
      WHEN c.id IS NULL OR c.deleted_at IS NOT NULL
        THEN format('parent_deleted:the cohort (id %s) was deleted or does not exist on the server', i.r ->> 'cohort_id')
      WHEN c.state NOT IN ('draft', 'active')
        THEN format('refused:the cohort is %s; it takes no new enrollments', c.state)
      WHEN NOT EXISTS (SELECT 1 FROM @s.users u WHERE u.id = (i.r ->> 'user_id')::bigint AND u.account_id = i.account)
        THEN format('refused:there is no learner with user id %s in your account', i.r ->> 'user_id')
      WHEN i.r ->> 'submission_id' IS NOT NULL AND NOT EXISTS (
             SELECT 1 FROM @s.submissions sb WHERE sb.id = (i.r ->> 'submission_id')::bigint AND sb.account_id = i.account)
        THEN format('refused:submission %s is not in your account', i.r ->> 'submission_id')
      WHEN jsonb_typeof(i.r -> 'supporting_submission_ids') = 'array' AND EXISTS (
             SELECT 1 FROM jsonb_array_elements_text(i.r -> 'supporting_submission_ids') t(v)
              WHERE NOT EXISTS (SELECT 1 FROM @s.submissions sb WHERE sb.id = t.v::bigint AND sb.account_id = i.account))
        THEN 'refused:a supporting submission is not in your account'
      WHEN i.twins > 1 OR EXISTS (
             SELECT 1 FROM @s.cohort_enrollments x WHERE x.cohort_id = c.id
                AND x.user_id = (i.r ->> 'user_id')::bigint AND x.deleted_at IS NULL)
        THEN 'duplicate:this learner is already enrolled in the cohort'
      END AS problem
    INTO v_problem
    FROM input i
    LEFT JOIN @s.cohorts c ON c.id = (i.r ->> 'cohort_id')::bigint AND c.account_id = i.account
   WHERE CASE
      WHEN i.account IS NULL OR (p_account IS NOT NULL AND i.r ->> 'account_id' IS NOT NULL
                                 AND (i.r ->> 'account_id')::bigint <> p_account) THEN true
      WHEN p_device IS NOT NULL AND NOT EXISTS (
             SELECT 1 FROM @s.sync_id_reservation res WHERE res.table_name = 'cohort_enrollments'
                AND res.id = (i.r ->> 'id')::bigint AND res.device_id = p_device AND res.used_at IS NULL) THEN true
      WHEN NOT p_privileged AND coalesce(i.r -> 'uploaded_documents', 'null') NOT IN ('{}'::jsonb, 'null'::jsonb) THEN true
      WHEN c.id IS NULL OR c.deleted_at IS NOT NULL OR c.state NOT IN ('draft', 'active') THEN true
      WHEN NOT EXISTS (SELECT 1 FROM @s.users u WHERE u.id = (i.r ->> 'user_id')::bigint AND u.account_id = i.account) THEN true
      WHEN i.r ->> 'submission_id' IS NOT NULL AND NOT EXISTS (
             SELECT 1 FROM @s.submissions sb WHERE sb.id = (i.r ->> 'submission_id')::bigint AND sb.account_id = i.account) THEN true
      WHEN jsonb_typeof(i.r -> 'supporting_submission_ids') = 'array' AND EXISTS (
             SELECT 1 FROM jsonb_array_elements_text(i.r -> 'supporting_submission_ids') t(v)
              WHERE NOT EXISTS (SELECT 1 FROM @s.submissions sb WHERE sb.id = t.v::bigint AND sb.account_id = i.account)) THEN true
      WHEN i.twins > 1 OR EXISTS (
             SELECT 1 FROM @s.cohort_enrollments x WHERE x.cohort_id = c.id
                AND x.user_id = (i.r ->> 'user_id')::bigint AND x.deleted_at IS NULL) THEN true
      ELSE false END
   ORDER BY i.ord
   LIMIT 1;
  IF v_problem.problem IS NOT NULL THEN
    RETURN @s.cohortdesk_write_refuse(split_part(v_problem.problem, ':', 1),
                                      substr(v_problem.problem, length(split_part(v_problem.problem, ':', 1)) + 2))
           || jsonb_build_object('index', v_problem.idx);
  END IF;
  SELECT jsonb_agg(
           jsonb_build_object('supporting_submission_ids', '[]'::jsonb, 'student_data', '{}'::jsonb,
                              'uploaded_documents', '{}'::jsonb, 'state', 'waiting',
                              'document_verification_state', 'pending', 'uuid', gen_random_uuid()::text,
                              'created_at', now(), 'updated_at', now())
           || jsonb_strip_nulls(e.r)
           || jsonb_build_object(
                'id', CASE WHEN p_device IS NOT NULL OR (p_privileged AND e.r ->> 'id' IS NOT NULL)
                           THEN (e.r ->> 'id')::bigint
                           ELSE nextval(pg_get_serial_sequence('@s.cohort_enrollments', 'id')) END,
                'account_id', coalesce(p_account, (e.r ->> 'account_id')::bigint), 'row_version', 1,
                'deleted_at', NULL, 'change_seq', 0)
           || CASE WHEN p_privileged THEN '{}'::jsonb ELSE jsonb_build_object(
                'document_verification_state', 'pending', 'rejection_reason', NULL, 'claimed_by', NULL,
                'claimed_by_user_id', NULL, 'claim_token', NULL, 'claim_expires_at', NULL,
                'pending_since', now(), 'state', 'waiting', 'created_at', now(), 'updated_at', now()) END
           ORDER BY e.ord)
    INTO v_rows
    FROM jsonb_array_elements(p_rows) WITH ORDINALITY e(r, ord);
  IF p_device IS NOT NULL THEN
    UPDATE @s.sync_id_reservation r SET used_at = now()
      FROM jsonb_array_elements(v_rows) e
     WHERE r.table_name = 'cohort_enrollments' AND r.id = (e.value ->> 'id')::bigint AND r.device_id = p_device;
  END IF;
  INSERT INTO @s.cohort_enrollments SELECT * FROM jsonb_populate_recordset(NULL::@s.cohort_enrollments, v_rows);
  RETURN jsonb_build_object('ok', true, 'ids', (SELECT coalesce(jsonb_agg(e.value -> 'id'), '[]')
                                                  FROM jsonb_array_elements(v_rows) e));
END $$;

-- Per-key student details of many enrollments in one statement (a laptop's batch of edits): taken only
-- when every op is such an edit of a distinct live row of the account; otherwise NULL and the ops run
-- one by one.
CREATE FUNCTION @s.cohortdesk_write_student_data(p_ops jsonb[], p_account bigint)
RETURNS jsonb[] LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_ids bigint[] := ARRAY(SELECT (o ->> 'id')::bigint FROM unnest(p_ops) o);
  v_found int;
  v_out jsonb[];
BEGIN
  SELECT count(*) INTO v_found FROM (
    SELECT 1 FROM @s.cohort_enrollments e
     WHERE e.id = ANY (v_ids) AND (p_account IS NULL OR e.account_id = p_account) AND e.deleted_at IS NULL
     ORDER BY e.id FOR UPDATE) x;
  IF v_found <> cardinality(v_ids) OR (SELECT count(DISTINCT i) FROM unnest(v_ids) i) <> cardinality(v_ids) THEN
    RETURN NULL;
  END IF;
  WITH input AS (
    SELECT (u.o ->> 'id')::bigint AS id, u.ord,
           (SELECT jsonb_object_agg(substr(s.key, 14), s.value) FROM jsonb_each(u.o -> 'set') s) AS patch
      FROM unnest(p_ops) WITH ORDINALITY u(o, ord)),
  done AS (
    UPDATE @s.cohort_enrollments t
       SET student_data = (SELECT coalesce(jsonb_object_agg(x.key, x.value), '{}'::jsonb)
                             FROM jsonb_each(CASE WHEN jsonb_typeof(t.student_data) = 'object'
                                                  THEN t.student_data ELSE '{}'::jsonb END || i.patch) x
                            WHERE jsonb_typeof(x.value) <> 'null'),
           updated_at = now()
      FROM input i
     WHERE t.id = i.id
    RETURNING t.id, t.row_version)
  SELECT array_agg(jsonb_build_object('ok', true, 'row_version', d.row_version) ORDER BY i.ord) INTO v_out
    FROM input i JOIN done d ON d.id = i.id;
  RETURN v_out;
END $$;

CREATE FUNCTION @s.cohortdesk_write_update(p_op jsonb, p_account bigint)
RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_table constant text := p_op ->> 'table';
  v_id constant bigint := (p_op ->> 'id')::bigint;
  v_restore constant boolean := coalesce((p_op ->> 'restore')::boolean, false);
  v_old jsonb;
  v_new jsonb;
  v_field text;
  v_value jsonb;
  v_column text;
  v_key text;
  v_problem text;
  v_allowed text[];
  v_split text;
  v_version bigint;
BEGIN
  IF v_table = 'institutions' THEN
    v_allowed := ARRAY['name', 'registration_number', 'address', 'contact_email', 'contact_phone', 'super_admin_id'];
    v_split := 'settings';
    SELECT to_jsonb(t) INTO v_old FROM @s.institutions t WHERE t.id = v_id FOR UPDATE;
  ELSIF v_table = 'sponsors' THEN
    v_allowed := ARRAY['company_name', 'contact_email', 'contact_name', 'contact_phone', 'tax_number'];
    SELECT to_jsonb(t) INTO v_old FROM @s.sponsors t WHERE t.id = v_id FOR UPDATE;
  ELSIF v_table = 'cohorts' THEN
    v_allowed := ARRAY['name', 'program_type', 'sponsor_id', 'sponsor_email', 'student_count', 'main_template_id',
                       'supporting_templates', 'required_document_types', 'start_date', 'end_date', 'state',
                       'admin_signed_at'];
    SELECT to_jsonb(t) INTO v_old FROM @s.cohorts t WHERE t.id = v_id FOR UPDATE;
  ELSIF v_table = 'cohort_enrollments' THEN
    v_allowed := ARRAY['state'];
    v_split := 'student_data';
    SELECT to_jsonb(t) INTO v_old FROM @s.cohort_enrollments t WHERE t.id = v_id FOR UPDATE;
  ELSE
    RETURN @s.cohortdesk_write_refuse('refused', format('%s is not a configuration table', v_table));
  END IF;
  IF v_old IS NULL OR (p_account IS NOT NULL AND (v_old ->> 'account_id')::bigint <> p_account) THEN
    RETURN @s.cohortdesk_write_refuse('missing', format('there is no %s with id %s', v_table, v_id));
  END IF;
  IF v_old ->> 'deleted_at' IS NOT NULL AND NOT v_restore THEN
    RETURN @s.cohortdesk_write_refuse('deleted', 'it was deleted on the server');
  END IF;
  IF p_op ->> 'expected_row_version' IS NOT NULL
     AND (p_op ->> 'expected_row_version')::bigint <> (v_old ->> 'row_version')::bigint THEN
    RETURN @s.cohortdesk_write_refuse('stale', format('it was changed since (version %s, now %s)',
                                       p_op ->> 'expected_row_version', v_old ->> 'row_version'));
  END IF;
  v_new := v_old;
  IF v_restore THEN
    v_new := jsonb_set(v_new, '{deleted_at}', 'null');
  END IF;
  FOR v_field, v_value IN SELECT key, value FROM jsonb_each(coalesce(p_op -> 'set', '{}')) LOOP
    v_column := split_part(v_field, '.', 1);
    v_key := nullif(substr(v_field, length(v_column) + 2), '');
    IF v_key IS NOT NULL AND v_column = v_split THEN
      IF jsonb_typeof(v_new -> v_column) IS DISTINCT FROM 'object' THEN
        v_new := jsonb_set(v_new, ARRAY[v_column], '{}');
      END IF;
      IF v_value IS NULL OR jsonb_typeof(v_value) = 'null' THEN
        v_new := v_new #- ARRAY[v_column, v_key];
      ELSE
        v_new := jsonb_set(v_new, ARRAY[v_column, v_key], v_value);
      END IF;
    ELSIF v_key IS NULL AND v_column = ANY (v_allowed) THEN
      v_new := jsonb_set(v_new, ARRAY[v_column], coalesce(v_value, 'null'));
    ELSE
      RETURN @s.cohortdesk_write_refuse('refused', format('%s cannot be changed here', v_field));
    END IF;
  END LOOP;
  IF v_table = 'cohorts' THEN
    v_problem := @s.cohortdesk_cohort_blocker(v_old, v_new);
  ELSIF v_table = 'cohort_enrollments' AND v_new ->> 'state' IS DISTINCT FROM v_old ->> 'state'
        AND NOT ((v_old ->> 'state' = 'waiting' AND v_new ->> 'state' = 'in_progress')
                 OR (v_old ->> 'state' = 'in_progress' AND v_new ->> 'state' = 'complete')) THEN
    v_problem := format('a %s enrollment cannot become %s', v_old ->> 'state', v_new ->> 'state');
  END IF;
  IF v_problem IS NULL THEN
    v_problem := @s.cohortdesk_write_refs(v_table, v_new, v_old, (v_old ->> 'account_id')::bigint);
  END IF;
  IF v_problem IS NULL AND v_restore AND v_old ->> 'deleted_at' IS NOT NULL THEN
    IF v_table = 'cohort_enrollments' AND EXISTS (
         SELECT 1 FROM @s.cohort_enrollments e WHERE e.cohort_id = (v_new ->> 'cohort_id')::bigint
            AND e.user_id = (v_new ->> 'user_id')::bigint AND e.deleted_at IS NULL AND e.id <> v_id) THEN
      v_problem := 'the learner is enrolled in the cohort again';
    ELSIF v_table = 'cohort_enrollments' AND NOT EXISTS (
         SELECT 1 FROM @s.cohorts c WHERE c.id = (v_new ->> 'cohort_id')::bigint AND c.deleted_at IS NULL) THEN
      v_problem := 'its cohort was deleted on the server';
    END IF;
  END IF;
  IF v_problem IS NOT NULL THEN
    RETURN @s.cohortdesk_write_refuse('refused', v_problem);
  END IF;
  IF v_new = v_old THEN
    RETURN jsonb_build_object('ok', true, 'row_version', (v_old ->> 'row_version')::bigint, 'unchanged', true);
  END IF;
  IF v_table = 'institutions' THEN
    UPDATE @s.institutions t SET (name, registration_number, address, contact_email, contact_phone, super_admin_id,
                                  settings, deleted_at, updated_at)
         = (SELECT r.name, r.registration_number, r.address, r.contact_email, r.contact_phone, r.super_admin_id,
                   r.settings, r.deleted_at, now() FROM jsonb_populate_record(NULL::@s.institutions, v_new) r)
     WHERE t.id = v_id RETURNING t.row_version INTO v_version;
  ELSIF v_table = 'sponsors' THEN
    UPDATE @s.sponsors t SET (company_name, contact_email, contact_name, contact_phone, tax_number, deleted_at,
                              updated_at)
         = (SELECT r.company_name, r.contact_email, r.contact_name, r.contact_phone, r.tax_number, r.deleted_at, now()
              FROM jsonb_populate_record(NULL::@s.sponsors, v_new) r)
     WHERE t.id = v_id RETURNING t.row_version INTO v_version;
  ELSIF v_table = 'cohorts' THEN
    UPDATE @s.cohorts t SET (name, program_type, sponsor_id, sponsor_email, student_count, main_template_id,
                             supporting_templates, required_document_types, start_date, end_date, state,
                             admin_signed_at, deleted_at, updated_at)
         = (SELECT r.name, r.program_type, r.sponsor_id, r.sponsor_email, r.student_count, r.main_template_id,
                   r.supporting_templates, r.required_document_types, r.start_date, r.end_date, r.state,
                   r.admin_signed_at, r.deleted_at, now() FROM jsonb_populate_record(NULL::@s.cohorts, v_new) r)
     WHERE t.id = v_id RETURNING t.row_version INTO v_version;
  ELSE
    UPDATE @s.cohort_enrollments t SET (state, student_data, deleted_at, updated_at)
         = (SELECT r.state, r.student_data, r.deleted_at, now()
              FROM jsonb_populate_record(NULL::@s.cohort_enrollments, v_new) r)
     WHERE t.id = v_id RETURNING t.row_version INTO v_version;
  END IF;
  RETURN jsonb_build_object('ok', true, 'row_version', v_version);
END $$;

CREATE FUNCTION @s.cohortdesk_write_delete(p_op jsonb, p_account bigint)
RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_table constant text := p_op ->> 'table';
  v_id constant bigint := (p_op ->> 'id')::bigint;
  v_children bigint[] := ARRAY(SELECT value::bigint FROM jsonb_array_elements_text(coalesce(p_op -> 'children', '[]')));
  v_old jsonb;
  v_live bigint;
  v_version bigint;
BEGIN
  IF v_table = 'institutions' THEN
    SELECT to_jsonb(t) INTO v_old FROM @s.institutions t WHERE t.id = v_id FOR UPDATE;
  ELSIF v_table = 'sponsors' THEN
    SELECT to_jsonb(t) INTO v_old FROM @s.sponsors t WHERE t.id = v_id FOR UPDATE;
  ELSIF v_table = 'cohorts' THEN
    SELECT to_jsonb(t) INTO v_old FROM @s.cohorts t WHERE t.id = v_id FOR UPDATE;
  ELSIF v_table = 'cohort_enrollments' THEN
    SELECT to_jsonb(t) INTO v_old FROM @s.cohort_enrollments t WHERE t.id = v_id FOR UPDATE;
  ELSE
    RETURN @s.cohortdesk_write_refuse('refused', format('%s is not a configuration table', v_table));
  END IF;
  IF v_old IS NULL OR (p_account IS NOT NULL AND (v_old ->> 'account_id')::bigint <> p_account) THEN
    RETURN jsonb_build_object('ok', true, 'missing', true);
  END IF;
  IF v_old ->> 'deleted_at' IS NOT NULL THEN
    RETURN jsonb_build_object('ok', true, 'already', true, 'row_version', (v_old ->> 'row_version')::bigint);
  END IF;
  IF p_op ->> 'expected_row_version' IS NOT NULL
     AND (p_op ->> 'expected_row_version')::bigint <> (v_old ->> 'row_version')::bigint THEN
    RETURN @s.cohortdesk_write_refuse('stale', format('it was changed since (version %s, now %s)',
                                       p_op ->> 'expected_row_version', v_old ->> 'row_version'));
  END IF;
  IF v_table = 'institutions' THEN
    SELECT count(*) INTO v_live FROM (
      SELECT 1 FROM @s.sponsors s WHERE s.institution_id = v_id AND s.deleted_at IS NULL
      UNION ALL SELECT 1 FROM @s.cohorts c WHERE c.institution_id = v_id AND c.deleted_at IS NULL) x;
    IF v_live > 0 THEN
      RETURN @s.cohortdesk_write_refuse('has_children', format('it still has %s sponsors or cohorts', v_live))
             || jsonb_build_object('live_children', v_live);
    END IF;
  ELSIF v_table = 'sponsors' THEN
    SELECT count(*) INTO v_live FROM @s.cohorts c WHERE c.sponsor_id = v_id AND c.deleted_at IS NULL;
    IF v_live > 0 THEN
      RETURN @s.cohortdesk_write_refuse('has_children', format('%s live cohort(s) use this sponsor', v_live))
             || jsonb_build_object('live_children', v_live);
    END IF;
  ELSIF v_table = 'cohorts' THEN
    -- The cohort and the enrollments named with it go together, or nothing does: a delete never leaves
    -- a cohort half emptied.
    SELECT count(*) INTO v_live FROM @s.cohort_enrollments e
     WHERE e.cohort_id = v_id AND e.deleted_at IS NULL AND NOT (e.id = ANY (v_children));
    IF v_live > 0 THEN
      RETURN @s.cohortdesk_write_refuse('has_children',
               format('it has %s live enrollment(s) on the server', v_live))
             || jsonb_build_object('live_children', v_live);
    END IF;
    UPDATE @s.cohort_enrollments e SET deleted_at = now(), updated_at = now()
     WHERE e.cohort_id = v_id AND e.id = ANY (v_children) AND e.deleted_at IS NULL;
  END IF;
  IF v_table = 'institutions' THEN
    UPDATE @s.institutions t SET deleted_at = now(), updated_at = now() WHERE t.id = v_id RETURNING t.row_version INTO v_version;
  ELSIF v_table = 'sponsors' THEN
    UPDATE @s.sponsors t SET deleted_at = now(), updated_at = now() WHERE t.id = v_id RETURNING t.row_version INTO v_version;
  ELSIF v_table = 'cohorts' THEN
    UPDATE @s.cohorts t SET deleted_at = now(), updated_at = now() WHERE t.id = v_id RETURNING t.row_version INTO v_version;
  ELSE
    UPDATE @s.cohort_enrollments t SET deleted_at = now(), updated_at = now() WHERE t.id = v_id
    RETURNING t.row_version INTO v_version;
  END IF;
  RETURN jsonb_build_object('ok', true, 'row_version', v_version);
END $$;

CREATE FUNCTION @s.cohortdesk_write_conflict(p_op jsonb, p_device text, p_account bigint)
RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v jsonb := coalesce(p_op -> 'values', '{}');
  v_id bigint;
BEGIN
  IF p_device IS NULL THEN
    RETURN @s.cohortdesk_write_refuse('refused', 'conflicts belong to a laptop''s sync');
  END IF;
  IF p_op ->> 'op' = 'conflict' THEN
    INSERT INTO @s.sync_conflict (account_id, device_id, mutation_id, op, table_name, row_id, field, kind, base_value,
                                  mine, theirs, detail, server_row_version, theirs_updated_by, theirs_updated_at,
                                  started_at, status, created_at)
    VALUES (p_account, p_device, (v ->> 'mutation_id')::bigint, v ->> 'op', v ->> 'table_name',
            (v ->> 'row_id')::bigint, v ->> 'field', v ->> 'kind', v -> 'base_value', v -> 'mine', v -> 'theirs',
            v ->> 'detail', (v ->> 'server_row_version')::bigint, v ->> 'theirs_updated_by',
            (v ->> 'theirs_updated_at')::timestamptz, (v ->> 'started_at')::timestamptz, 'open', now())
    RETURNING id INTO v_id;
    RETURN jsonb_build_object('ok', true, 'id', v_id);
  END IF;
  UPDATE @s.sync_conflict c SET
         mutation_id = coalesce((v ->> 'mutation_id')::bigint, c.mutation_id),
         base_value = CASE WHEN v ? 'base_value' THEN v -> 'base_value' ELSE c.base_value END,
         mine = CASE WHEN v ? 'mine' THEN v -> 'mine' ELSE c.mine END,
         theirs = CASE WHEN v ? 'theirs' THEN v -> 'theirs' ELSE c.theirs END,
         server_row_version = CASE WHEN v ? 'server_row_version' THEN (v ->> 'server_row_version')::bigint
                                   ELSE c.server_row_version END,
         resolution = CASE WHEN v ? 'resolution' THEN v -> 'resolution' ELSE c.resolution END,
         status = coalesce(v ->> 'status', c.status),
         resolved_by = CASE WHEN v ? 'status' THEN session_user::text ELSE c.resolved_by END,
         resolved_at = CASE WHEN v ? 'status' THEN now() ELSE c.resolved_at END
   WHERE c.id = (p_op ->> 'id')::bigint AND c.device_id = p_device AND c.account_id = p_account
     AND c.status = 'open'
  RETURNING c.id INTO v_id;
  RETURN jsonb_build_object('ok', v_id IS NOT NULL, 'id', v_id);
END $$;

CREATE FUNCTION @s.cohortdesk_write(p_device text, p_ops jsonb)
RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_privileged constant boolean := @s.cohortdesk_session_is_privileged();
  v_account bigint := @s.cohortdesk_current_account();
  v_ops jsonb[];
  v_op jsonb;
  v_results jsonb[] := '{}';
  v_group jsonb[];
  v_done jsonb[];
  v_at int := 1;
BEGIN
  IF NOT v_privileged AND @s.cohortdesk_current_role() IS DISTINCT FROM 'super_admin' THEN
    RAISE EXCEPTION 'only a super admin of this institution changes its configuration'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF p_device IS NOT NULL THEN
    SELECT d.account_id INTO v_account FROM @s.sync_device d
     WHERE d.device_id = p_device AND d.db_role = session_user::text AND d.active
       AND (v_account IS NULL OR d.account_id = v_account);
    IF v_account IS NULL THEN
      RAISE EXCEPTION 'device % is not an active device of login %', p_device, session_user
        USING ERRCODE = 'insufficient_privilege';
    END IF;
  END IF;
  IF jsonb_typeof(p_ops) IS DISTINCT FROM 'array' THEN
    RAISE EXCEPTION 'cohortdesk_write takes a list of operations' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  v_ops := ARRAY(SELECT value FROM jsonb_array_elements(p_ops));
  WHILE v_at <= coalesce(cardinality(v_ops), 0) LOOP
    v_op := v_ops[v_at];
    -- A run of plain per-key student detail edits goes in one statement.
    v_group := '{}';
    WHILE v_at + cardinality(v_group) <= cardinality(v_ops)
          AND @s.cohortdesk_is_student_data_edit(v_ops[v_at + cardinality(v_group)]) LOOP
      v_group := v_group || v_ops[v_at + cardinality(v_group)];
    END LOOP;
    IF cardinality(v_group) > 1 THEN
      v_done := @s.cohortdesk_write_student_data(v_group, v_account);
      IF v_done IS NULL THEN  -- a row is missing, deleted or named twice: one by one
        v_done := ARRAY(SELECT @s.cohortdesk_write_update(g.o, v_account)
                          FROM unnest(v_group) WITH ORDINALITY g(o, n) ORDER BY g.n);
      END IF;
      v_results := v_results || v_done;
      v_at := v_at + cardinality(v_group);
      CONTINUE;
    END IF;
    v_results := v_results || CASE v_op ->> 'op'
      WHEN 'insert' THEN @s.cohortdesk_write_insert(v_op, p_device, v_account, v_privileged)
      WHEN 'update' THEN @s.cohortdesk_write_update(v_op, v_account)
      WHEN 'delete' THEN @s.cohortdesk_write_delete(v_op, v_account)
      WHEN 'conflict' THEN @s.cohortdesk_write_conflict(v_op, p_device, v_account)
      WHEN 'conflict_set' THEN @s.cohortdesk_write_conflict(v_op, p_device, v_account)
      ELSE @s.cohortdesk_write_refuse('refused', format('unknown operation %s', v_op ->> 'op')) END;
    v_at := v_at + 1;
  END LOOP;
  RETURN to_jsonb(v_results);
END $$;

CREATE FUNCTION @s.cohortdesk_is_student_data_edit(p_op jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT p_op ->> 'op' = 'update' AND p_op ->> 'table' = 'cohort_enrollments'
     AND NOT coalesce((p_op ->> 'restore')::boolean, false) AND p_op ->> 'expected_row_version' IS NULL
     AND jsonb_typeof(p_op -> 'set') = 'object' AND p_op -> 'set' <> '{}'::jsonb
     AND NOT EXISTS (SELECT 1 FROM jsonb_object_keys(p_op -> 'set') k WHERE k NOT LIKE 'student\_data.%')
$$;

CREATE FUNCTION @s.cohortdesk_sync_lock(p_table text, p_ids bigint[])
RETURNS SETOF jsonb LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_account constant bigint := @s.cohortdesk_current_account();
  v_privileged constant boolean := @s.cohortdesk_session_is_privileged();
BEGIN
  IF NOT v_privileged AND @s.cohortdesk_current_role() IS DISTINCT FROM 'super_admin' THEN
    RAISE EXCEPTION 'only a super admin syncs configuration' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF p_table = 'institutions' THEN
    RETURN QUERY SELECT to_jsonb(t) FROM @s.institutions t
      WHERE t.id = ANY (p_ids) AND (v_privileged OR t.account_id = v_account) ORDER BY t.id FOR UPDATE;
  ELSIF p_table = 'sponsors' THEN
    RETURN QUERY SELECT to_jsonb(t) FROM @s.sponsors t
      WHERE t.id = ANY (p_ids) AND (v_privileged OR t.account_id = v_account) ORDER BY t.id FOR UPDATE;
  ELSIF p_table = 'cohorts' THEN
    RETURN QUERY SELECT to_jsonb(t) FROM @s.cohorts t
      WHERE t.id = ANY (p_ids) AND (v_privileged OR t.account_id = v_account) ORDER BY t.id FOR UPDATE;
  ELSIF p_table = 'cohort_enrollments' THEN
    RETURN QUERY SELECT to_jsonb(t) FROM @s.cohort_enrollments t
      WHERE t.id = ANY (p_ids) AND (v_privileged OR t.account_id = v_account) ORDER BY t.id FOR UPDATE;
  ELSE
    RAISE EXCEPTION '% is not a synced table', p_table USING ERRCODE = 'invalid_parameter_value';
  END IF;
END $$;

CREATE FUNCTION @s.cohortdesk_sync_register(p_device text, p_account bigint, p_label text, p_schema integer,
                                            p_app_version text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_account bigint := @s.cohortdesk_current_account();
BEGIN
  IF v_account IS NULL AND @s.cohortdesk_session_is_privileged() THEN
    v_account := p_account;
  END IF;
  IF v_account IS NULL OR (@s.cohortdesk_current_role() IS DISTINCT FROM 'super_admin'
                           AND NOT @s.cohortdesk_session_is_privileged()) THEN
    RAISE EXCEPTION 'login % may not sync a laptop here', session_user USING ERRCODE = 'insufficient_privilege';
  END IF;
  INSERT INTO @s.sync_device (device_id, account_id, db_role, label, last_mutation_id, last_pulled_seq,
                              schema_version, app_version, created_at, last_seen_at, active)
  VALUES (p_device, v_account, session_user, p_label, 0, 0, p_schema, p_app_version, now(), now(), true)
  ON CONFLICT (device_id) DO NOTHING;
END $$;

CREATE FUNCTION @s.cohortdesk_sync_begin(p_device text)
RETURNS TABLE (last_mutation_id bigint, active boolean, schema_version integer, app_version text)
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT d.last_mutation_id, d.active, d.schema_version, d.app_version FROM @s.sync_device d
   WHERE d.device_id = p_device AND d.db_role = session_user::text FOR UPDATE
$$;

CREATE FUNCTION @s.cohortdesk_sync_progress(p_device text, p_last_mutation_id bigint, p_schema integer,
                                            p_app_version text)
RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  UPDATE @s.sync_device d SET last_mutation_id = p_last_mutation_id, last_seen_at = now(),
         schema_version = coalesce(p_schema, d.schema_version), app_version = coalesce(p_app_version, d.app_version)
   WHERE d.device_id = p_device AND d.db_role = session_user::text AND d.active
$$;

CREATE FUNCTION @s.cohortdesk_sync_mark_pulled(p_device text, p_seq bigint)
RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  UPDATE @s.sync_device d SET last_pulled_seq = p_seq, last_seen_at = now()
   WHERE d.device_id = p_device AND d.db_role = session_user::text AND d.active
$$;
"""

#: (signature, executable by) — the inner helpers are the owner's alone.
PUBLIC_FUNCTIONS = {
    "cohortdesk_write(text, jsonb)": SUPER_ADMIN,
    "cohortdesk_sync_lock(text, bigint[])": SUPER_ADMIN,
    "cohortdesk_sync_register(text, bigint, text, integer, text)": SUPER_ADMIN,
    "cohortdesk_sync_begin(text)": SUPER_ADMIN,
    "cohortdesk_sync_progress(text, bigint, integer, text)": SUPER_ADMIN,
    "cohortdesk_sync_mark_pulled(text, bigint)": SUPER_ADMIN,
}
INNER_FUNCTIONS = (
    "cohortdesk_write_refuse(text, text)",
    "cohortdesk_cohort_blocker(jsonb, jsonb)",
    "cohortdesk_write_refs(text, jsonb, jsonb, bigint)",
    "cohortdesk_write_enrollments(jsonb, text, bigint, boolean)",
    "cohortdesk_write_student_data(jsonb[], bigint)",
    "cohortdesk_is_student_data_edit(jsonb)",
    "cohortdesk_write_insert(jsonb, text, bigint, boolean)",
    "cohortdesk_write_update(jsonb, bigint)",
    "cohortdesk_write_delete(jsonb, bigint)",
    "cohortdesk_write_conflict(jsonb, text, bigint)",
)

# Server-side settings and CONNECT for one login in this database (called by the user functions and
# the migration). Owner-only.
LOGIN_SETUP_SQL = """
CREATE FUNCTION @s.cohortdesk_login_setup(p_login text)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), p_login);
  -- Role settings are not inherited from the groups: each login carries its own, in this database.
  EXECUTE format('ALTER ROLE %I IN DATABASE %I SET statement_timeout = %L', p_login, current_database(), '60s');
  EXECUTE format('ALTER ROLE %I IN DATABASE %I SET lock_timeout = %L', p_login, current_database(), '5s');
  EXECUTE format('ALTER ROLE %I IN DATABASE %I SET idle_in_transaction_session_timeout = %L',
                 p_login, current_database(), '60s');
END $$;

CREATE FUNCTION @s.cohortdesk_login_teardown(p_login text)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM %I', current_database(), p_login);
  -- Sessions the login still has open here end now (a removed person keeps nothing open).
  PERFORM pg_terminate_backend(a.pid) FROM pg_catalog.pg_stat_activity a
    WHERE a.usename = p_login AND a.pid <> pg_backend_pid();
END $$;
"""


def _schema() -> str:
    return str(op.get_bind().exec_driver_sql("SELECT current_schema()").scalar_one())


def _sql(statement: str, schema: str) -> None:
    op.execute(statement.replace("@s", op.get_bind().dialect.identifier_preparer.quote(schema)))


ADMIN_SQL = r"""
CREATE OR REPLACE FUNCTION @s.cohortdesk_admin_add_user(p_login text, p_password text, p_user_id bigint,
                                                        p_app_role text, p_capabilities text[])
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_account bigint := @s.cohortdesk_current_account();
  v_institution bigint := @s.cohortdesk_current_institution();
  v_capabilities text[] := coalesce(p_capabilities, '{}');
BEGIN
  IF @s.cohortdesk_current_role() IS DISTINCT FROM 'super_admin' THEN
    RAISE EXCEPTION 'only a super admin can add users' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF p_login IS NULL OR p_login !~ '^[a-z][a-z0-9_]{2,62}$' OR p_login LIKE 'pg\_%' OR p_login LIKE 'cohortdesk\_%' THEN
    RAISE EXCEPTION 'login name %: use 3 to 63 lower-case letters, digits or _, starting with a letter', p_login
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_app_role IS NULL OR p_app_role NOT IN ('super_admin', 'officer', 'report_viewer') THEN
    RAISE EXCEPTION 'role %: must be super_admin, officer or report_viewer', p_app_role
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NOT v_capabilities <@ ARRAY['special_pi']::text[] THEN
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
  IF EXISTS (SELECT 1 FROM @s.cohortdesk_users m WHERE m.user_id = p_user_id AND m.active) THEN
    RAISE EXCEPTION 'user % already has a login; one person, one login', p_user_id
      USING ERRCODE = 'unique_violation';
  END IF;
  EXECUTE format('CREATE ROLE %I LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION '
                 'NOBYPASSRLS CONNECTION LIMIT 20 PASSWORD %L', p_login, p_password);
  EXECUTE format('GRANT %I TO %I', 'cohortdesk_' || p_app_role, p_login);
  EXECUTE format('ALTER ROLE %I IN DATABASE %I SET search_path = cohortdesk_docuseal, %I',
                 p_login, current_database(), '@s');
  PERFORM @s.cohortdesk_login_setup(p_login);
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

CREATE OR REPLACE FUNCTION @s.cohortdesk_admin_remove_user(p_login text)
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
    FOREACH v_group IN ARRAY ARRAY['cohortdesk_super_admin', 'cohortdesk_officer', 'cohortdesk_report_viewer'] LOOP
      IF EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members am
                  WHERE am.roleid = v_group::regrole AND am.member = p_login::regrole) THEN
        EXECUTE format('REVOKE %I FROM %I', v_group, p_login);
      END IF;
    END LOOP;
    PERFORM @s.cohortdesk_login_teardown(p_login);
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

CONNECT_SQL = """
DO $$
DECLARE
  v_login text;
  v_keep text;
BEGIN
  -- The owner may hand out CONNECT (add user) and take back what it handed out (remove user).
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO cohortdesk_owner WITH GRANT OPTION', current_database());
  BEGIN
    EXECUTE 'GRANT pg_signal_backend TO cohortdesk_owner';
  EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'not a superuser: removing a login will not end its open sessions';
  END;
  -- Who connected before keeps connecting: the database owner (implicitly), the migrating role, and in
  -- attach mode the roles owning DocuSeal's tables (DocuSeal's own login) and the role that owned the
  -- tables CohortDesk took over.
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), current_user);
  FOR v_keep IN SELECT value FROM @s.cohortdesk_install WHERE key = 'security.previous_owner'
                   AND EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = value)
                 UNION
                 SELECT DISTINCT t.tableowner::text FROM pg_catalog.pg_tables t
                  WHERE t.schemaname = current_schema() AND t.tableowner <> 'cohortdesk_owner' LOOP
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), v_keep);
  END LOOP;
  EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM PUBLIC', current_database());
  EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM cohortdesk_super_admin, cohortdesk_officer, '
                 'cohortdesk_report_viewer', current_database());
  SET LOCAL ROLE cohortdesk_owner;
  FOR v_login IN SELECT m.db_role FROM @s.cohortdesk_users m JOIN pg_catalog.pg_roles r ON r.rolname = m.db_role
                  WHERE m.active AND r.rolcanlogin AND NOT r.rolsuper LOOP
    PERFORM @s.cohortdesk_login_setup(v_login);
  END LOOP;
  RESET ROLE;
END $$;
"""


def upgrade() -> None:
    with op.batch_alter_table("tenant_clock") as batch:
        for column in ("block_owner", "block_start", "block_ticket"):
            batch.add_column(sa.Column(column, sa.BigInteger(), nullable=True))
    if op.get_bind().dialect.name != "postgresql":
        return
    schema = _schema()
    _sql(
        f"""
CREATE SEQUENCE @s.cohortdesk_stamp_ticket;
ALTER SEQUENCE @s.cohortdesk_stamp_ticket OWNER TO {OWNER};
REVOKE ALL ON SEQUENCE @s.cohortdesk_stamp_ticket FROM PUBLIC;
""",
        schema,
    )
    _sql(STAMP_FUNCTION, schema)
    _sql(WRITE_SQL, schema)
    _sql(LOGIN_SETUP_SQL, schema)
    _sql(ADMIN_SQL, schema)
    for function in (
        *PUBLIC_FUNCTIONS,
        *INNER_FUNCTIONS,
        "cohortdesk_login_setup(text)",
        "cohortdesk_login_teardown(text)",
    ):
        _sql(f"REVOKE ALL ON FUNCTION @s.{function} FROM PUBLIC", schema)
        _sql(f"ALTER FUNCTION @s.{function} OWNER TO {OWNER}", schema)
    for function, grantee in PUBLIC_FUNCTIONS.items():
        _sql(f"GRANT EXECUTE ON FUNCTION @s.{function} TO {grantee}", schema)
    groups = ", ".join(GROUPS)
    for table in CLOSED_TABLES:
        _sql(
            f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON @s.{table} FROM PUBLIC, {groups}",
            schema,
        )
    for table in CLOSED_SEQUENCES:
        _sql(
            f"""
DO $$
DECLARE v_sequence text := pg_get_serial_sequence('@s.{table}', 'id');
BEGIN
  IF v_sequence IS NOT NULL THEN
    EXECUTE format('REVOKE ALL ON SEQUENCE %s FROM PUBLIC, {groups}', v_sequence);
  END IF;
END $$""",
            schema,
        )
    _sql(CONNECT_SQL, schema)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _downgrade_postgresql()
    with op.batch_alter_table("tenant_clock") as batch:
        for column in ("block_ticket", "block_start", "block_owner"):
            batch.drop_column(column)


def _downgrade_postgresql() -> None:
    schema = _schema()
    _sql(
        f"""
DO $$
BEGIN
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO PUBLIC', current_database());
END $$;
GRANT INSERT ON @s.institutions TO {SUPER_ADMIN};
GRANT UPDATE (name, registration_number, address, contact_email, contact_phone, super_admin_id, settings,
              updated_at, row_version, deleted_at) ON @s.institutions TO {SUPER_ADMIN};
GRANT INSERT, UPDATE ON @s.sponsors, @s.cohorts TO {SUPER_ADMIN};
GRANT INSERT, UPDATE ON @s.sync_device, @s.sync_conflict TO {SUPER_ADMIN};
GRANT UPDATE ON @s.sync_id_reservation TO {SUPER_ADMIN};
""",
        schema,
    )
    for table in ("sponsors", "cohorts", "sync_conflict"):
        _sql(
            f"""
DO $$
DECLARE v_sequence text := pg_get_serial_sequence('@s.{table}', 'id');
BEGIN
  IF v_sequence IS NOT NULL THEN
    EXECUTE format('GRANT USAGE ON SEQUENCE %s TO {SUPER_ADMIN}', v_sequence);
  END IF;
END $$""",
            schema,
        )
    for function in (*PUBLIC_FUNCTIONS, *reversed(INNER_FUNCTIONS)):
        _sql(f"DROP FUNCTION IF EXISTS @s.{function}", schema)
    # The user functions keep their newer bodies minus the calls into the helpers dropped here.
    _sql(
        ADMIN_SQL.replace("  PERFORM @s.cohortdesk_login_setup(p_login);\n", "").replace(
            "    PERFORM @s.cohortdesk_login_teardown(p_login);\n", ""
        ),
        schema,
    )
    _sql("DROP FUNCTION IF EXISTS @s.cohortdesk_login_setup(text)", schema)
    _sql("DROP FUNCTION IF EXISTS @s.cohortdesk_login_teardown(text)", schema)
    _sql(BLOCK_STAMP_FUNCTION, schema)
    _sql(
        """
DROP SEQUENCE IF EXISTS @s.cohortdesk_stamp_ticket;
""",
        schema,
    )
