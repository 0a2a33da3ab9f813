"""Learner notifications: per-institution settings, an outbox written with its cause, send attempts.

* ``notification_settings``, ``notification_outbox``, ``notification_attempts`` (see
  ``cohortdesk/models/notify.py`` for what each column means).
* **The outbox is written by the database, in the transaction of its cause**, on both backends:
  an ``AFTER INSERT`` trigger on ``document_verifications`` queues a ``rejection`` (with the reason,
  the document, the cohort and the officer's name) for every rejected document, whoever inserted
  the decision and through whichever function; an ``AFTER UPDATE`` trigger on
  ``cohort_enrollments`` queues ``all_verified`` when the verification state becomes ``verified``
  and the institution asked for it. A decision and its notification commit together or not at all.
* On PostgreSQL everything else is a ``SECURITY DEFINER`` function owned by ``cohortdesk_owner``
  (identity from ``session_user``, time from the server clock, ``search_path`` pinned), and the
  three tables are under forced row-level security like the rest of the schema:

  - ``cohortdesk_notify_claim(limit, lease_seconds, flush)`` (super admins: the person who presses
    *Send now*, or the login the ``cohortdesk notify`` service runs as): first settles claims whose
    lease ran out (``unknown`` when an SMTP attempt had started and never finished, else back to
    ``pending``), marks rejections a later decision replaced as ``superseded`` and rows without an
    e-mail address as ``failed``, then claims every due row of up to ``limit`` learners with
    ``FOR UPDATE SKIP LOCKED`` (two senders never take the same row) and gives each learner's rows
    one ``message_key``. A learner is due when their oldest waiting row is older than the
    institution's digest window, or at once with ``flush``.
  - ``cohortdesk_notify_progress(finished, claim_token, message_key, host)``: records the outcomes
    of finished attempts and starts the next one (an attempt row committed before the SMTP
    transaction begins), in one round trip. It refuses to start an attempt on a claim no longer held.
  - ``cohortdesk_notify_remind(enrollment_ids)`` (officers and super admins): queues a reminder
    listing the missing uploads of each enrollment, or says why not (nothing missing, no e-mail
    address, reminded too recently for the institution's limit). ``NULL`` runs the institution's
    scheduled rule (super admins: the sending service).
  - ``cohortdesk_notify_save_settings(settings)`` and ``cohortdesk_notify_resend(ids)`` (super
    admins of the institution).

Revision ID: 0011_notifications
Revises: 0010_local_submission_link
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011_notifications"
down_revision = "0010_local_submission_link"
branch_labels = None
depends_on = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)

OWNER = "cohortdesk_owner"
SUPER_ADMIN = "cohortdesk_super_admin"
OFFICER = "cohortdesk_officer"
REPORT_VIEWER = "cohortdesk_report_viewer"

FUNCTIONS = {
    "cohortdesk_notify_on_rejection()": None,
    "cohortdesk_notify_on_verified()": None,
    "cohortdesk_notify_claim(integer, integer, boolean)": SUPER_ADMIN,
    "cohortdesk_notify_progress(jsonb, text, text, text)": SUPER_ADMIN,
    "cohortdesk_notify_remind(bigint[])": f"{SUPER_ADMIN}, {OFFICER}",
    "cohortdesk_notify_save_settings(jsonb)": SUPER_ADMIN,
    "cohortdesk_notify_resend(bigint[])": SUPER_ADMIN,
}


def upgrade() -> None:
    op.create_table(
        "notification_settings",
        sa.Column("institution_id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("smtp_host", sa.String(length=255), nullable=True),
        sa.Column("smtp_port", sa.Integer(), nullable=False),
        sa.Column("smtp_security", sa.String(length=10), nullable=False),
        sa.Column("smtp_username", sa.String(length=255), nullable=True),
        sa.Column("sender_name", sa.String(length=255), nullable=True),
        sa.Column("sender_address", sa.String(length=255), nullable=True),
        sa.Column("reply_to", sa.String(length=255), nullable=True),
        sa.Column("notify_all_verified", sa.Boolean(), nullable=False),
        sa.Column("digest_minutes", sa.Integer(), nullable=False),
        sa.Column("reminder_min_days", sa.Integer(), nullable=False),
        sa.Column("reminder_rule", JSON_DOC, nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("templates", JSON_DOC, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("updated_by", sa.String(length=63), nullable=True),
        sa.CheckConstraint(
            "smtp_security IN ('starttls', 'tls', 'none')",
            name=op.f("ck_notification_settings_smtp_security"),
        ),
        sa.CheckConstraint(
            "smtp_port > 0 AND smtp_port < 65536", name=op.f("ck_notification_settings_smtp_port")
        ),
        sa.CheckConstraint("digest_minutes >= 0", name=op.f("ck_notification_settings_digest_minutes")),
        sa.CheckConstraint("reminder_min_days >= 1", name=op.f("ck_notification_settings_reminder_min_days")),
        sa.CheckConstraint("max_attempts >= 1", name=op.f("ck_notification_settings_max_attempts")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_notification_settings_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institutions.id"],
            name=op.f("fk_notification_settings_institution_id_institutions"),
        ),
        sa.PrimaryKeyConstraint("institution_id", name=op.f("pk_notification_settings")),
    )
    op.create_index("ix_notification_settings_account_id", "notification_settings", ["account_id"])
    op.create_table(
        "notification_outbox",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("institution_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("cohort_enrollment_id", sa.BigInteger(), nullable=False),
        sa.Column("document_verification_id", sa.BigInteger(), nullable=True),
        sa.Column("recipient_user_id", sa.BigInteger(), nullable=True),
        sa.Column("recipient_email", sa.String(length=255), nullable=True),
        sa.Column("recipient_name", sa.String(length=255), nullable=True),
        sa.Column("document_type", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("details", JSON_DOC, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=True),
        sa.Column("claim_token", sa.String(length=36), nullable=True),
        sa.Column("claimed_by", sa.String(length=63), nullable=True),
        sa.Column("claim_expires_at", TS, nullable=True),
        sa.Column("message_key", sa.String(length=64), nullable=True),
        sa.Column("sent_at", TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('rejection', 'reminder', 'all_verified')", name=op.f("ck_notification_outbox_kind")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'failed', 'unknown', 'superseded')",
            name=op.f("ck_notification_outbox_status"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_notification_outbox_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["cohort_enrollment_id"],
            ["cohort_enrollments.id"],
            name=op.f("fk_notification_outbox_cohort_enrollment_id_cohort_enrollments"),
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institutions.id"],
            name=op.f("fk_notification_outbox_institution_id_institutions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_outbox")),
    )
    op.create_index(
        "ix_notification_outbox_cohort_enrollment_id", "notification_outbox", ["cohort_enrollment_id"]
    )
    op.create_index(
        "ix_notification_outbox_account_id_created_at", "notification_outbox", ["account_id", "created_at"]
    )
    op.create_index(
        "ix_notification_outbox_pending",
        "notification_outbox",
        ["account_id", "recipient_email", "created_at"],
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_notification_outbox_claim_token",
        "notification_outbox",
        ["claim_token"],
        postgresql_where=sa.text("claim_token IS NOT NULL"),
        sqlite_where=sa.text("claim_token IS NOT NULL"),
    )
    op.create_table(
        "notification_attempts",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("claim_token", sa.String(length=36), nullable=False),
        sa.Column("message_key", sa.String(length=64), nullable=False),
        sa.Column("recipient_email", sa.String(length=255), nullable=True),
        sa.Column("outbox_ids", JSON_DOC, nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("outcome", sa.String(length=10), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("sender", sa.String(length=63), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('sent', 'retry', 'failed', 'unknown')", name=op.f("ck_notification_attempts_outcome")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_notification_attempts_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_attempts")),
    )
    op.create_index(
        "ix_notification_attempts_account_id_started_at",
        "notification_attempts",
        ["account_id", "started_at"],
    )
    op.create_index("ix_notification_attempts_message_key", "notification_attempts", ["message_key"])
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        schema = _schema()
        _sql(
            """
DROP TRIGGER IF EXISTS cohortdesk_notify_on_rejection ON @s.document_verifications;
DROP TRIGGER IF EXISTS cohortdesk_notify_on_verified ON @s.cohort_enrollments;
""",
            schema,
        )
        for function in FUNCTIONS:
            _sql(f"DROP FUNCTION IF EXISTS @s.{function}", schema)
    else:
        op.execute("DROP TRIGGER IF EXISTS notification_on_rejection")
        op.execute("DROP TRIGGER IF EXISTS notification_on_verified")
    op.drop_index("ix_notification_attempts_message_key", table_name="notification_attempts")
    op.drop_index("ix_notification_attempts_account_id_started_at", table_name="notification_attempts")
    op.drop_table("notification_attempts")
    op.drop_index("ix_notification_outbox_claim_token", table_name="notification_outbox")
    op.drop_index("ix_notification_outbox_pending", table_name="notification_outbox")
    op.drop_index("ix_notification_outbox_account_id_created_at", table_name="notification_outbox")
    op.drop_index("ix_notification_outbox_cohort_enrollment_id", table_name="notification_outbox")
    op.drop_table("notification_outbox")
    op.drop_index("ix_notification_settings_account_id", table_name="notification_settings")
    op.drop_table("notification_settings")


# --- SQLite: the same two triggers (the rest is the service layer; one local person) -------------

_SQLITE_NAME = "trim(coalesce({t}.first_name, '') || ' ' || coalesce({t}.last_name, ''))"
_SQLITE_INSERT = f"""
  INSERT INTO notification_outbox (account_id, institution_id, kind, cohort_enrollment_id,
      document_verification_id, recipient_user_id, recipient_email, recipient_name, document_type, reason,
      details, created_at, status, attempts)
  SELECT e.account_id, c.institution_id, {{kind}}, e.id, {{decision}}, u.id, nullif(trim(u.email), ''),
         nullif({_SQLITE_NAME.format(t="u")}, ''), {{document_type}}, {{reason}},
         json_object('cohort_name', c.name, 'officer', {{officer}}), {{at}}, 'pending', 0
    FROM cohort_enrollments e JOIN cohorts c ON c.id = e.cohort_id LEFT JOIN users u ON u.id = e.user_id
"""
SQLITE_TRIGGERS = (
    f"""
CREATE TRIGGER notification_on_rejection AFTER INSERT ON document_verifications
WHEN NEW.action = 'rejected'
BEGIN
{
        _SQLITE_INSERT.format(
            kind="'rejection'",
            decision="NEW.id",
            document_type="NEW.document_type",
            reason="NEW.reason",
            officer="(SELECT coalesce(nullif("
            + _SQLITE_NAME.format(t="a")
            + ", ''), a.email) FROM users a WHERE a.id = NEW.admin_id)",
            at="NEW.created_at",
        )
    }
   WHERE e.id = NEW.cohort_enrollment_id;
END
""",
    f"""
CREATE TRIGGER notification_on_verified AFTER UPDATE OF document_verification_state ON cohort_enrollments
WHEN NEW.document_verification_state = 'verified' AND OLD.document_verification_state <> 'verified'
BEGIN
{
        _SQLITE_INSERT.format(
            kind="'all_verified'",
            decision="NULL",
            document_type="NULL",
            reason="NULL",
            officer="NULL",
            at="NEW.updated_at",
        )
    }
   WHERE e.id = NEW.id AND EXISTS (SELECT 1 FROM notification_settings ns
                                    WHERE ns.institution_id = c.institution_id AND ns.notify_all_verified);
END
""",
)


# --- PostgreSQL ---------------------------------------------------------------------------------


def _schema() -> str:
    return str(op.get_bind().exec_driver_sql("SELECT current_schema()").scalar_one())


def _ident(name: str) -> str:
    return op.get_bind().dialect.identifier_preparer.quote(name)


def _sql(statement: str, schema: str) -> None:
    op.execute(statement.replace("@s", _ident(schema)))


_PG_NAME = "nullif(btrim(concat_ws(' ', {t}.first_name, {t}.last_name)), '')"
_PG_INSERT = f"""
  INSERT INTO @s.notification_outbox (account_id, institution_id, kind, cohort_enrollment_id,
      document_verification_id, recipient_user_id, recipient_email, recipient_name, document_type, reason,
      details, created_at, status, attempts)
  SELECT e.account_id, c.institution_id, {{kind}}, e.id, {{decision}}, u.id, nullif(btrim(u.email), ''),
         {_PG_NAME.format(t="u")}, {{document_type}}, {{reason}},
         jsonb_build_object('cohort_name', c.name, 'officer', {{officer}}), now(), 'pending', 0
    FROM @s.cohort_enrollments e JOIN @s.cohorts c ON c.id = e.cohort_id LEFT JOIN @s.users u ON u.id = e.user_id
"""
_DEFINER = "LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp"
_IS_SENDER = "(@s.cohortdesk_current_role() IS NOT DISTINCT FROM 'super_admin' OR @s.cohortdesk_session_is_privileged())"

PG_SQL = f"""
CREATE FUNCTION @s.cohortdesk_notify_on_rejection() RETURNS trigger {_DEFINER} AS $$
BEGIN
{
    _PG_INSERT.format(
        kind="'rejection'",
        decision="NEW.id",
        document_type="NEW.document_type",
        reason="NEW.reason",
        officer="(SELECT coalesce("
        + _PG_NAME.format(t="a")
        + ", a.email) FROM @s.users a WHERE a.id = NEW.admin_id)",
    )
}
   WHERE e.id = NEW.cohort_enrollment_id;
  RETURN NULL;
END $$;
CREATE TRIGGER cohortdesk_notify_on_rejection AFTER INSERT ON @s.document_verifications
  FOR EACH ROW WHEN (NEW.action = 'rejected') EXECUTE FUNCTION @s.cohortdesk_notify_on_rejection();

CREATE FUNCTION @s.cohortdesk_notify_on_verified() RETURNS trigger {_DEFINER} AS $$
BEGIN
{
    _PG_INSERT.format(
        kind="'all_verified'", decision="NULL", document_type="NULL", reason="NULL", officer="NULL"
    )
}
   WHERE e.id = NEW.id AND EXISTS (SELECT 1 FROM @s.notification_settings ns
                                    WHERE ns.institution_id = c.institution_id AND ns.notify_all_verified);
  RETURN NULL;
END $$;
CREATE TRIGGER cohortdesk_notify_on_verified AFTER UPDATE OF document_verification_state ON @s.cohort_enrollments
  FOR EACH ROW WHEN (NEW.document_verification_state = 'verified'
                     AND OLD.document_verification_state IS DISTINCT FROM 'verified')
  EXECUTE FUNCTION @s.cohortdesk_notify_on_verified();

CREATE FUNCTION @s.cohortdesk_notify_claim(p_limit integer, p_lease_seconds integer, p_flush boolean)
RETURNS SETOF @s.notification_outbox {_DEFINER} AS $$
DECLARE
  v_token text := gen_random_uuid()::text;
BEGIN
  IF NOT {_IS_SENDER} THEN
    RAISE EXCEPTION 'only a super admin (or the login the notification service runs as) sends e-mail'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF p_limit IS NULL OR p_limit < 1 OR p_lease_seconds IS NULL OR p_lease_seconds < 10 THEN
    RAISE EXCEPTION 'claim at least one learner with a lease of at least 10 seconds'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- Claims whose lease ran out: an attempt that started and never finished may have been delivered
  -- (never send it again by itself); one that never started goes back to the queue.
  WITH expired AS (
    SELECT o.id, EXISTS (SELECT 1 FROM @s.notification_attempts a
                          WHERE a.claim_token = o.claim_token AND a.message_key = o.message_key
                            AND a.finished_at IS NULL) AS started
      FROM @s.notification_outbox o
     WHERE o.status = 'sending' AND o.claim_expires_at < now()
       FOR UPDATE OF o SKIP LOCKED
  )
  UPDATE @s.notification_outbox o
     SET status = CASE WHEN x.started THEN 'unknown' ELSE 'pending' END,
         last_error = CASE WHEN x.started
                           THEN 'The sender stopped during the SMTP conversation: the e-mail may or may not '
                                || 'have been delivered, so it is not sent again by itself.'
                           ELSE o.last_error END,
         claim_token = CASE WHEN x.started THEN o.claim_token END,
         claimed_by = NULL, claim_expires_at = NULL
    FROM expired x WHERE x.id = o.id;
  UPDATE @s.notification_attempts a
     SET finished_at = now(), outcome = 'unknown',
         detail = 'the sender stopped before recording how the SMTP conversation ended'
   WHERE a.finished_at IS NULL
     AND EXISTS (SELECT 1 FROM @s.notification_outbox o WHERE o.status = 'unknown'
                  AND o.claim_token = a.claim_token AND o.message_key = a.message_key);
  -- Rejections a later decision on the same document replaced, and "all verified" no longer true.
  UPDATE @s.notification_outbox o SET status = 'superseded'
   WHERE o.status = 'pending' AND o.kind = 'rejection'
     AND EXISTS (SELECT 1 FROM @s.document_verifications d
                  WHERE d.cohort_enrollment_id = o.cohort_enrollment_id
                    AND d.document_type = o.document_type AND d.id > o.document_verification_id);
  UPDATE @s.notification_outbox o SET status = 'superseded'
   WHERE o.status = 'pending' AND o.kind = 'all_verified'
     AND EXISTS (SELECT 1 FROM @s.cohort_enrollments e WHERE e.id = o.cohort_enrollment_id
                  AND e.document_verification_state <> 'verified');
  UPDATE @s.notification_outbox o
     SET status = 'failed', last_error = 'The learner has no e-mail address in DocuSeal.'
   WHERE o.status = 'pending' AND o.recipient_email IS NULL;
  RETURN QUERY
  WITH due AS (
    SELECT o.account_id, o.recipient_email
      FROM @s.notification_outbox o
      LEFT JOIN @s.notification_settings ns ON ns.institution_id = o.institution_id
     WHERE o.status = 'pending' AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= now())
     GROUP BY o.account_id, o.recipient_email
    HAVING p_flush OR min(o.created_at) <= now() - make_interval(mins => min(coalesce(ns.digest_minutes, 15)))
     ORDER BY min(o.created_at)
     LIMIT p_limit
  ), picked AS MATERIALIZED (
    SELECT o.id FROM @s.notification_outbox o
      JOIN due d ON d.account_id = o.account_id AND d.recipient_email = o.recipient_email
     WHERE o.status = 'pending' AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= now())
       FOR UPDATE OF o SKIP LOCKED
  ), claimed AS (
    UPDATE @s.notification_outbox o
       SET status = 'sending', claim_token = v_token, claimed_by = session_user,
           claim_expires_at = now() + make_interval(secs => p_lease_seconds),
           message_key = md5(v_token || o.account_id::text || o.recipient_email)
      FROM picked p WHERE p.id = o.id
    RETURNING o.*
  )
  SELECT * FROM claimed ORDER BY claimed.recipient_email, claimed.id;
END $$;

CREATE FUNCTION @s.cohortdesk_notify_progress(p_finished jsonb, p_claim_token text, p_message_key text,
                                              p_host text)
RETURNS bigint {_DEFINER} AS $$
DECLARE
  v_item jsonb;
  v_outcome text;
  v_key text;
  v_ids bigint[];
  v_account bigint;
  v_email text;
  v_attempt bigint;
BEGIN
  IF NOT {_IS_SENDER} THEN
    RAISE EXCEPTION 'only a super admin (or the login the notification service runs as) sends e-mail'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  FOR v_item IN SELECT * FROM jsonb_array_elements(coalesce(p_finished, '[]'::jsonb)) LOOP
    v_outcome := v_item ->> 'outcome';
    IF v_outcome IS NULL OR v_outcome NOT IN ('sent', 'retry', 'failed', 'unknown') THEN
      RAISE EXCEPTION 'unknown outcome %', v_outcome USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- A finish may come after another sender declared the outcome unknown: the truth wins.
    UPDATE @s.notification_attempts a
       SET finished_at = now(), outcome = v_outcome, detail = left(v_item ->> 'detail', 2000)
     WHERE a.id = (v_item ->> 'attempt')::bigint AND (a.finished_at IS NULL OR a.outcome = 'unknown')
    RETURNING a.message_key INTO v_key;
    IF v_key IS NULL THEN
      CONTINUE;
    END IF;
    UPDATE @s.notification_outbox o
       SET attempts = o.attempts + 1,
           status = CASE
             WHEN v_outcome = 'retry' AND o.attempts + 1 >= coalesce(
                    (SELECT ns.max_attempts FROM @s.notification_settings ns
                      WHERE ns.institution_id = o.institution_id), 8) THEN 'failed'
             WHEN v_outcome = 'retry' THEN 'pending'
             ELSE v_outcome END,
           sent_at = CASE WHEN v_outcome = 'sent' THEN now() END,
           next_attempt_at = CASE WHEN v_outcome = 'retry'
             THEN now() + make_interval(secs => coalesce((v_item ->> 'retry_seconds')::int, 60)) END,
           last_error = CASE WHEN v_outcome = 'sent' THEN NULL ELSE left(v_item ->> 'detail', 2000) END,
           claim_token = CASE WHEN v_outcome = 'unknown' THEN o.claim_token END,
           claimed_by = NULL, claim_expires_at = NULL
     WHERE o.message_key = v_key AND o.status IN ('sending', 'unknown');
  END LOOP;
  IF p_message_key IS NULL THEN
    RETURN NULL;
  END IF;
  SELECT array_agg(o.id ORDER BY o.id), min(o.account_id), min(o.recipient_email)
    INTO v_ids, v_account, v_email
    FROM @s.notification_outbox o
   WHERE o.claim_token = p_claim_token AND o.message_key = p_message_key AND o.status = 'sending'
     AND o.claim_expires_at > now();
  IF v_ids IS NULL THEN
    RETURN NULL;  -- the claim ran out or was taken over: do not send
  END IF;
  INSERT INTO @s.notification_attempts (account_id, claim_token, message_key, recipient_email, outbox_ids,
                                        started_at, sender, host)
  VALUES (v_account, p_claim_token, p_message_key, v_email, to_jsonb(v_ids), now(), session_user,
          left(p_host, 255))
  RETURNING id INTO v_attempt;
  RETURN v_attempt;
END $$;

CREATE FUNCTION @s.cohortdesk_notify_remind(p_enrollment_ids bigint[])
RETURNS TABLE (enrollment_id bigint, queued boolean, detail text) {_DEFINER} AS $$
DECLARE
  v_role text := @s.cohortdesk_current_role();
  v_ids bigint[] := p_enrollment_ids;
  v_id bigint;
  v_e record;
  v_missing text[];
  v_last timestamptz;
  v_days integer;
BEGIN
  IF p_enrollment_ids IS NULL THEN
    IF NOT {_IS_SENDER} THEN
      RAISE EXCEPTION 'only a super admin (or the notification service) runs the reminder rule'
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT coalesce(array_agg(e.id ORDER BY e.id), '{{}}') INTO v_ids
      FROM @s.cohort_enrollments e
      JOIN @s.cohorts c ON c.id = e.cohort_id
      JOIN @s.notification_settings ns ON ns.institution_id = c.institution_id
     WHERE e.deleted_at IS NULL AND c.deleted_at IS NULL AND c.state = 'active'
       AND coalesce((ns.reminder_rule ->> 'enabled')::boolean, false)
       AND e.created_at <= now() - make_interval(days => coalesce((ns.reminder_rule ->> 'after_days')::int, 7))
       AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(c.required_document_types) d(t)
                    WHERE NOT (coalesce(e.uploaded_documents, '{{}}'::jsonb) ? d.t))
       AND NOT EXISTS (SELECT 1 FROM @s.notification_outbox o
                        WHERE o.cohort_enrollment_id = e.id AND o.kind = 'reminder' AND o.status <> 'failed'
                          AND o.created_at > now() - make_interval(days => ns.reminder_min_days));
  ELSIF v_role IS NULL OR v_role NOT IN ('super_admin', 'officer') THEN
    IF NOT @s.cohortdesk_session_is_privileged() THEN
      RAISE EXCEPTION 'only officers and super admins remind learners' USING ERRCODE = 'insufficient_privilege';
    END IF;
  END IF;
  FOREACH v_id IN ARRAY v_ids LOOP
    enrollment_id := v_id;
    -- Two reminders of one learner at the same moment: the second waits, then sees the first.
    PERFORM pg_advisory_xact_lock(hashtext('cohortdesk_notify_remind'), hashtext(v_id::text));
    SELECT e.id, e.account_id, e.uploaded_documents, c.required_document_types, c.institution_id, c.name,
           u.email, coalesce(ns.reminder_min_days, 3) AS min_days
      INTO v_e
      FROM @s.cohort_enrollments e JOIN @s.cohorts c ON c.id = e.cohort_id
      LEFT JOIN @s.users u ON u.id = e.user_id
      LEFT JOIN @s.notification_settings ns ON ns.institution_id = c.institution_id
     WHERE e.id = v_id AND e.deleted_at IS NULL;
    IF NOT FOUND THEN
      queued := false; detail := 'There is no such enrollment.'; RETURN NEXT; CONTINUE;
    END IF;
    SELECT coalesce(array_agg(d.t ORDER BY d.n), '{{}}') INTO v_missing
      FROM jsonb_array_elements_text(v_e.required_document_types) WITH ORDINALITY d(t, n)
     WHERE NOT (coalesce(v_e.uploaded_documents, '{{}}'::jsonb) ? d.t);
    IF cardinality(v_missing) = 0 THEN
      queued := false; detail := 'Nothing is missing: every required document is uploaded.'; RETURN NEXT; CONTINUE;
    END IF;
    IF nullif(btrim(v_e.email), '') IS NULL THEN
      queued := false; detail := 'The learner has no e-mail address.'; RETURN NEXT; CONTINUE;
    END IF;
    SELECT max(o.created_at) INTO v_last FROM @s.notification_outbox o
     WHERE o.cohort_enrollment_id = v_id AND o.kind = 'reminder' AND o.status <> 'failed';
    v_days := v_e.min_days;
    IF v_last IS NOT NULL AND v_last > now() - make_interval(days => v_days) THEN
      queued := false;
      detail := format('Reminded on %s; your institution allows one reminder every %s day(s).',
                       to_char(v_last AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"'), v_days);
      RETURN NEXT; CONTINUE;
    END IF;
{
    _PG_INSERT.format(
        kind="'reminder'", decision="NULL", document_type="NULL", reason="NULL", officer="NULL"
    ).replace(
        "jsonb_build_object('cohort_name', c.name, 'officer', NULL)",
        "jsonb_build_object('cohort_name', c.name, 'missing', to_jsonb(v_missing))",
    )
}
     WHERE e.id = v_id;
    queued := true; detail := 'Reminder queued: ' || array_to_string(v_missing, ', ') || '.';
    RETURN NEXT;
  END LOOP;
END $$;

CREATE FUNCTION @s.cohortdesk_notify_save_settings(p jsonb) RETURNS void {_DEFINER} AS $$
DECLARE
  v_institution bigint := @s.cohortdesk_current_institution();
  v_account bigint := @s.cohortdesk_current_account();
BEGIN
  IF @s.cohortdesk_current_role() IS DISTINCT FROM 'super_admin' THEN
    RAISE EXCEPTION 'only a super admin changes the e-mail settings' USING ERRCODE = 'insufficient_privilege';
  END IF;
  INSERT INTO @s.notification_settings AS ns (institution_id, account_id, smtp_host, smtp_port, smtp_security,
      smtp_username, sender_name, sender_address, reply_to, notify_all_verified, digest_minutes,
      reminder_min_days, reminder_rule, max_attempts, templates, updated_at, updated_by)
  VALUES (v_institution, v_account, nullif(btrim(p ->> 'smtp_host'), ''), coalesce((p ->> 'smtp_port')::int, 587),
          coalesce(p ->> 'smtp_security', 'starttls'), nullif(btrim(p ->> 'smtp_username'), ''),
          nullif(btrim(p ->> 'sender_name'), ''), nullif(btrim(p ->> 'sender_address'), ''),
          nullif(btrim(p ->> 'reply_to'), ''), coalesce((p ->> 'notify_all_verified')::boolean, false),
          coalesce((p ->> 'digest_minutes')::int, 15), coalesce((p ->> 'reminder_min_days')::int, 3),
          coalesce(p -> 'reminder_rule', '{{}}'::jsonb), coalesce((p ->> 'max_attempts')::int, 8),
          coalesce(p -> 'templates', '{{}}'::jsonb), now(), session_user)
  ON CONFLICT (institution_id) DO UPDATE SET
      smtp_host = EXCLUDED.smtp_host, smtp_port = EXCLUDED.smtp_port, smtp_security = EXCLUDED.smtp_security,
      smtp_username = EXCLUDED.smtp_username, sender_name = EXCLUDED.sender_name,
      sender_address = EXCLUDED.sender_address, reply_to = EXCLUDED.reply_to,
      notify_all_verified = EXCLUDED.notify_all_verified, digest_minutes = EXCLUDED.digest_minutes,
      reminder_min_days = EXCLUDED.reminder_min_days, reminder_rule = EXCLUDED.reminder_rule,
      max_attempts = EXCLUDED.max_attempts, templates = EXCLUDED.templates, updated_at = now(),
      updated_by = session_user;
END $$;

CREATE FUNCTION @s.cohortdesk_notify_resend(p_ids bigint[]) RETURNS integer {_DEFINER} AS $$
DECLARE
  v_count integer;
BEGIN
  IF @s.cohortdesk_current_role() IS DISTINCT FROM 'super_admin' THEN
    RAISE EXCEPTION 'only a super admin sends a notification again' USING ERRCODE = 'insufficient_privilege';
  END IF;
  UPDATE @s.notification_outbox o
     SET status = 'pending', attempts = 0, next_attempt_at = NULL, claim_token = NULL, message_key = NULL
   WHERE o.id = ANY (p_ids) AND o.status IN ('unknown', 'failed');
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END $$;
"""


def _upgrade_postgresql() -> None:
    schema = _schema()
    _sql(PG_SQL, schema)
    for table, readers in (
        ("notification_settings", f"{SUPER_ADMIN}, {OFFICER}, {REPORT_VIEWER}"),
        ("notification_outbox", f"{SUPER_ADMIN}, {OFFICER}"),
        ("notification_attempts", SUPER_ADMIN),
    ):
        _sql(f"SELECT @s.cohortdesk_secure_table('@s.{table}'::regclass, 'account_id', '{readers}')", schema)
    for function, grantees in FUNCTIONS.items():
        _sql(f"REVOKE ALL ON FUNCTION @s.{function} FROM PUBLIC", schema)
        _sql(f"ALTER FUNCTION @s.{function} OWNER TO {OWNER}", schema)
        if grantees:
            _sql(f"GRANT EXECUTE ON FUNCTION @s.{function} TO {grantees}", schema)
