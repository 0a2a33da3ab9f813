"""Decisions and review claims only through server functions; each decision says which login made it.

Both backends:

* ``document_verifications`` gains ``login`` (the database login that recorded the decision:
  ``session_user`` on PostgreSQL, ``local`` on the embedded store), ``internal_note`` (a review
  note for colleagues, never sent to the learner) and ``reverses_id``. An undo is a row of its own,
  ``action = 'reversal'`` pointing at the decision it takes back (at most one reversal per decision);
  nothing is ever updated or deleted. The verification state is derived from the latest decision per
  document that is not reversed and still concerns the file on record (its checksum).
* ``cohortdesk_install`` records ``undo_window_seconds`` (300) and ``claim_lease_max_seconds``
  (3600): how long an officer may undo their own last decision, and the longest review lease.

PostgreSQL (all ``SECURITY DEFINER``, owned by ``cohortdesk_owner``, ``search_path`` pinned, identity
from ``session_user`` through the ``cohortdesk_current_*`` helpers, time from the server clock):

* ``cohortdesk_record_decision(...) RETURNS jsonb``: approve, reject or undo under the caller's claim
  token and the pack's ``row_version``, honouring the idempotency key (a retry returns the first
  result), then derives the enrollment's ``document_verification_state`` and ``rejection_reason``,
  renews or gives back the claim and returns what the workstation redraws. The notification outbox
  (0011) and re-upload (0012) triggers fire as for any write.
* ``cohortdesk_claim_next``, ``cohortdesk_claim_one``, ``cohortdesk_renew_claim``,
  ``cohortdesk_release_claim``, ``cohortdesk_force_release_claim``: review leases on the database
  clock, never longer than ``claim_lease_max_seconds``, one running claim per login (taking a pack
  gives back any other the login holds).
* A session that bypasses row-level security anyway (superuser or BYPASSRLS: maintenance, tests) has
  no mapping row; it names the person it acts for in ``p_acting_user_id``. For an application login
  that argument must be empty or its own user.
* Application groups lose ``INSERT`` on ``document_verifications`` (and its sequence) and ``UPDATE``
  of ``document_verification_state``, ``rejection_reason`` and the claim columns of
  ``cohort_enrollments``; their policies for those writes go.

Revision ID: 0015_decision_functions
Revises: 0014_outbox_message_key_index
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_decision_functions"
down_revision = "0014_outbox_message_key_index"
branch_labels = None
depends_on = None

OWNER = "cohortdesk_owner"
SUPER_ADMIN = "cohortdesk_super_admin"
OFFICER = "cohortdesk_officer"
REPORT_VIEWER = "cohortdesk_report_viewer"
DECIDERS = f"{SUPER_ADMIN}, {OFFICER}"
UNDO_WINDOW_SECONDS = 300
CLAIM_LEASE_MAX_SECONDS = 3600
#: Columns only the decision and claim functions write.
DECISION_COLUMNS = (
    "document_verification_state",
    "rejection_reason",
    "claimed_by",
    "claimed_by_user_id",
    "claim_token",
    "claim_expires_at",
)
# Frozen copy of the document labels at the time of this revision (migrations never import app code).
DOCUMENT_LABELS = {
    "id_document": "Certified ID",
    "matric_certificate": "Matric certificate",
    "tertiary_qualification": "Tertiary qualification",
    "cv": "Curriculum vitae",
    "proof_of_residence": "Proof of residence",
    "bank_confirmation_letter": "Bank confirmation letter",
    "disability_proof": "Disability proof",
    "international_certificate": "International certificate",
}
LEGACY_DOCUMENT_KEYS = {
    "id": "id_document",
    "id_copy": "id_document",
    "matric": "matric_certificate",
    "residence": "proof_of_residence",
    "bank_letter": "bank_confirmation_letter",
    "disability": "disability_proof",
}

FUNCTIONS = {
    "cohortdesk_document_label(text)": None,
    "cohortdesk_acting_user(bigint)": None,
    "cohortdesk_lease_seconds(double precision)": None,
    "cohortdesk_derive_verification(bigint)": None,
    "cohortdesk_claim_json(bigint, double precision)": None,
    "cohortdesk_release_other_claims(bigint, bigint)": None,
    "cohortdesk_record_decision(bigint, text, text, text, text, text, text, bigint, text, boolean, "
    "double precision, jsonb, bigint, bigint)": DECIDERS,
    "cohortdesk_claim_next(bigint[], double precision, text, bigint, bigint)": DECIDERS,
    "cohortdesk_claim_one(bigint, double precision, text, bigint, bigint)": DECIDERS,
    "cohortdesk_renew_claim(bigint, text, double precision, bigint)": DECIDERS,
    "cohortdesk_release_claim(bigint, text, bigint)": DECIDERS,
    "cohortdesk_force_release_claim(bigint)": SUPER_ADMIN,
}

_DEFINER = "SECURITY DEFINER SET search_path = pg_catalog, pg_temp"


def _label_sql() -> str:
    legacy = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in LEGACY_DOCUMENT_KEYS.items())
    labels = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in DOCUMENT_LABELS.items())
    return f"""
CREATE FUNCTION @s.cohortdesk_document_label(p_type text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE k {labels}
         ELSE upper(left(replace(regexp_replace(k, '^custom_', ''), '_', ' '), 1))
              || lower(substr(replace(regexp_replace(k, '^custom_', ''), '_', ' '), 2)) END
    FROM (SELECT CASE p_type {legacy} ELSE p_type END AS k) t
$$;
"""


PG_FUNCTIONS = f"""
-- Who a write is made for: the login's own user; a session that bypasses row-level security anyway
-- (maintenance, tests) names the person. Raises for anybody who may not decide.
CREATE FUNCTION @s.cohortdesk_acting_user(p_acting_user_id bigint) RETURNS bigint
LANGUAGE plpgsql STABLE {_DEFINER} AS $$
DECLARE
  v_user bigint := @s.cohortdesk_current_user_id();
  v_role text := @s.cohortdesk_current_role();
BEGIN
  IF v_user IS NULL THEN
    IF NOT @s.cohortdesk_session_is_privileged() THEN
      RAISE EXCEPTION 'login % is not a CohortDesk user of this database', session_user
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF p_acting_user_id IS NULL THEN
      RAISE EXCEPTION 'a maintenance session must name the person it records a decision for'
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN p_acting_user_id;
  END IF;
  IF p_acting_user_id IS NOT NULL AND p_acting_user_id <> v_user THEN
    RAISE EXCEPTION 'login % records decisions and claims only in its own name', session_user
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF v_role IS DISTINCT FROM 'officer' AND v_role IS DISTINCT FROM 'super_admin' THEN
    RAISE EXCEPTION 'only verification officers and super admins review documents'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN v_user;
END $$;

-- A requested lease, bounded by the installation's maximum.
CREATE FUNCTION @s.cohortdesk_lease_seconds(p_lease double precision) RETURNS double precision
LANGUAGE plpgsql STABLE {_DEFINER} AS $$
DECLARE
  v_max double precision := coalesce((SELECT i.value::double precision FROM @s.cohortdesk_install i
                                       WHERE i.key = 'claim_lease_max_seconds'), {CLAIM_LEASE_MAX_SECONDS});
BEGIN
  IF p_lease IS NULL OR p_lease <= 0 OR p_lease = 'NaN'::double precision THEN
    RAISE EXCEPTION 'a review lease must last a positive number of seconds'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN least(p_lease, v_max);
END $$;

-- The verification state and rejection reason an enrollment's decisions add up to: per document the
-- latest decision that is not reversed and concerns the file on record (same checksum, or none
-- recorded); rejected if any of those is a rejection, verified if every required document's is an
-- approval, pending otherwise.
CREATE FUNCTION @s.cohortdesk_derive_verification(p_enrollment_id bigint, OUT state text, OUT reason text)
LANGUAGE plpgsql STABLE {_DEFINER} AS $$
DECLARE
  v_uploaded jsonb;
  v_required text[];
BEGIN
  SELECT CASE WHEN jsonb_typeof(e.uploaded_documents) = 'object' THEN e.uploaded_documents ELSE '{{}}' END,
         CASE WHEN jsonb_typeof(c.required_document_types) = 'array'
              THEN ARRAY(SELECT jsonb_array_elements_text(c.required_document_types)) ELSE '{{}}' END
    INTO v_uploaded, v_required
    FROM @s.cohort_enrollments e JOIN @s.cohorts c ON c.id = e.cohort_id
   WHERE e.id = p_enrollment_id;
  IF coalesce(cardinality(v_required), 0) = 0 THEN
    v_required := ARRAY(SELECT jsonb_object_keys(v_uploaded));
  END IF;
  WITH latest AS (
    SELECT DISTINCT ON (d.document_type) d.document_type, d.action, d.reason, d.metadata
      FROM @s.document_verifications d
     WHERE d.cohort_enrollment_id = p_enrollment_id AND d.action IN ('approved', 'rejected')
       AND NOT EXISTS (SELECT 1 FROM @s.document_verifications r WHERE r.reverses_id = d.id)
     ORDER BY d.document_type, d.created_at DESC, d.id DESC
  ), current_ AS (
    SELECT l.* FROM latest l
     WHERE (l.metadata ->> 'checksum') IS NULL OR NOT (v_uploaded ? l.document_type)
        OR (l.metadata ->> 'checksum') IS NOT DISTINCT FROM (v_uploaded -> l.document_type ->> 'checksum')
  )
  SELECT CASE
           WHEN bool_or(x.action = 'rejected') THEN 'rejected'
           WHEN cardinality(v_required) > 0 AND (SELECT count(*) FROM current_ a
                 WHERE a.action = 'approved' AND a.document_type = ANY (v_required)) = cardinality(v_required)
             THEN 'verified'
           ELSE 'pending' END,
         string_agg(@s.cohortdesk_document_label(x.document_type) || ': ' || x.reason, E'\\n'
                    ORDER BY x.document_type COLLATE "C") FILTER (WHERE x.action = 'rejected')
    INTO state, reason
    FROM current_ x;
  state := coalesce(state, 'pending');
END $$;

-- A claim as the functions return it.
CREATE FUNCTION @s.cohortdesk_claim_json(p_enrollment_id bigint, p_lease double precision) RETURNS jsonb
LANGUAGE sql STABLE {_DEFINER} AS $$
  SELECT jsonb_build_object('id', e.id, 'account_id', e.account_id, 'cohort_id', e.cohort_id,
                            'row_version', e.row_version, 'claim_token', e.claim_token,
                            'claim_expires_at', e.claim_expires_at, 'claimed_by', e.claimed_by,
                            'claimed_by_user_id', e.claimed_by_user_id, 'lease_seconds', p_lease)
    FROM @s.cohort_enrollments e WHERE e.id = p_enrollment_id
$$;

-- One running claim per login (and person, for maintenance sessions): give back the others.
CREATE FUNCTION @s.cohortdesk_release_other_claims(p_keep bigint, p_user bigint) RETURNS void
LANGUAGE sql {_DEFINER} AS $$
  UPDATE @s.cohort_enrollments e
     SET claimed_by = NULL, claimed_by_user_id = NULL, claim_token = NULL, claim_expires_at = NULL,
         row_version = e.row_version + 1
   WHERE e.claim_token IS NOT NULL AND e.claimed_by = session_user::text
     AND e.claimed_by_user_id IS NOT DISTINCT FROM p_user AND e.id IS DISTINCT FROM p_keep
$$;

CREATE FUNCTION @s.cohortdesk_claim_next(p_cohort_ids bigint[], p_lease_seconds double precision,
                                         p_token text, p_acting_user_id bigint, p_account_id bigint)
RETURNS jsonb LANGUAGE plpgsql {_DEFINER} AS $$
DECLARE
  v_user bigint := @s.cohortdesk_acting_user(p_acting_user_id);
  v_account bigint := coalesce(@s.cohortdesk_current_account(), p_account_id);
  v_lease double precision := @s.cohortdesk_lease_seconds(p_lease_seconds);
  v_id bigint;
BEGIN
  IF p_token IS NULL OR length(p_token) NOT BETWEEN 16 AND 36 THEN
    RAISE EXCEPTION 'a claim token is 16 to 36 characters' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- A retry of an attempt whose reply was lost finds the claim it took.
  SELECT e.id INTO v_id FROM @s.cohort_enrollments e
   WHERE e.claim_token = p_token AND e.claimed_by = session_user::text;
  IF v_id IS NOT NULL THEN
    RETURN @s.cohortdesk_claim_json(v_id, v_lease);
  END IF;
  WITH candidate AS MATERIALIZED (
    SELECT c.id FROM @s.cohort_enrollments c
     WHERE c.account_id = v_account
       AND c.document_verification_state = 'pending'
       AND c.deleted_at IS NULL
       AND (c.claim_token IS NULL OR c.claim_expires_at < now())
       AND (p_cohort_ids IS NULL OR cardinality(p_cohort_ids) = 0 OR c.cohort_id = ANY (p_cohort_ids))
     ORDER BY c.pending_since, c.id
     LIMIT 1
     FOR UPDATE SKIP LOCKED)
  UPDATE @s.cohort_enrollments e
     SET claimed_by = session_user, claimed_by_user_id = v_user, claim_token = p_token,
         claim_expires_at = now() + make_interval(secs => v_lease), row_version = e.row_version + 1
    FROM candidate k
   WHERE e.id = k.id
  RETURNING e.id INTO v_id;
  IF v_id IS NULL THEN
    RETURN NULL;
  END IF;
  PERFORM @s.cohortdesk_release_other_claims(v_id, v_user);
  RETURN @s.cohortdesk_claim_json(v_id, v_lease);
END $$;

-- Claim one pack: free, lapsed, already ours (this token) or our own earlier claim (another window).
-- NULL when somebody else holds it (or is taking it at this moment); the caller asks who.
CREATE FUNCTION @s.cohortdesk_claim_one(p_enrollment_id bigint, p_lease_seconds double precision,
                                        p_token text, p_acting_user_id bigint, p_account_id bigint)
RETURNS jsonb LANGUAGE plpgsql {_DEFINER} AS $$
DECLARE
  v_user bigint := @s.cohortdesk_acting_user(p_acting_user_id);
  v_account bigint := coalesce(@s.cohortdesk_current_account(), p_account_id);
  v_lease double precision := @s.cohortdesk_lease_seconds(p_lease_seconds);
  v_id bigint;
BEGIN
  IF p_token IS NULL OR length(p_token) NOT BETWEEN 16 AND 36 THEN
    RAISE EXCEPTION 'a claim token is 16 to 36 characters' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM @s.cohort_enrollments e WHERE e.id = p_enrollment_id AND e.deleted_at IS NULL
                  AND (v_account IS NULL OR e.account_id = v_account)) THEN
    RAISE EXCEPTION 'there is no enrollment with id %', p_enrollment_id USING ERRCODE = 'no_data_found';
  END IF;
  WITH candidate AS MATERIALIZED (
    SELECT c.id FROM @s.cohort_enrollments c
     WHERE c.id = p_enrollment_id AND c.deleted_at IS NULL
       AND (c.claim_token IS NULL OR c.claim_expires_at < now() OR c.claim_token = p_token
            OR (c.claimed_by = session_user::text AND c.claimed_by_user_id IS NOT DISTINCT FROM v_user))
     FOR UPDATE SKIP LOCKED)
  UPDATE @s.cohort_enrollments e
     SET claimed_by = session_user, claimed_by_user_id = v_user, claim_token = p_token,
         claim_expires_at = now() + make_interval(secs => v_lease), row_version = e.row_version + 1
    FROM candidate k
   WHERE e.id = k.id
  RETURNING e.id INTO v_id;
  IF v_id IS NULL THEN
    RETURN NULL;
  END IF;
  PERFORM @s.cohortdesk_release_other_claims(v_id, v_user);
  RETURN @s.cohortdesk_claim_json(v_id, v_lease);
END $$;

-- Extend our lease by its length from now (a lapsed one nobody took too); NULL once it is not ours.
-- Leaves row_version alone: a renewal is no news for anybody.
CREATE FUNCTION @s.cohortdesk_renew_claim(p_enrollment_id bigint, p_token text,
                                          p_lease_seconds double precision, p_acting_user_id bigint)
RETURNS timestamptz LANGUAGE plpgsql {_DEFINER} AS $$
DECLARE
  v_user bigint := @s.cohortdesk_acting_user(p_acting_user_id);
  v_lease double precision := @s.cohortdesk_lease_seconds(p_lease_seconds);
  v_expires timestamptz;
BEGIN
  UPDATE @s.cohort_enrollments e SET claim_expires_at = now() + make_interval(secs => v_lease)
   WHERE e.id = p_enrollment_id AND e.claim_token = p_token AND e.claimed_by = session_user::text
     AND e.claimed_by_user_id IS NOT DISTINCT FROM v_user
  RETURNING e.claim_expires_at INTO v_expires;
  RETURN v_expires;
END $$;

CREATE FUNCTION @s.cohortdesk_release_claim(p_enrollment_id bigint, p_token text, p_acting_user_id bigint)
RETURNS boolean LANGUAGE plpgsql {_DEFINER} AS $$
DECLARE
  v_user bigint := @s.cohortdesk_acting_user(p_acting_user_id);
BEGIN
  UPDATE @s.cohort_enrollments e
     SET claimed_by = NULL, claimed_by_user_id = NULL, claim_token = NULL, claim_expires_at = NULL,
         row_version = e.row_version + 1
   WHERE e.id = p_enrollment_id AND e.claim_token = p_token AND e.claimed_by = session_user::text
     AND e.claimed_by_user_id IS NOT DISTINCT FROM v_user;
  RETURN FOUND;
END $$;

-- A super admin frees a pack of their institution; returns who held it (NULL: nobody).
CREATE FUNCTION @s.cohortdesk_force_release_claim(p_enrollment_id bigint) RETURNS jsonb
LANGUAGE plpgsql {_DEFINER} AS $$
DECLARE
  v_e @s.cohort_enrollments%ROWTYPE;
BEGIN
  IF @s.cohortdesk_current_role() IS DISTINCT FROM 'super_admin'
     AND NOT @s.cohortdesk_session_is_privileged() THEN
    RAISE EXCEPTION 'only a super admin can release another officer''s claim'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  SELECT * INTO v_e FROM @s.cohort_enrollments e WHERE e.id = p_enrollment_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'there is no enrollment with id %', p_enrollment_id USING ERRCODE = 'no_data_found';
  END IF;
  IF v_e.claim_token IS NULL THEN
    RETURN NULL;
  END IF;
  UPDATE @s.cohort_enrollments e
     SET claimed_by = NULL, claimed_by_user_id = NULL, claim_token = NULL, claim_expires_at = NULL,
         row_version = e.row_version + 1
   WHERE e.id = p_enrollment_id;
  RETURN jsonb_build_object('id', v_e.id, 'claimed_by', v_e.claimed_by,
                            'claimed_by_user_id', v_e.claimed_by_user_id,
                            'claim_expires_at', v_e.claim_expires_at);
END $$;

-- Approve, reject or undo one document's decision, in one call. Refusals carry their own SQLSTATE:
-- CD001 the caller's claim is gone (expired, released, never theirs), CD002 the pack changed since
-- the given row_version, CD003 somebody else holds the pack, CD004 an undo that is not allowed,
-- CD005 an idempotency key reused for another decision.
CREATE FUNCTION @s.cohortdesk_record_decision(
    p_enrollment_id bigint, p_document_type text, p_action text, p_reason text, p_reason_code text,
    p_internal_note text, p_claim_token text, p_expected_row_version bigint, p_idempotency_key text,
    p_release_claim boolean, p_lease_seconds double precision, p_metadata jsonb, p_undo_id bigint,
    p_acting_user_id bigint)
RETURNS jsonb LANGUAGE plpgsql {_DEFINER} AS $$
DECLARE
  v_user bigint := @s.cohortdesk_acting_user(p_acting_user_id);
  v_login text := session_user::text;
  v_e @s.cohort_enrollments%ROWTYPE;
  v_d @s.document_verifications%ROWTYPE;
  v_target @s.document_verifications%ROWTYPE;
  v_duplicate boolean := false;
  v_action text := p_action;
  v_document text := btrim(coalesce(p_document_type, ''));
  v_reason text := nullif(btrim(coalesce(p_reason, '')), '');
  v_note text := nullif(btrim(coalesce(p_internal_note, '')), '');
  v_now timestamptz;
  v_uploaded jsonb;
  v_required jsonb;
  v_metadata jsonb;
  v_window double precision;
  v_state text;
  v_rejection text;
  v_lease double precision;
  v_holder text;
BEGIN
  IF p_action IS NULL OR p_action NOT IN ('approved', 'rejected', 'undo') THEN
    RAISE EXCEPTION 'action % must be approved, rejected or undo', p_action
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_action = 'rejected' AND v_reason IS NULL THEN
    RAISE EXCEPTION 'a reason is required to reject a document' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_idempotency_key IS NOT NULL AND length(p_idempotency_key) NOT BETWEEN 1 AND 64 THEN
    RAISE EXCEPTION 'an idempotency key is 1 to 64 characters' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF length(coalesce(v_reason, '')) > 4000 OR length(coalesce(v_note, '')) > 4000 THEN
    RAISE EXCEPTION 'a reason or note is at most 4000 characters' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- Row-level security (forced, also for this function's owner) hides other institutions' packs.
  SELECT * INTO v_e FROM @s.cohort_enrollments e WHERE e.id = p_enrollment_id AND e.deleted_at IS NULL
     FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'there is no enrollment with id %', p_enrollment_id USING ERRCODE = 'no_data_found';
  END IF;
  v_now := clock_timestamp();  -- after the lock: a decision that waited is dated after the one it waited for

  IF p_idempotency_key IS NOT NULL THEN
    SELECT * INTO v_d FROM @s.document_verifications d
     WHERE d.account_id = v_e.account_id AND d.idempotency_key = p_idempotency_key;
    IF FOUND THEN
      IF v_d.cohort_enrollment_id <> v_e.id
         OR (p_action = 'undo') <> (v_d.action = 'reversal')
         OR (p_action <> 'undo' AND (v_d.action <> p_action OR v_d.document_type <> v_document)) THEN
        RAISE EXCEPTION 'this idempotency key was already used for a different decision'
          USING ERRCODE = 'CD005';
      END IF;
      v_duplicate := true;
    END IF;
  END IF;

  IF NOT v_duplicate THEN
    -- The claim, or nobody else's running lease.
    IF p_claim_token IS NOT NULL THEN
      IF v_e.claim_token IS DISTINCT FROM p_claim_token OR v_e.claimed_by IS DISTINCT FROM v_login
         OR v_e.claimed_by_user_id IS DISTINCT FROM v_user
         OR v_e.claim_expires_at IS NULL OR v_e.claim_expires_at <= v_now THEN
        RAISE EXCEPTION 'your claim on this enrollment is no longer held' USING ERRCODE = 'CD001';
      END IF;
    ELSIF v_e.claim_token IS NOT NULL AND v_e.claim_expires_at > v_now
          AND NOT (v_e.claimed_by = v_login AND v_e.claimed_by_user_id IS NOT DISTINCT FROM v_user) THEN
      SELECT coalesce(nullif(btrim(concat_ws(' ', u.first_name, u.last_name)), ''), u.email)
        INTO v_holder FROM @s.users u WHERE u.id = v_e.claimed_by_user_id;
      RAISE EXCEPTION '% is reviewing this enrollment right now', coalesce(v_holder, v_e.claimed_by)
        USING ERRCODE = 'CD003';
    END IF;
    IF p_expected_row_version IS NOT NULL AND v_e.row_version <> p_expected_row_version THEN
      RAISE EXCEPTION 'this enrollment changed since you opened it' USING ERRCODE = 'CD002';
    END IF;

    v_uploaded := CASE WHEN jsonb_typeof(v_e.uploaded_documents) = 'object' THEN v_e.uploaded_documents
                       ELSE '{{}}' END;
    IF p_action = 'undo' THEN
      SELECT coalesce((SELECT i.value::double precision FROM @s.cohortdesk_install i
                        WHERE i.key = 'undo_window_seconds'), {UNDO_WINDOW_SECONDS}) INTO v_window;
      SELECT * INTO v_target FROM @s.document_verifications d
       WHERE d.cohort_enrollment_id = v_e.id AND d.action IN ('approved', 'rejected')
         AND (d.id = p_undo_id
              OR (p_undo_id IS NULL AND d.admin_id = v_user AND d.login = v_login
                  AND NOT EXISTS (SELECT 1 FROM @s.document_verifications r WHERE r.reverses_id = d.id)))
       ORDER BY d.created_at DESC, d.id DESC LIMIT 1;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'there is no decision of yours on this enrollment to undo' USING ERRCODE = 'CD004';
      END IF;
      IF v_target.admin_id <> v_user OR v_target.login IS DISTINCT FROM v_login THEN
        RAISE EXCEPTION 'only the officer who made a decision can undo it' USING ERRCODE = 'CD004';
      END IF;
      IF EXISTS (SELECT 1 FROM @s.document_verifications r WHERE r.reverses_id = v_target.id) THEN
        RAISE EXCEPTION 'this decision was already undone' USING ERRCODE = 'CD004';
      END IF;
      IF v_now - v_target.created_at > make_interval(secs => v_window) THEN
        RAISE EXCEPTION 'a decision can be undone only within % seconds of making it', v_window
          USING ERRCODE = 'CD004';
      END IF;
      IF EXISTS (SELECT 1 FROM @s.document_verifications d
                  WHERE d.cohort_enrollment_id = v_e.id AND d.document_type = v_target.document_type
                    AND d.action IN ('approved', 'rejected') AND d.id <> v_target.id
                    AND (d.created_at, d.id) > (v_target.created_at, v_target.id)) THEN
        RAISE EXCEPTION 'a later decision on this document replaced it; decide again instead of undoing'
          USING ERRCODE = 'CD004';
      END IF;
      v_action := 'reversal';
      v_document := v_target.document_type;
      v_reason := NULL;
      v_metadata := jsonb_build_object('reverses_action', v_target.action);
    ELSE
      SELECT c.required_document_types INTO v_required FROM @s.cohorts c WHERE c.id = v_e.cohort_id;
      IF v_document = '' THEN
        RAISE EXCEPTION 'a decision names its document' USING ERRCODE = 'invalid_parameter_value';
      END IF;
      IF NOT (v_uploaded ? v_document)
         AND NOT (jsonb_typeof(v_required) = 'array' AND v_required ? v_document) THEN
        RAISE EXCEPTION 'document % is neither uploaded nor required for this enrollment', v_document
          USING ERRCODE = 'invalid_parameter_value';
      END IF;
      v_metadata := CASE WHEN jsonb_typeof(p_metadata) = 'object' THEN p_metadata ELSE '{{}}' END
                    - ARRAY['checksum', 'storage_key', 'reason_code', 'idempotency_key', 'internal_note',
                            'reverses_action'];
      IF nullif(btrim(coalesce(p_reason_code, '')), '') IS NOT NULL THEN
        v_metadata := v_metadata || jsonb_build_object('reason_code', left(btrim(p_reason_code), 64));
      END IF;
      IF v_uploaded ? v_document THEN
        v_metadata := v_metadata || jsonb_build_object('checksum', v_uploaded -> v_document -> 'checksum');
      END IF;
      IF p_action = 'approved' THEN
        v_reason := NULL;
      END IF;
    END IF;

    INSERT INTO @s.document_verifications
           (uuid, account_id, cohort_enrollment_id, admin_id, login, document_type, action, reason,
            internal_note, reverses_id, metadata, idempotency_key, created_at, updated_at, row_version)
    VALUES (gen_random_uuid()::text, v_e.account_id, v_e.id, v_user, v_login, v_document, v_action,
            v_reason, v_note, CASE WHEN v_action = 'reversal' THEN v_target.id END, v_metadata,
            p_idempotency_key, v_now, v_now, 1)
    RETURNING * INTO v_d;

    SELECT s.state, s.reason INTO v_state, v_rejection FROM @s.cohortdesk_derive_verification(v_e.id) s;
    IF p_claim_token IS NOT NULL AND coalesce(p_release_claim, false) THEN
      UPDATE @s.cohort_enrollments e
         SET document_verification_state = v_state, rejection_reason = v_rejection, updated_at = v_now,
             claimed_by = NULL, claimed_by_user_id = NULL, claim_token = NULL, claim_expires_at = NULL,
             row_version = e.row_version + 1
       WHERE e.id = v_e.id;
    ELSIF p_claim_token IS NOT NULL THEN
      -- Working on the pack is a sign of life: the lease runs its full length from now.
      v_lease := @s.cohortdesk_lease_seconds(coalesce(p_lease_seconds, 900));
      UPDATE @s.cohort_enrollments e
         SET document_verification_state = v_state, rejection_reason = v_rejection, updated_at = v_now,
             claim_expires_at = v_now + make_interval(secs => v_lease), row_version = e.row_version + 1
       WHERE e.id = v_e.id;
    ELSE
      UPDATE @s.cohort_enrollments e
         SET document_verification_state = v_state, rejection_reason = v_rejection, updated_at = v_now,
             row_version = e.row_version + 1
       WHERE e.id = v_e.id;
    END IF;
  END IF;

  SELECT * INTO v_e FROM @s.cohort_enrollments e WHERE e.id = v_e.id;
  RETURN jsonb_build_object(
    'duplicate', v_duplicate,
    'decision', jsonb_build_object(
        'id', v_d.id, 'uuid', v_d.uuid, 'cohort_enrollment_id', v_d.cohort_enrollment_id,
        'admin_id', v_d.admin_id, 'login', v_d.login, 'document_type', v_d.document_type,
        'action', v_d.action, 'reason', v_d.reason, 'internal_note', v_d.internal_note,
        'reverses_id', v_d.reverses_id, 'metadata', v_d.metadata, 'created_at', v_d.created_at,
        'admin_name', (SELECT coalesce(nullif(btrim(concat_ws(' ', u.first_name, u.last_name)), ''), u.email)
                         FROM @s.users u WHERE u.id = v_d.admin_id)),
    'enrollment', jsonb_build_object(
        'id', v_e.id, 'account_id', v_e.account_id, 'cohort_id', v_e.cohort_id, 'state', v_e.state,
        'document_verification_state', v_e.document_verification_state,
        'rejection_reason', v_e.rejection_reason, 'row_version', v_e.row_version,
        'updated_at', v_e.updated_at, 'pending_since', v_e.pending_since,
        'claimed_by', v_e.claimed_by, 'claimed_by_user_id', v_e.claimed_by_user_id,
        'claim_expires_at', v_e.claim_expires_at,
        'claim_held', p_claim_token IS NOT NULL AND v_e.claim_token IS NOT DISTINCT FROM p_claim_token),
    'latest', (
        SELECT coalesce(jsonb_object_agg(l.document_type, jsonb_build_object(
                   'id', l.id, 'action', l.action, 'reason', l.reason, 'admin_id', l.admin_id,
                   'created_at', l.created_at)), '{{}}')
          FROM (SELECT DISTINCT ON (d.document_type) d.*
                  FROM @s.document_verifications d
                 WHERE d.cohort_enrollment_id = v_e.id AND d.action IN ('approved', 'rejected')
                   AND NOT EXISTS (SELECT 1 FROM @s.document_verifications r WHERE r.reverses_id = d.id)
                 ORDER BY d.document_type, d.created_at DESC, d.id DESC) l),
    'next_pending_id', (
        SELECT n.id FROM @s.cohort_enrollments n
         WHERE n.account_id = v_e.account_id AND n.cohort_id = v_e.cohort_id AND n.id <> v_e.id
           AND n.document_verification_state = 'pending' AND n.deleted_at IS NULL
           AND (n.claim_token IS NULL OR n.claim_expires_at < now())
         ORDER BY n.pending_since, n.id LIMIT 1));
END $$;
"""


def _schema() -> str:
    return str(op.get_bind().exec_driver_sql("SELECT current_schema()").scalar_one())


def _ident(name: str) -> str:
    return op.get_bind().dialect.identifier_preparer.quote(name)


def _sql(statement: str, schema: str) -> None:
    op.execute(statement.replace("@s", _ident(schema)))


def _roles_exist() -> bool:
    return bool(
        op.get_bind()
        .exec_driver_sql(f"SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '{OFFICER}'")
        .scalar()
    )


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    if pg:
        _upgrade_postgresql()
    else:
        _upgrade_sqlite()
    install = sa.table("cohortdesk_install", sa.column("key", sa.String), sa.column("value", sa.Text))
    op.bulk_insert(
        install,
        [
            {"key": "undo_window_seconds", "value": str(UNDO_WINDOW_SECONDS)},
            {"key": "claim_lease_max_seconds", "value": str(CLAIM_LEASE_MAX_SECONDS)},
        ],
    )


def downgrade() -> None:
    op.execute(
        "DELETE FROM cohortdesk_install WHERE key IN ('undo_window_seconds', 'claim_lease_max_seconds')"
    )
    if op.get_bind().dialect.name == "postgresql":
        _downgrade_postgresql()
    else:
        _downgrade_sqlite()


# --- SQLite: a CHECK constraint changes only by rebuilding the table ---------------------------------


def _sqlite_rebuild(change: object) -> None:
    """Rebuild ``document_verifications`` through ``change(batch)``, keeping every trigger that is on
    or mentions the table (a rebuild drops the first kind and breaks the second)."""
    bind = op.get_bind()
    triggers = bind.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
        "AND (tbl_name = 'document_verifications' OR sql LIKE '%document_verifications%')"
    ).all()
    for name, _sql_text in triggers:
        op.execute(f'DROP TRIGGER IF EXISTS "{name}"')
    with op.batch_alter_table("document_verifications", recreate="always") as batch:
        change(batch)  # type: ignore[operator]
    for _name, sql_text in triggers:
        op.execute(sql_text)


def _upgrade_sqlite() -> None:
    def change(batch: object) -> None:
        batch.add_column(sa.Column("login", sa.String(length=63), nullable=True))  # type: ignore[attr-defined]
        batch.add_column(sa.Column("internal_note", sa.Text(), nullable=True))  # type: ignore[attr-defined]
        batch.add_column(sa.Column("reverses_id", sa.BigInteger(), nullable=True))  # type: ignore[attr-defined]
        batch.drop_constraint(op.f("ck_document_verifications_action"), type_="check")  # type: ignore[attr-defined]
        batch.create_check_constraint(  # type: ignore[attr-defined]
            op.f("ck_document_verifications_action"), "action IN ('approved', 'rejected', 'reversal')"
        )
        batch.create_check_constraint(  # type: ignore[attr-defined]
            op.f("ck_document_verifications_reversal"), "(action = 'reversal') = (reverses_id IS NOT NULL)"
        )
        batch.create_foreign_key(  # type: ignore[attr-defined]
            op.f("fk_document_verifications_reverses_id_document_verifications"),
            "document_verifications",
            ["reverses_id"],
            ["id"],
        )

    _sqlite_rebuild(change)
    op.create_index(
        "ix_document_verifications_reverses_id", "document_verifications", ["reverses_id"], unique=True
    )


def _downgrade_sqlite() -> None:
    op.drop_index("ix_document_verifications_reverses_id", table_name="document_verifications")
    op.execute("DELETE FROM document_verifications WHERE action = 'reversal'")

    def change(batch: object) -> None:
        batch.drop_constraint(  # type: ignore[attr-defined]
            op.f("fk_document_verifications_reverses_id_document_verifications"), type_="foreignkey"
        )
        batch.drop_constraint(op.f("ck_document_verifications_reversal"), type_="check")  # type: ignore[attr-defined]
        batch.drop_constraint(op.f("ck_document_verifications_action"), type_="check")  # type: ignore[attr-defined]
        batch.create_check_constraint(  # type: ignore[attr-defined]
            op.f("ck_document_verifications_action"), "action IN ('approved', 'rejected')"
        )
        batch.drop_column("reverses_id")  # type: ignore[attr-defined]
        batch.drop_column("internal_note")  # type: ignore[attr-defined]
        batch.drop_column("login")  # type: ignore[attr-defined]

    _sqlite_rebuild(change)


# --- PostgreSQL ---------------------------------------------------------------------------------


def _upgrade_postgresql() -> None:
    schema = _schema()
    _sql(
        """
ALTER TABLE @s.document_verifications
  ADD COLUMN login varchar(63),
  ADD COLUMN internal_note text,
  ADD COLUMN reverses_id bigint CONSTRAINT fk_document_verifications_reverses_id_document_verifications
      REFERENCES @s.document_verifications (id),
  DROP CONSTRAINT ck_document_verifications_action,
  ADD CONSTRAINT ck_document_verifications_action CHECK (action IN ('approved', 'rejected', 'reversal')),
  ADD CONSTRAINT ck_document_verifications_reversal CHECK ((action = 'reversal') = (reverses_id IS NOT NULL));
CREATE UNIQUE INDEX ix_document_verifications_reverses_id ON @s.document_verifications (reverses_id);
""",
        schema,
    )
    _sql(_label_sql(), schema)
    _sql(PG_FUNCTIONS, schema)
    for function, grantees in FUNCTIONS.items():
        _sql(f"REVOKE ALL ON FUNCTION @s.{function} FROM PUBLIC", schema)
        _sql(f"ALTER FUNCTION @s.{function} OWNER TO {OWNER}", schema)
        if grantees and _roles_exist():
            _sql(f"GRANT EXECUTE ON FUNCTION @s.{function} TO {grantees}", schema)
    if _roles_exist():
        _revoke_direct_writes(schema)


def _revoke_direct_writes(schema: str) -> None:
    """Decisions and claims are written only by the functions above."""
    _sql(
        f"""
REVOKE INSERT ON @s.document_verifications FROM {SUPER_ADMIN}, {OFFICER}, {REPORT_VIEWER};
DROP POLICY IF EXISTS cohortdesk_decide ON @s.document_verifications;
REVOKE UPDATE ON @s.cohort_enrollments FROM {OFFICER}, {REPORT_VIEWER};
DROP POLICY IF EXISTS cohortdesk_officer_update ON @s.cohort_enrollments;
DO $$
DECLARE
  v_sequence text := pg_get_serial_sequence('@s.document_verifications', 'id');
  v_columns text;
BEGIN
  IF v_sequence IS NOT NULL THEN
    EXECUTE format('REVOKE ALL ON SEQUENCE %s FROM {SUPER_ADMIN}, {OFFICER}, {REPORT_VIEWER}', v_sequence);
  END IF;
  -- Super admins keep UPDATE of every other column (configuration writes) until those move into
  -- functions too; a table-wide grant cannot lose single columns, so it is replaced by a column list.
  SELECT string_agg(quote_ident(c.column_name), ', ' ORDER BY c.ordinal_position) INTO v_columns
    FROM information_schema.columns c
   WHERE c.table_schema = '@s' AND c.table_name = 'cohort_enrollments'
     AND c.column_name <> ALL (ARRAY[{", ".join(f"'{c}'" for c in DECISION_COLUMNS)}]);
  IF has_table_privilege('{SUPER_ADMIN}', '@s.cohort_enrollments', 'UPDATE') THEN
    EXECUTE 'REVOKE UPDATE ON @s.cohort_enrollments FROM {SUPER_ADMIN}';
    EXECUTE format('GRANT UPDATE (%s) ON @s.cohort_enrollments TO {SUPER_ADMIN}', v_columns);
  END IF;
END $$;
""",
        schema,
    )


def _downgrade_postgresql() -> None:
    schema = _schema()
    if _roles_exist():
        _sql(
            f"""
GRANT INSERT ON @s.document_verifications TO {SUPER_ADMIN}, {OFFICER};
CREATE POLICY cohortdesk_decide ON @s.document_verifications FOR INSERT TO {SUPER_ADMIN}, {OFFICER}
  WITH CHECK (account_id = (SELECT @s.cohortdesk_current_account())
              AND admin_id = (SELECT @s.cohortdesk_current_user_id())
              AND EXISTS (SELECT 1 FROM @s.cohort_enrollments e
                           WHERE e.id = document_verifications.cohort_enrollment_id));
GRANT UPDATE (document_verification_state, rejection_reason, updated_at, row_version, claimed_by,
              claimed_by_user_id, claim_token, claim_expires_at) ON @s.cohort_enrollments TO {OFFICER};
CREATE POLICY cohortdesk_officer_update ON @s.cohort_enrollments FOR UPDATE TO {OFFICER}
  USING (account_id = (SELECT @s.cohortdesk_current_account()))
  WITH CHECK (account_id = (SELECT @s.cohortdesk_current_account()));
GRANT UPDATE ON @s.cohort_enrollments TO {SUPER_ADMIN};
DO $$
DECLARE v_sequence text := pg_get_serial_sequence('@s.document_verifications', 'id');
BEGIN
  IF v_sequence IS NOT NULL THEN
    EXECUTE format('GRANT USAGE ON SEQUENCE %s TO {SUPER_ADMIN}, {OFFICER}', v_sequence);
  END IF;
END $$;
""",
            schema,
        )
    for function in reversed(list(FUNCTIONS)):
        _sql(f"DROP FUNCTION IF EXISTS @s.{function}", schema)
    # Reversal rows cannot survive the older constraint; the append-only trigger pauses for this one
    # statement, as the owner, inside the migration.
    _sql(
        """
ALTER TABLE @s.document_verifications DISABLE TRIGGER document_verifications_no_change;
DELETE FROM @s.document_verifications WHERE action = 'reversal';
ALTER TABLE @s.document_verifications ENABLE TRIGGER document_verifications_no_change;
DROP INDEX IF EXISTS @s.ix_document_verifications_reverses_id;
ALTER TABLE @s.document_verifications
  DROP CONSTRAINT ck_document_verifications_reversal,
  DROP CONSTRAINT ck_document_verifications_action,
  ADD CONSTRAINT ck_document_verifications_action CHECK (action IN ('approved', 'rejected')),
  DROP COLUMN reverses_id, DROP COLUMN internal_note, DROP COLUMN login;
""",
        schema,
    )
