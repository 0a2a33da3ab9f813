"""Special personal information closed at the source; the access log written only by what it logs;
per-institution notification channels; references checked by the database; one login per person.

On both backends: at most one **active** login per DocuSeal user (a partial unique index on
``cohortdesk_users.user_id``), so no second login can act in a colleague's name.

On PostgreSQL only (SQLite is one person's own file):

* **No login reads special personal information from any table or view.** The three groups lose
  table-level ``SELECT`` on ``cohort_enrollments`` and get column ``SELECT`` on every column except
  ``student_data`` and ``uploaded_documents``. They read enrollments through the view
  ``cohortdesk_docuseal.cohort_enrollments`` (first on every login's ``search_path``, like the DocuSeal
  views, so every unqualified ORM, Core or SQL read keeps working): the same columns, ``security_barrier``,
  run as the owner so the table's forced row-level security applies, with ``student_data`` masked by
  ``cohortdesk_mask_student_data`` (race and disability ``••••••``, ID and alternate ID numbers
  ``800101*****87``, exactly what ``privacy.masked_student_data`` shows) and ``uploaded_documents``
  without the ``storage_key`` of disability and medical documents (``cohortdesk_mask_documents``). The
  blobs view hides those documents' keys too, ``sync_conflict`` masks the server values it records and
  ``cohortdesk_sync_lock`` (a push's locked read) returns enrollments masked to logins.
  ``cohortdesk_define_enrollment_view()`` (owner only) rebuilds the view and the column grants from the
  table's current columns: a later migration adding a column to ``cohort_enrollments`` calls it.
* **Writes keep working unchanged**: ``INSTEAD OF`` triggers on the view forward an unqualified
  ``INSERT``/``UPDATE`` to the table as the login itself (its table grants and policies decide), and a
  ``BEFORE UPDATE`` trigger on the table keeps the stored value of a special key (and a special
  document's ``storage_key``) that comes back in its masked form: a read-modify-write of masked data
  never destroys the real values, whoever writes.
* **Reading the values is one logged call**: ``cohortdesk_reveal_special_pi(enrollment, purpose)``
  (capability ``special_pi``, one visible enrollment, writes the access log, returns the values);
  ``cohortdesk_export_special_pi(cohort_ids, purpose, details)`` (the same gate for an export: the log
  entry and the values of the visible live enrollments of those cohorts); ``cohortdesk_fetch_document(
  enrollment, document_type, purpose)`` (a visible enrollment's document entry with its storage key,
  health documents only with ``special_pi``, logged as a ``document_view``);
  ``cohortdesk_log_export(purpose, object_table, object_id, details)`` (an export without special PI:
  role allowed to export, purpose given, every cohort named visible). ``cohortdesk_log_access`` is no
  longer executable by the application groups: no free-form entries.
* **Notifications**: the queue triggers publish on ``cohortdesk_queue_<32 hex>``, one channel per
  account whose name is derived from a server secret (``cohortdesk_secrets``, readable by the owner only);
  ``cohortdesk_queue_channels()`` tells a login its own channel (a privileged session: one that repeats
  every account's),
  and each payload carries only that account's identifiers. Another institution's logins can neither
  guess nor learn the name, so they receive nothing; a forged notification on one's own channel costs a
  refresh.
* **References belong to the writer's account, whoever writes**: an institution's ``super_admin_id``
  is a user of its account; an enrollment's ``user_id``, ``cohort_id``, ``submission_id`` and
  ``supporting_submission_ids`` are of its account; a storage key it gains is neither attached to
  another account's DocuSeal record nor placed first by another account (``cohortdesk_storage_key_owners``,
  the owner's own table: the definer checks cannot see other accounts' enrollments through their
  forced row-level security). The triggers fire only when a reference column is written.
* Helpers for the workstation on masked data: ``cohortdesk_sa_id_facts(enrollment)`` (what the full
  ID number encodes: sex, citizenship digit, check digit) and ``cohortdesk_enrollments_with_id_number``
  (a whole number the searcher typed, for holders of ``special_pi`` only: the masked form hides five
  digits, so anyone else could loop over the guesses).

Revision ID: 0016_special_pi_closed
Revises: 0015_decision_functions
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_special_pi_closed"
down_revision = "0015_decision_functions"
branch_labels = None
depends_on = None

OWNER = "cohortdesk_owner"
SUPER_ADMIN = "cohortdesk_super_admin"
OFFICER = "cohortdesk_officer"
REPORT_VIEWER = "cohortdesk_report_viewer"
GROUPS = f"{SUPER_ADMIN}, {OFFICER}, {REPORT_VIEWER}"
VIEW_SCHEMA = "cohortdesk_docuseal"
#: ``student_data`` keys that are special personal information (or the ID numbers masked with it).
SPECIAL_KEYS = "ARRAY['race', 'disability', 'sa_id_number', 'alternate_id']"
#: Document types that are health information.
SPECIAL_DOCUMENTS = "ARRAY['disability_proof', 'disability', 'medical_certificate']"  # with the legacy key
EXPORT_PURPOSES = "ARRAY['seta_submission', 'sponsor_report', 'ee_report', 'internal_use']"
MASK = "••••••"

MASK_SQL = f"""
CREATE FUNCTION @s.cohortdesk_mask_id(p_number text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN length(v) <= 8 THEN repeat('*', length(v))
              ELSE left(v, 6) || repeat('*', length(v) - 8) || right(v, 2) END
    FROM (SELECT btrim(p_number, E' \\t\\r\\n') AS v) t
$$;
CREATE FUNCTION @s.cohortdesk_mask_student_data(p_data jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN jsonb_typeof(p_data) IS DISTINCT FROM 'object' THEN p_data ELSE
    p_data || coalesce((
      SELECT jsonb_object_agg(k, CASE WHEN k IN ('race', 'disability') THEN to_jsonb('{MASK}'::text)
                                      ELSE to_jsonb(@s.cohortdesk_mask_id(p_data ->> k)) END)
        FROM unnest({SPECIAL_KEYS}) k
       WHERE jsonb_typeof(p_data -> k) IS NOT NULL AND jsonb_typeof(p_data -> k) <> 'null'
         AND coalesce(p_data ->> k, '') <> ''
         AND NOT (k IN ('sa_id_number', 'alternate_id') AND p_data -> k IN ('false'::jsonb, '0'::jsonb))),
      '{{}}'::jsonb) END
$$;
CREATE FUNCTION @s.cohortdesk_mask_documents(p_documents jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN jsonb_typeof(p_documents) IS DISTINCT FROM 'object' THEN p_documents ELSE
    p_documents || coalesce((
      SELECT jsonb_object_agg(d.key, d.value - 'storage_key')
        FROM jsonb_each(p_documents) d
       WHERE d.key = ANY ({SPECIAL_DOCUMENTS}) AND jsonb_typeof(d.value) = 'object' AND d.value ? 'storage_key'),
      '{{}}'::jsonb) END
$$;
-- The storage keys an uploaded_documents object names (for the cross-account index and checks).
CREATE FUNCTION @s.cohortdesk_storage_keys(p_documents jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT coalesce(array_agg(d.value ->> 'storage_key') FILTER (WHERE d.value ->> 'storage_key' IS NOT NULL), '{{}}')
    FROM jsonb_each(CASE WHEN jsonb_typeof(p_documents) = 'object' THEN p_documents ELSE '{{}}'::jsonb END) d
   WHERE jsonb_typeof(d.value) = 'object'
$$;
-- The storage keys of health documents (hidden in the blobs view).
CREATE FUNCTION @s.cohortdesk_special_storage_keys(p_documents jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT coalesce(array_agg(d.value ->> 'storage_key') FILTER (WHERE d.value ->> 'storage_key' IS NOT NULL), '{{}}')
    FROM jsonb_each(CASE WHEN jsonb_typeof(p_documents) = 'object' THEN p_documents ELSE '{{}}'::jsonb END) d
   WHERE jsonb_typeof(d.value) = 'object' AND d.key = ANY ({SPECIAL_DOCUMENTS})
$$;
"""

KEEP_MASKED_SQL = f"""
-- A special value written back in its masked form means "unchanged": keep the stored one.
CREATE FUNCTION @s.cohortdesk_keep_masked_values() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_masked jsonb;
  v_key text;
  v_doc text;
BEGIN
  IF jsonb_typeof(NEW.student_data) = 'object' AND jsonb_typeof(OLD.student_data) = 'object'
     AND NEW.student_data IS DISTINCT FROM OLD.student_data THEN
    v_masked := @s.cohortdesk_mask_student_data(OLD.student_data);
    FOREACH v_key IN ARRAY {SPECIAL_KEYS} LOOP
      IF (v_masked -> v_key) IS DISTINCT FROM (OLD.student_data -> v_key)
         AND (NEW.student_data -> v_key) = (v_masked -> v_key) THEN
        NEW.student_data := jsonb_set(NEW.student_data, ARRAY[v_key], OLD.student_data -> v_key);
      END IF;
    END LOOP;
  END IF;
  IF jsonb_typeof(NEW.uploaded_documents) = 'object' AND jsonb_typeof(OLD.uploaded_documents) = 'object'
     AND NEW.uploaded_documents IS DISTINCT FROM OLD.uploaded_documents THEN
    FOREACH v_doc IN ARRAY {SPECIAL_DOCUMENTS} LOOP
      IF jsonb_typeof(NEW.uploaded_documents -> v_doc) = 'object'
         AND NOT (NEW.uploaded_documents -> v_doc) ? 'storage_key'
         AND (OLD.uploaded_documents -> v_doc ->> 'storage_key') IS NOT NULL
         AND (NEW.uploaded_documents -> v_doc ->> 'checksum')
             IS NOT DISTINCT FROM (OLD.uploaded_documents -> v_doc ->> 'checksum') THEN
        NEW.uploaded_documents := jsonb_set(NEW.uploaded_documents, ARRAY[v_doc, 'storage_key'],
                                            OLD.uploaded_documents -> v_doc -> 'storage_key');
      END IF;
    END LOOP;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER cohort_enrollments_keep_masked BEFORE UPDATE OF student_data, uploaded_documents
  ON @s.cohort_enrollments FOR EACH ROW EXECUTE FUNCTION @s.cohortdesk_keep_masked_values();
"""

VIEW_SQL = f"""
-- Unqualified INSERT/UPDATE of the view go to the table as the login itself (its grants and policies).
CREATE FUNCTION @s.cohortdesk_enrollment_write_through() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_new jsonb := to_jsonb(NEW);
  v_old jsonb;
  v_columns text;
  v_id bigint;
  v_count integer;
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT string_agg(quote_ident(n.key), ', ') INTO v_columns
      FROM jsonb_each(v_new) n WHERE n.value <> 'null'::jsonb;
    EXECUTE format('INSERT INTO @s.cohort_enrollments (%1$s) SELECT %1$s '
                   'FROM jsonb_populate_record(NULL::@s.cohort_enrollments, $1) RETURNING id', v_columns)
      INTO v_id USING v_new;
  ELSE
    v_old := to_jsonb(OLD);
    v_id := OLD.id;
    SELECT string_agg(quote_ident(n.key), ', ') INTO v_columns
      FROM jsonb_each(v_new) n WHERE n.value IS DISTINCT FROM v_old -> n.key;
    IF v_columns IS NOT NULL THEN
      EXECUTE format('UPDATE @s.cohort_enrollments SET (%1$s) = (SELECT %1$s '
                     'FROM jsonb_populate_record(NULL::@s.cohort_enrollments, $1)) WHERE id = $2', v_columns)
        USING v_new, v_id;
      GET DIAGNOSTICS v_count = ROW_COUNT;
      IF v_count = 0 THEN
        RETURN NULL;
      END IF;
    END IF;
  END IF;
  SELECT v.* INTO NEW FROM {VIEW_SCHEMA}.cohort_enrollments v WHERE v.id = v_id;
  RETURN NEW;
END $$;

CREATE FUNCTION @s.cohortdesk_define_enrollment_view() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_select text;
  v_readable text;
  v_group text;
  v_privilege text;
  v_columns text;
BEGIN
  SELECT string_agg(CASE a.attname
                      WHEN 'student_data' THEN '@s.cohortdesk_mask_student_data(e.student_data) AS student_data'
                      WHEN 'uploaded_documents'
                        THEN '@s.cohortdesk_mask_documents(e.uploaded_documents) AS uploaded_documents'
                      ELSE 'e.' || quote_ident(a.attname) END, ', ' ORDER BY a.attnum),
         string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
           FILTER (WHERE a.attname NOT IN ('student_data', 'uploaded_documents'))
    INTO v_select, v_readable
    FROM pg_catalog.pg_attribute a
   WHERE a.attrelid = '@s.cohort_enrollments'::regclass AND a.attnum > 0 AND NOT a.attisdropped;
  EXECUTE format('CREATE OR REPLACE VIEW {VIEW_SCHEMA}.cohort_enrollments WITH (security_barrier = true) AS '
                 'SELECT %s FROM @s.cohort_enrollments e '
                 'WHERE e.account_id = (SELECT @s.cohortdesk_current_account())', v_select);
  ALTER VIEW {VIEW_SCHEMA}.cohort_enrollments OWNER TO {OWNER};
  REVOKE ALL ON {VIEW_SCHEMA}.cohort_enrollments FROM PUBLIC;
  GRANT SELECT ON {VIEW_SCHEMA}.cohort_enrollments TO {GROUPS};
  -- Writes through the view: exactly the columns each group may write in the table (what the
  -- write-through trigger then does as the login is checked against the table again).
  FOREACH v_group IN ARRAY ARRAY['{SUPER_ADMIN}', '{OFFICER}', '{REPORT_VIEWER}'] LOOP
    FOREACH v_privilege IN ARRAY ARRAY['INSERT', 'UPDATE'] LOOP
      SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO v_columns
        FROM pg_catalog.pg_attribute a
       WHERE a.attrelid = '@s.cohort_enrollments'::regclass AND a.attnum > 0 AND NOT a.attisdropped
         AND has_column_privilege(v_group, '@s.cohort_enrollments'::regclass, a.attnum, v_privilege);
      EXECUTE format('REVOKE %s ON {VIEW_SCHEMA}.cohort_enrollments FROM %I', v_privilege, v_group);
      IF v_columns IS NOT NULL THEN
        EXECUTE format('GRANT %s (%s) ON {VIEW_SCHEMA}.cohort_enrollments TO %I', v_privilege, v_columns, v_group);
      END IF;
    END LOOP;
  END LOOP;
  DROP TRIGGER IF EXISTS cohortdesk_write_through ON {VIEW_SCHEMA}.cohort_enrollments;
  CREATE TRIGGER cohortdesk_write_through INSTEAD OF INSERT OR UPDATE ON {VIEW_SCHEMA}.cohort_enrollments
    FOR EACH ROW EXECUTE FUNCTION @s.cohortdesk_enrollment_write_through();
  REVOKE SELECT ON @s.cohort_enrollments FROM {GROUPS};
  EXECUTE format('GRANT SELECT (%s) ON @s.cohort_enrollments TO {GROUPS}', v_readable);
END $$;
"""

# Health documents' keys are hidden in the blobs view (NULL); the rest as 0005 defined it.
BLOBS_VIEW_SQL = f"""
CREATE OR REPLACE VIEW {VIEW_SCHEMA}.active_storage_blobs WITH (security_barrier = true) AS
SELECT b.id,
       CASE WHEN b."key"::text IN (SELECT k FROM @s.cohort_enrollments e,
                                       unnest(@s.cohortdesk_special_storage_keys(e.uploaded_documents)) k
                                    WHERE e.account_id = (SELECT @s.cohortdesk_current_account()))
            THEN NULL ELSE b."key" END AS "key",
       b.filename, b.content_type, b.metadata, b.service_name, b.byte_size, b.checksum, b.uuid, b.created_at
  FROM @s.active_storage_blobs b
 WHERE b.id IN (SELECT a.blob_id FROM {VIEW_SCHEMA}.active_storage_attachments a)
    OR b."key"::text IN (SELECT k FROM @s.cohort_enrollments e, unnest(@s.cohortdesk_storage_keys(e.uploaded_documents)) k
                          WHERE e.account_id = (SELECT @s.cohortdesk_current_account()))
"""

BLOBS_VIEW_0005 = f"""
CREATE OR REPLACE VIEW {VIEW_SCHEMA}.active_storage_blobs WITH (security_barrier = true) AS
SELECT id, "key", filename, content_type, metadata, service_name, byte_size, checksum, uuid, created_at
  FROM @s.active_storage_blobs
 WHERE id IN (SELECT a.blob_id FROM {VIEW_SCHEMA}.active_storage_attachments a)
    OR "key" IN (SELECT d.value ->> 'storage_key' FROM @s.cohort_enrollments e
                  CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(e.uploaded_documents) = 'object'
                                                     THEN e.uploaded_documents ELSE '{{}}'::jsonb END) d
                  WHERE e.account_id = (SELECT @s.cohortdesk_current_account()))
"""

# Server values a sync conflict records are masked like every read (mine and base came from the laptop).
SYNC_CONFLICT_SQL = f"""
CREATE FUNCTION @s.cohortdesk_mask_conflict() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_key text;
BEGIN
  IF NEW.table_name <> 'cohort_enrollments' THEN
    RETURN NEW;
  END IF;
  IF NEW.field IS NULL THEN
    IF jsonb_typeof(NEW.theirs) = 'object' THEN
      IF NEW.theirs ? 'student_data' THEN
        NEW.theirs := jsonb_set(NEW.theirs, '{{student_data}}', @s.cohortdesk_mask_student_data(NEW.theirs -> 'student_data'));
      END IF;
      IF NEW.theirs ? 'uploaded_documents' THEN
        NEW.theirs := jsonb_set(NEW.theirs, '{{uploaded_documents}}',
                                @s.cohortdesk_mask_documents(NEW.theirs -> 'uploaded_documents'));
      END IF;
    END IF;
  ELSIF NEW.field = 'student_data' THEN
    NEW.theirs := @s.cohortdesk_mask_student_data(NEW.theirs);
  ELSIF NEW.field = 'uploaded_documents' THEN
    NEW.theirs := @s.cohortdesk_mask_documents(NEW.theirs);
  ELSIF NEW.field LIKE 'student\\_data.%' THEN
    v_key := substr(NEW.field, length('student_data.') + 1);
    IF v_key = ANY ({SPECIAL_KEYS}) AND NEW.theirs IS NOT NULL THEN
      NEW.theirs := @s.cohortdesk_mask_student_data(jsonb_build_object(v_key, NEW.theirs)) -> v_key;
    END IF;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER sync_conflict_mask BEFORE INSERT OR UPDATE ON @s.sync_conflict
  FOR EACH ROW EXECUTE FUNCTION @s.cohortdesk_mask_conflict();
"""

GATE_SQL = f"""
CREATE FUNCTION @s.cohortdesk_reveal_special_pi(p_enrollment_id bigint, p_purpose text) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_account bigint := @s.cohortdesk_current_account();
  v_data jsonb;
  v_fields text[];
  v_log bigint;
BEGIN
  IF v_account IS NULL OR NOT @s.cohortdesk_has_capability('special_pi') THEN
    RAISE EXCEPTION 'login % may not see special personal information', session_user
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF length(btrim(coalesce(p_purpose, ''))) < 3 THEN
    RAISE EXCEPTION 'say why you need to see this learner''s special personal information'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT e.student_data INTO v_data FROM @s.cohort_enrollments e
   WHERE e.id = p_enrollment_id AND e.account_id = v_account;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'there is no enrollment % in your institution', p_enrollment_id USING ERRCODE = 'no_data_found';
  END IF;
  IF jsonb_typeof(v_data) IS DISTINCT FROM 'object' THEN
    v_data := '{{}}'::jsonb;
  END IF;
  v_fields := ARRAY(SELECT k FROM unnest({SPECIAL_KEYS}) k WHERE coalesce(v_data ->> k, '') <> '');
  INSERT INTO @s.cohortdesk_access_log (at, actor, user_id, client_addr, account_id, kind, object_table,
                                        object_id, purpose, details)
  VALUES (now(), session_user, @s.cohortdesk_current_user_id(), host(inet_client_addr()), v_account,
          'special_pi_reveal', 'cohort_enrollments', p_enrollment_id, btrim(p_purpose),
          jsonb_build_object('fields', to_jsonb(v_fields)))
  RETURNING id INTO v_log;
  RETURN jsonb_build_object(
    'log_id', v_log, 'fields', to_jsonb(v_fields),
    'values', coalesce((SELECT jsonb_object_agg(k, v_data -> k) FROM unnest(v_fields) k), '{{}}'::jsonb));
END $$;

CREATE FUNCTION @s.cohortdesk_fetch_document(p_enrollment_id bigint, p_document_type text,
                                             p_purpose text DEFAULT 'verification') RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_account bigint := @s.cohortdesk_current_account();
  v_documents jsonb;
  v_entry jsonb;
  v_log bigint;
BEGIN
  IF v_account IS NULL THEN
    RAISE EXCEPTION 'login % is not a CohortDesk user of this database', session_user
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  SELECT e.uploaded_documents INTO v_documents FROM @s.cohort_enrollments e
   WHERE e.id = p_enrollment_id AND e.account_id = v_account;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'there is no enrollment % in your institution', p_enrollment_id USING ERRCODE = 'no_data_found';
  END IF;
  v_entry := CASE WHEN jsonb_typeof(v_documents) = 'object' THEN v_documents -> p_document_type END;
  IF jsonb_typeof(v_entry) IS DISTINCT FROM 'object' THEN
    RAISE EXCEPTION 'enrollment % has no % uploaded', p_enrollment_id, p_document_type
      USING ERRCODE = 'no_data_found';
  END IF;
  IF p_document_type = ANY ({SPECIAL_DOCUMENTS}) AND NOT @s.cohortdesk_has_capability('special_pi') THEN
    RAISE EXCEPTION 'login % may not open health documents (special personal information)', session_user
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  INSERT INTO @s.cohortdesk_access_log (at, actor, user_id, client_addr, account_id, kind, object_table,
                                        object_id, purpose, details)
  VALUES (now(), session_user, @s.cohortdesk_current_user_id(), host(inet_client_addr()), v_account,
          'document_view', 'cohort_enrollments', p_enrollment_id,
          coalesce(nullif(btrim(p_purpose), ''), 'verification'),
          jsonb_build_object('document_type', p_document_type))
  RETURNING id INTO v_log;
  RETURN jsonb_build_object('log_id', v_log, 'entry', v_entry);
END $$;

-- What an enrollment's SA ID number says besides its digits (its masked form keeps the birth date):
-- sex, citizenship digit, check digit and position 12, so the ID check works on masked data.
CREATE FUNCTION @s.cohortdesk_sa_id_facts(p_enrollment_id bigint) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN v ~ '^[0-9]{{13}}$' THEN jsonb_build_object(
           'digits', true,
           'sex', CASE WHEN substr(v, 7, 4)::int < 5000 THEN 'F' ELSE 'M' END,
           'citizenship_digit', substr(v, 11, 1),
           'position_12', substr(v, 12, 1),
           'checksum_valid', (SELECT sum(CASE WHEN i % 2 = 0 THEN (d * 2) / 10 + (d * 2) % 10 ELSE d END) % 10 = 0
                                FROM (SELECT i, substr(v, 14 - i, 1)::int AS d FROM generate_series(1, 13) i) t))
         ELSE jsonb_build_object('digits', false) END
    FROM (SELECT replace(btrim(e.student_data ->> 'sa_id_number'), ' ', '') AS v
            FROM @s.cohort_enrollments e
           WHERE e.id = p_enrollment_id AND e.account_id = @s.cohortdesk_current_account()) n
   WHERE v IS NOT NULL AND v <> ''
$$;

-- Search by a whole ID number the searcher already holds (the masked column cannot match it): the
-- login's own institution's enrollments whose ID or alternate ID number is exactly that. Only for
-- holders of special_pi: the masked form shows all but five digits, so without the capability a loop
-- over 100,000 guesses would recover a number.
CREATE FUNCTION @s.cohortdesk_enrollments_with_id_number(p_number text) RETURNS SETOF bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT e.id FROM @s.cohort_enrollments e
   WHERE e.account_id = @s.cohortdesk_current_account()
     AND @s.cohortdesk_has_capability('special_pi')
     AND length(btrim(p_number)) >= 6
     AND (e.student_data ->> 'sa_id_number' = btrim(p_number) OR e.student_data ->> 'alternate_id' = btrim(p_number))
$$;

-- The checks every export entry passes: a role that exports, a purpose, cohorts of one's institution.
CREATE FUNCTION @s.cohortdesk_check_export(p_purpose text, p_object_table text, p_object_id bigint,
                                           p_cohort_ids bigint[])
RETURNS bigint LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_account bigint := @s.cohortdesk_current_account();
BEGIN
  IF v_account IS NULL OR @s.cohortdesk_current_role() NOT IN ('super_admin', 'officer', 'report_viewer') THEN
    RAISE EXCEPTION 'login % may not export reports', session_user USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF length(btrim(coalesce(p_purpose, ''))) = 0 THEN
    RAISE EXCEPTION 'say what the export is for' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_object_table IS NOT NULL AND (p_object_table <> 'cohorts' OR p_object_id IS NULL) THEN
    RAISE EXCEPTION 'an export covers cohorts' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF EXISTS (SELECT 1 FROM unnest(coalesce(p_cohort_ids, '{{}}') || p_object_id) c(id)
              WHERE c.id IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM @s.cohorts k WHERE k.id = c.id AND k.account_id = v_account)) THEN
    RAISE EXCEPTION 'an export may cover only cohorts of your institution' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN v_account;
END $$;

CREATE FUNCTION @s.cohortdesk_log_export(p_purpose text, p_object_table text, p_object_id bigint, p_details jsonb)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_details jsonb := CASE WHEN jsonb_typeof(p_details) = 'object' THEN p_details ELSE '{{}}'::jsonb END;
  v_cohorts bigint[];
  v_account bigint;
  v_id bigint;
BEGIN
  v_cohorts := ARRAY(SELECT jsonb_array_elements_text(CASE WHEN jsonb_typeof(v_details #> '{{filters,cohort_ids}}') = 'array'
                                                         THEN v_details #> '{{filters,cohort_ids}}' ELSE '[]' END)::bigint);
  v_account := @s.cohortdesk_check_export(p_purpose, p_object_table, p_object_id, v_cohorts);
  IF (v_details ->> 'special_pi')::boolean IS TRUE AND NOT @s.cohortdesk_has_capability('special_pi') THEN
    RAISE EXCEPTION 'login % may not export special personal information', session_user
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  INSERT INTO @s.cohortdesk_access_log (at, actor, user_id, client_addr, account_id, kind, object_table,
                                        object_id, purpose, details)
  VALUES (now(), session_user, @s.cohortdesk_current_user_id(), host(inet_client_addr()), v_account,
          'export', p_object_table, p_object_id, btrim(p_purpose), v_details)
  RETURNING id INTO v_id;
  RETURN v_id;
END $$;

CREATE FUNCTION @s.cohortdesk_export_special_pi(p_cohort_ids bigint[], p_purpose text, p_details jsonb)
RETURNS TABLE (enrollment_id bigint, race text, disability text, sa_id_number text, alternate_id text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_account bigint;
  v_rows bigint;
  v_details jsonb := CASE WHEN jsonb_typeof(p_details) = 'object' THEN p_details ELSE '{{}}'::jsonb END;
BEGIN
  IF coalesce(cardinality(p_cohort_ids), 0) = 0 THEN
    RAISE EXCEPTION 'name the cohorts to export' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  v_account := @s.cohortdesk_check_export(p_purpose, NULL, NULL, p_cohort_ids);
  IF NOT @s.cohortdesk_has_capability('special_pi') THEN
    RAISE EXCEPTION 'login % may not export special personal information', session_user
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  SELECT count(*) INTO v_rows FROM @s.cohort_enrollments e
   WHERE e.account_id = v_account AND e.cohort_id = ANY (p_cohort_ids) AND e.deleted_at IS NULL;
  INSERT INTO @s.cohortdesk_access_log (at, actor, user_id, client_addr, account_id, kind, object_table,
                                        object_id, purpose, details)
  VALUES (now(), session_user, @s.cohortdesk_current_user_id(), host(inet_client_addr()), v_account,
          'export', 'cohorts', CASE WHEN cardinality(p_cohort_ids) = 1 THEN p_cohort_ids[1] END, btrim(p_purpose),
          v_details || jsonb_build_object('special_pi', true, 'enrollments', v_rows,
                                          'cohort_ids', to_jsonb(p_cohort_ids)));
  RETURN QUERY
    SELECT e.id, e.student_data ->> 'race', e.student_data ->> 'disability',
           e.student_data ->> 'sa_id_number', e.student_data ->> 'alternate_id'
      FROM @s.cohort_enrollments e
     WHERE e.account_id = v_account AND e.cohort_id = ANY (p_cohort_ids) AND e.deleted_at IS NULL
       AND jsonb_typeof(e.student_data) = 'object';
END $$;
"""

GATE_FUNCTIONS = (
    "cohortdesk_reveal_special_pi(bigint, text)",
    "cohortdesk_sa_id_facts(bigint)",
    "cohortdesk_enrollments_with_id_number(text)",
    "cohortdesk_fetch_document(bigint, text, text)",
    "cohortdesk_log_export(text, text, bigint, jsonb)",
    "cohortdesk_export_special_pi(bigint[], text, jsonb)",
)
INTERNAL_FUNCTIONS = (
    "cohortdesk_check_export(text, text, bigint, bigint[])",
    "cohortdesk_keep_masked_values()",
    "cohortdesk_enrollment_write_through()",
    "cohortdesk_define_enrollment_view()",
    "cohortdesk_mask_conflict()",
    "cohortdesk_queue_channel_of(bigint)",
    "cohortdesk_check_enrollment_references()",
    "cohortdesk_check_institution_references()",
)
PURE_FUNCTIONS = (
    "cohortdesk_mask_id(text)",
    "cohortdesk_mask_student_data(jsonb)",
    "cohortdesk_mask_documents(jsonb)",
    "cohortdesk_storage_keys(jsonb)",
    "cohortdesk_special_storage_keys(jsonb)",
)

CHANNEL_SQL = """
CREATE TABLE @s.cohortdesk_secrets (name text PRIMARY KEY, value text NOT NULL);
ALTER TABLE @s.cohortdesk_secrets OWNER TO cohortdesk_owner;
ALTER TABLE @s.cohortdesk_secrets ENABLE ROW LEVEL SECURITY;
ALTER TABLE @s.cohortdesk_secrets FORCE ROW LEVEL SECURITY;
REVOKE ALL ON @s.cohortdesk_secrets FROM PUBLIC;
CREATE POLICY cohortdesk_owner_all ON @s.cohortdesk_secrets FOR ALL TO cohortdesk_owner USING (true) WITH CHECK (true);
INSERT INTO @s.cohortdesk_secrets (name, value)
VALUES ('queue_channel', replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''));

-- One account's queue channel: unguessable without the secret, the same for every session.
CREATE FUNCTION @s.cohortdesk_queue_channel_of(p_account bigint) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT 'cohortdesk_queue_' || md5(s.value || ':' || coalesce(p_account::text, 'all'))
    FROM @s.cohortdesk_secrets s WHERE s.name = 'queue_channel'
$$;
-- The channels this session may listen on: its own account's; a privileged session (maintenance,
-- which reads every institution anyway) gets the channel that repeats every account's notifications
-- (NULL stands for it).
CREATE FUNCTION @s.cohortdesk_queue_channels() RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT @s.cohortdesk_queue_channel_of(@s.cohortdesk_current_account())
   WHERE @s.cohortdesk_current_account() IS NOT NULL
  UNION ALL
  SELECT @s.cohortdesk_queue_channel_of(NULL)
   WHERE @s.cohortdesk_current_account() IS NULL AND @s.cohortdesk_session_is_privileged()
$$;

-- Identifiers only, and each account's only on that account's channel.
CREATE OR REPLACE FUNCTION @s.cohortdesk_notify_queue() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_all jsonb;
  v_account bigint;
  n integer;
  items jsonb;
  payload text;
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT jsonb_agg(jsonb_build_array(r.account_id, r.id, r.cohort_id, r.row_version)) INTO v_all FROM new_rows r;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT jsonb_agg(jsonb_build_array(r.account_id, r.id, r.cohort_id, r.row_version)) INTO v_all FROM old_rows r;
  ELSE
    SELECT jsonb_agg(jsonb_build_array(r.account_id, r.id, r.cohort_id, r.row_version)) INTO v_all
      FROM new_rows r JOIN old_rows o ON o.id = r.id
     WHERE r.row_version IS DISTINCT FROM o.row_version
        OR r.claim_token IS DISTINCT FROM o.claim_token
        OR r.document_verification_state IS DISTINCT FROM o.document_verification_state
        OR r.state IS DISTINCT FROM o.state
        OR r.cohort_id IS DISTINCT FROM o.cohort_id;
  END IF;
  IF v_all IS NULL THEN
    RETURN NULL;
  END IF;
  FOR v_account, n, items IN
    SELECT (e ->> 0)::bigint, count(*), jsonb_agg(e ORDER BY (e ->> 1)::bigint)
      FROM jsonb_array_elements(v_all) e GROUP BY 1
  LOOP
    payload := jsonb_build_object('table', TG_TABLE_NAME, 'op', lower(TG_OP), 'items', items)::text;
    IF octet_length(payload) > 7500 THEN
      payload := jsonb_build_object(
        'table', TG_TABLE_NAME, 'op', lower(TG_OP), 'bulk', true, 'count', n,
        'accounts', jsonb_build_array(v_account),
        'cohorts', (SELECT jsonb_agg(DISTINCT e -> 2) FROM jsonb_array_elements(items) e))::text;
      IF octet_length(payload) > 7500 THEN
        payload := jsonb_build_object('table', TG_TABLE_NAME, 'op', lower(TG_OP), 'bulk', true, 'count', n,
                                      'accounts', jsonb_build_array(v_account))::text;
      END IF;
    END IF;
    PERFORM pg_notify(@s.cohortdesk_queue_channel_of(v_account), payload);
    PERFORM pg_notify(@s.cohortdesk_queue_channel_of(NULL), payload);
  END LOOP;
  RETURN NULL;
END $$;
"""

REFERENCES_SQL = """
-- Which account first placed a storage key in an enrollment (forced RLS, the owner's alone): the
-- definer checks below see every account's keys through it, which they cannot through the enrollments.
CREATE TABLE @s.cohortdesk_storage_key_owners (storage_key text PRIMARY KEY, account_id bigint NOT NULL);
ALTER TABLE @s.cohortdesk_storage_key_owners OWNER TO cohortdesk_owner;
ALTER TABLE @s.cohortdesk_storage_key_owners ENABLE ROW LEVEL SECURITY;
ALTER TABLE @s.cohortdesk_storage_key_owners FORCE ROW LEVEL SECURITY;
REVOKE ALL ON @s.cohortdesk_storage_key_owners FROM PUBLIC;
CREATE POLICY cohortdesk_owner_all ON @s.cohortdesk_storage_key_owners FOR ALL TO cohortdesk_owner
  USING (true) WITH CHECK (true);
INSERT INTO @s.cohortdesk_storage_key_owners (storage_key, account_id)
SELECT k, min(e.account_id) FROM @s.cohort_enrollments e, unnest(@s.cohortdesk_storage_keys(e.uploaded_documents)) k
 GROUP BY k;

CREATE FUNCTION @s.cohortdesk_check_enrollment_references() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_old_keys text[] := '{}';
  v_key text;
  v_owner bigint;
  v_submission text;
BEGIN
  IF TG_OP = 'UPDATE' THEN
    v_old_keys := @s.cohortdesk_storage_keys(OLD.uploaded_documents);
  END IF;
  IF (TG_OP = 'INSERT' OR NEW.cohort_id IS DISTINCT FROM OLD.cohort_id OR NEW.account_id IS DISTINCT FROM OLD.account_id)
     AND NOT EXISTS (SELECT 1 FROM @s.cohorts c WHERE c.id = NEW.cohort_id AND c.account_id = NEW.account_id) THEN
    RAISE EXCEPTION 'cohort % is not a cohort of this enrollment''s institution', NEW.cohort_id
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF (TG_OP = 'INSERT' OR NEW.user_id IS DISTINCT FROM OLD.user_id OR NEW.account_id IS DISTINCT FROM OLD.account_id)
     AND NOT EXISTS (SELECT 1 FROM @s.users u WHERE u.id = NEW.user_id AND u.account_id = NEW.account_id) THEN
    RAISE EXCEPTION 'user % is not a person of this enrollment''s institution', NEW.user_id
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NEW.submission_id IS NOT NULL
     AND (TG_OP = 'INSERT' OR NEW.submission_id IS DISTINCT FROM OLD.submission_id
          OR NEW.account_id IS DISTINCT FROM OLD.account_id)
     AND NOT EXISTS (SELECT 1 FROM @s.submissions s WHERE s.id = NEW.submission_id AND s.account_id = NEW.account_id) THEN
    RAISE EXCEPTION 'submission % is not a submission of this enrollment''s institution', NEW.submission_id
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF jsonb_typeof(NEW.supporting_submission_ids) = 'array'
     AND (TG_OP = 'INSERT' OR NEW.supporting_submission_ids IS DISTINCT FROM OLD.supporting_submission_ids) THEN
    FOR v_submission IN SELECT jsonb_array_elements_text(NEW.supporting_submission_ids) LOOP
      IF v_submission !~ '^[0-9]{1,18}$' OR NOT EXISTS (
           SELECT 1 FROM @s.submissions s WHERE s.id = v_submission::bigint AND s.account_id = NEW.account_id) THEN
        RAISE EXCEPTION 'supporting submission % is not a submission of this enrollment''s institution', v_submission
          USING ERRCODE = 'insufficient_privilege';
      END IF;
    END LOOP;
  END IF;
  FOREACH v_key IN ARRAY @s.cohortdesk_storage_keys(NEW.uploaded_documents) LOOP
    CONTINUE WHEN v_key = ANY (v_old_keys);
    IF EXISTS (
      SELECT 1 FROM @s.active_storage_blobs b JOIN @s.active_storage_attachments a ON a.blob_id = b.id
       WHERE b."key" = v_key
         AND NEW.account_id IS DISTINCT FROM CASE a.record_type
               WHEN 'Submitter' THEN (SELECT x.account_id FROM @s.submitters x WHERE x.id = a.record_id)
               WHEN 'Submission' THEN (SELECT x.account_id FROM @s.submissions x WHERE x.id = a.record_id)
               WHEN 'Template' THEN (SELECT x.account_id FROM @s.templates x WHERE x.id = a.record_id)
               WHEN 'User' THEN (SELECT x.account_id FROM @s.users x WHERE x.id = a.record_id)
               WHEN 'Account' THEN a.record_id
             END) THEN
      RAISE EXCEPTION 'storage key % belongs to a document of another institution', v_key
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO @s.cohortdesk_storage_key_owners (storage_key, account_id) VALUES (v_key, NEW.account_id)
      ON CONFLICT (storage_key) DO NOTHING;
    SELECT o.account_id INTO v_owner FROM @s.cohortdesk_storage_key_owners o WHERE o.storage_key = v_key;
    IF v_owner IS DISTINCT FROM NEW.account_id THEN
      RAISE EXCEPTION 'storage key % belongs to a document of another institution', v_key
        USING ERRCODE = 'insufficient_privilege';
    END IF;
  END LOOP;
  RETURN NEW;
END $$;
-- Only when a reference can change: decisions and claims (the hot path) never fire it.
CREATE TRIGGER cohort_enrollments_references
  BEFORE INSERT OR UPDATE OF account_id, cohort_id, user_id, submission_id, supporting_submission_ids,
                             uploaded_documents
  ON @s.cohort_enrollments FOR EACH ROW EXECUTE FUNCTION @s.cohortdesk_check_enrollment_references();

CREATE FUNCTION @s.cohortdesk_check_institution_references() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF NEW.super_admin_id IS NOT NULL
     AND (TG_OP = 'INSERT' OR NEW.super_admin_id IS DISTINCT FROM OLD.super_admin_id
          OR NEW.account_id IS DISTINCT FROM OLD.account_id)
     AND NOT EXISTS (SELECT 1 FROM @s.users u WHERE u.id = NEW.super_admin_id AND u.account_id = NEW.account_id) THEN
    RAISE EXCEPTION 'user % is not a person of this institution''s account', NEW.super_admin_id
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER institutions_references BEFORE INSERT OR UPDATE OF account_id, super_admin_id ON @s.institutions
  FOR EACH ROW EXECUTE FUNCTION @s.cohortdesk_check_institution_references();
"""

# 0006's queue notification, restored by the downgrade.
NOTIFY_0006 = """
CREATE OR REPLACE FUNCTION @s.cohortdesk_notify_queue() RETURNS trigger
LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog, public AS $$
DECLARE
  n integer;
  items jsonb;
  payload text;
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT count(*), jsonb_agg(jsonb_build_array(r.account_id, r.id, r.cohort_id, r.row_version) ORDER BY r.id)
      INTO n, items FROM new_rows r;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT count(*), jsonb_agg(jsonb_build_array(r.account_id, r.id, r.cohort_id, r.row_version) ORDER BY r.id)
      INTO n, items FROM old_rows r;
  ELSE
    SELECT count(*), jsonb_agg(jsonb_build_array(r.account_id, r.id, r.cohort_id, r.row_version) ORDER BY r.id)
      INTO n, items
      FROM new_rows r JOIN old_rows o ON o.id = r.id
     WHERE r.row_version IS DISTINCT FROM o.row_version
        OR r.claim_token IS DISTINCT FROM o.claim_token
        OR r.document_verification_state IS DISTINCT FROM o.document_verification_state
        OR r.state IS DISTINCT FROM o.state
        OR r.cohort_id IS DISTINCT FROM o.cohort_id;
  END IF;
  IF n = 0 THEN
    RETURN NULL;
  END IF;
  payload := jsonb_build_object('table', TG_TABLE_NAME, 'op', lower(TG_OP), 'items', items)::text;
  IF octet_length(payload) > 7500 THEN
    payload := jsonb_build_object(
      'table', TG_TABLE_NAME, 'op', lower(TG_OP), 'bulk', true, 'count', n,
      'accounts', (SELECT jsonb_agg(DISTINCT e->0) FROM jsonb_array_elements(items) e),
      'cohorts', (SELECT jsonb_agg(DISTINCT e->2) FROM jsonb_array_elements(items) e))::text;
    IF octet_length(payload) > 7500 THEN
      payload := jsonb_build_object(
        'table', TG_TABLE_NAME, 'op', lower(TG_OP), 'bulk', true, 'count', n,
        'accounts', (SELECT jsonb_agg(DISTINCT e->0) FROM jsonb_array_elements(items) e))::text;
    END IF;
  END IF;
  PERFORM pg_notify('cohortdesk_queue', payload);
  RETURN NULL;
END $$;
"""

# The sync push's locked read (0013) returns enrollments masked to logins; the downgrade restores it.
SYNC_LOCK_MASKED = """
CREATE OR REPLACE FUNCTION @s.cohortdesk_sync_lock(p_table text, p_ids bigint[])
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
    -- A laptop's push merges against what a login may read: special PI masked, like every read.
    RETURN QUERY SELECT CASE WHEN v_account IS NULL THEN to_jsonb(t)
                             ELSE to_jsonb(t) || jsonb_build_object(
                                    'student_data', @s.cohortdesk_mask_student_data(t.student_data),
                                    'uploaded_documents', @s.cohortdesk_mask_documents(t.uploaded_documents)) END
      FROM @s.cohort_enrollments t
      WHERE t.id = ANY (p_ids) AND (v_privileged OR t.account_id = v_account) ORDER BY t.id FOR UPDATE;
  ELSE
    RAISE EXCEPTION '% is not a synced table', p_table USING ERRCODE = 'invalid_parameter_value';
  END IF;
END $$;
"""
SYNC_LOCK_0013 = """
CREATE OR REPLACE FUNCTION @s.cohortdesk_sync_lock(p_table text, p_ids bigint[])
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
"""

LOG_ACCESS = "cohortdesk_log_access(text, text, bigint, text, jsonb)"
UNIQUE_LOGIN_INDEX = "ux_cohortdesk_users_active_user_id"


def _sql(statement: str) -> None:
    bind = op.get_bind()
    schema = str(bind.exec_driver_sql("SELECT current_schema()").scalar_one())
    op.execute(statement.replace("@s", bind.dialect.identifier_preparer.quote(schema)))


def upgrade() -> None:
    bind = op.get_bind()
    twice = (
        bind.execute(
            sa.text(
                "SELECT user_id FROM cohortdesk_users WHERE active GROUP BY user_id HAVING count(*) > 1 ORDER BY user_id"
            )
        )
        .scalars()
        .all()
    )
    if twice:
        raise RuntimeError(
            "These DocuSeal users have more than one active CohortDesk login: "
            + ", ".join(str(u) for u in twice)
            + ". Remove the extra logins (cohortdesk admin remove-user), then upgrade again."
        )
    op.create_index(
        UNIQUE_LOGIN_INDEX,
        "cohortdesk_users",
        ["user_id"],
        unique=True,
        postgresql_where=sa.text("active"),
        sqlite_where=sa.text("active"),
    )
    if bind.dialect.name != "postgresql":
        return
    _sql(MASK_SQL)
    _sql(KEEP_MASKED_SQL)
    _sql(VIEW_SQL)
    _sql(GATE_SQL)
    _sql(SYNC_CONFLICT_SQL)
    _sql(CHANNEL_SQL)
    _sql(REFERENCES_SQL)
    _sql(SYNC_LOCK_MASKED)
    for function in (*GATE_FUNCTIONS, *INTERNAL_FUNCTIONS, *PURE_FUNCTIONS, "cohortdesk_queue_channels()"):
        _sql(f"REVOKE ALL ON FUNCTION @s.{function} FROM PUBLIC")
        _sql(f"ALTER FUNCTION @s.{function} OWNER TO {OWNER}")
    for function in (*GATE_FUNCTIONS, *PURE_FUNCTIONS, "cohortdesk_queue_channels()"):
        _sql(f"GRANT EXECUTE ON FUNCTION @s.{function} TO {GROUPS}")
    _sql(f"REVOKE EXECUTE ON FUNCTION @s.{LOG_ACCESS} FROM {GROUPS}")
    _sql("SELECT @s.cohortdesk_define_enrollment_view()")
    _sql(BLOBS_VIEW_SQL)
    _sql(f"REVOKE ALL ON {VIEW_SCHEMA}.active_storage_blobs FROM PUBLIC")
    _sql(f"GRANT SELECT ON {VIEW_SCHEMA}.active_storage_blobs TO {GROUPS}")
    # Conflicts recorded before this revision may hold server values unmasked.
    _sql("UPDATE @s.sync_conflict SET theirs = theirs WHERE table_name = 'cohort_enrollments'")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        _sql(
            f"""
DROP TRIGGER IF EXISTS institutions_references ON @s.institutions;
DROP TRIGGER IF EXISTS cohort_enrollments_references ON @s.cohort_enrollments;
DROP TRIGGER IF EXISTS cohort_enrollments_keep_masked ON @s.cohort_enrollments;
DROP TRIGGER IF EXISTS sync_conflict_mask ON @s.sync_conflict;
DROP TABLE IF EXISTS @s.cohortdesk_storage_key_owners;
DROP VIEW IF EXISTS {VIEW_SCHEMA}.cohort_enrollments;
GRANT SELECT ON @s.cohort_enrollments TO {GROUPS};
GRANT EXECUTE ON FUNCTION @s.{LOG_ACCESS} TO {GROUPS};
"""
        )
        _sql(BLOBS_VIEW_0005)
        _sql(SYNC_LOCK_0013)
        _sql(NOTIFY_0006)
        _sql(f"ALTER FUNCTION @s.cohortdesk_notify_queue() OWNER TO {OWNER}")
        for function in (
            *GATE_FUNCTIONS,
            *INTERNAL_FUNCTIONS,
            "cohortdesk_queue_channels()",
            *reversed(PURE_FUNCTIONS),
        ):
            _sql(f"DROP FUNCTION IF EXISTS @s.{function}")
        _sql("DROP TABLE IF EXISTS @s.cohortdesk_secrets")
    op.drop_index(UNIQUE_LOGIN_INDEX, table_name="cohortdesk_users")
