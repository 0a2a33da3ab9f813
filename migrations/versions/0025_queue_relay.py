"""Queue notifications through one relay per institution instead of one per change.

Until now every statement that changed ``cohort_enrollments`` sent its notification itself, at commit.
PostgreSQL wakes every server process that listens in the database at each such commit, whatever the
channel, and the committing session waits while it signals them. With 200 workstations listening, each
claim and each decision woke 200 processes (and 200 workstations) in the officer's own commit: a
decision took 4-8 times as long as with one workstation (``bench/stations.py``, direct connections).

Now:

* The queue trigger (``cohortdesk_notify_queue``) records what changed in ``cohortdesk_queue_changes``
  (the identifiers-only payload it used to send, one row per statement and account) instead of
  notifying. Recording does not depend on anyone listening: a change whose transaction commits after
  a listener started is never missed. What nobody sent within ``RECORD_WHILE`` is dropped unsent
  (every window has polled since) by the account's next relay call, or, with nobody listening at all
  (behind a transaction pooler), by the trigger itself at every 256th change, for its own account.
* One listening session per institution is its **relay**: it holds a lease in
  ``cohortdesk_queue_relays`` (``LEASE`` long, renewed by each call, on the server's clock) and calls
  ``cohortdesk_relay_queue(holder)`` every half second. The call takes the account's recorded changes
  and sends them as one notification on the account's channel and on the every-account channel: the
  items merged (the latest row_version per enrollment), ``cohorts`` naming every cohort touched, ``op``
  ``change`` when the merged statements did different things, and a ``bulk`` summary when it would be
  too long. The other listeners call it at each of their pings and take the lease over once it is free
  (released, or not renewed within ``LEASE``). So the listeners wake at most twice a second per
  institution, and never in an officer's commit.
* Nobody waits on the lease: it is locked with ``SKIP LOCKED``. A session that keeps the lease row
  locked (a relay call in a transaction left open) cannot stall the others: once the lease it holds is
  older than ``LEASE``, every other listener's call sends what waits without it (the changes
  themselves are taken with ``SKIP LOCKED`` too, so none is sent twice); live refresh is then paced by
  the other listeners' pings rather than by a relay, and nothing is lost.
* ``cohortdesk_release_queue_relay(holder)`` (a workstation closing) sends what is left, frees the
  lease and sends ``{"relay": "vacant"}`` on the account's channel, so that another listener takes
  over at once rather than at its next ping.
* A privileged maintenance session's relay covers every account (lease key 0).

Both tables are ``UNLOGGED`` (hints, emptied by a crash; every listener re-reads everything when it
reconnects), the owner's under forced row-level security, with no privilege for any login: only the
definer functions touch them, and a login's relay call takes its own account's changes only.

Revision ID: 0025_queue_relay
Revises: 0024_awaiting_documents
Create Date: 2026-12-08
"""

from __future__ import annotations

from alembic import op

revision = "0025_queue_relay"
down_revision = "0024_awaiting_documents"
branch_labels = None
depends_on = None

OWNER = "cohortdesk_owner"
GROUPS = "cohortdesk_super_admin, cohortdesk_officer, cohortdesk_report_viewer"
DEFINER = "SECURITY DEFINER SET search_path = pg_catalog, pg_temp"
#: How long a relay's lease lasts without a call (the relay calls every half second).
LEASE = "3 seconds"
#: How long a recorded change waits for a relay before it is dropped unsent (windows poll every minute).
RECORD_WHILE = "60 seconds"
#: The largest payload sent; PostgreSQL's limit is 8000 bytes.
PAYLOAD_LIMIT = 7500

FUNCTIONS = (
    "cohortdesk_relay_queue(text)",
    "cohortdesk_release_queue_relay(text)",
)

TABLES_SQL = """
CREATE UNLOGGED TABLE @s.cohortdesk_queue_changes (
  id bigserial PRIMARY KEY,
  account_id bigint NOT NULL,
  payload jsonb NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX ix_cohortdesk_queue_changes_account ON @s.cohortdesk_queue_changes (account_id, id);
CREATE INDEX ix_cohortdesk_queue_changes_recorded_at ON @s.cohortdesk_queue_changes (recorded_at);
CREATE UNLOGGED TABLE @s.cohortdesk_queue_relays (
  account_id bigint PRIMARY KEY,  -- 0: a privileged session relaying every account
  holder text NOT NULL,           -- login and the listener's token; '' once released
  renewed_at timestamptz NOT NULL
);
"""


# A vacant lease for every account there is (and for privileged sessions): an account's relays then
# only ever lock an existing row, which a session cannot hold against the others (see the docstring).
LEASES_SQL = """
INSERT INTO @s.cohortdesk_queue_relays (account_id, holder, renewed_at)
SELECT a.id, '', '-infinity'::timestamptz FROM @s.accounts a UNION ALL SELECT 0, '', '-infinity';
"""


def _owner_only(table: str) -> str:
    return f"""
ALTER TABLE @s.{table} OWNER TO {OWNER};
ALTER TABLE @s.{table} ENABLE ROW LEVEL SECURITY;
ALTER TABLE @s.{table} FORCE ROW LEVEL SECURITY;
REVOKE ALL ON @s.{table} FROM PUBLIC;
CREATE POLICY cohortdesk_owner_all ON @s.{table} FOR ALL TO {OWNER} USING (true) WITH CHECK (true);
"""


def _notify_trigger(send: str, declare: str = "") -> str:
    """The queue trigger of migration 0016 with ``send`` (PL/pgSQL using ``v_account`` and
    ``payload``, and the variables in ``declare``) in place of its notifications."""
    return f"""
CREATE OR REPLACE FUNCTION @s.cohortdesk_notify_queue() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_all jsonb;
  v_account bigint;
  n integer;
  items jsonb;
  payload text;{declare}
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
    IF octet_length(payload) > {PAYLOAD_LIMIT} THEN
      payload := jsonb_build_object(
        'table', TG_TABLE_NAME, 'op', lower(TG_OP), 'bulk', true, 'count', n,
        'accounts', jsonb_build_array(v_account),
        'cohorts', (SELECT jsonb_agg(DISTINCT e -> 2) FROM jsonb_array_elements(items) e))::text;
      IF octet_length(payload) > {PAYLOAD_LIMIT} THEN
        payload := jsonb_build_object('table', TG_TABLE_NAME, 'op', lower(TG_OP), 'bulk', true, 'count', n,
                                      'accounts', jsonb_build_array(v_account))::text;
      END IF;
    END IF;
{send}
  END LOOP;
  RETURN NULL;
END $$;
"""


def _drop_unsent(accounts: str) -> str:
    """What no relay sent within ``RECORD_WHILE`` for ``accounts`` (a condition on ``o``), a bounded batch
    of it, never waiting on rows another session is taking."""
    return f"""DELETE FROM @s.cohortdesk_queue_changes c
       WHERE c.id IN (SELECT o.id FROM @s.cohortdesk_queue_changes o
                       WHERE ({accounts}) AND o.recorded_at < clock_timestamp() - interval '{RECORD_WHILE}'
                       ORDER BY o.id LIMIT 1000 FOR UPDATE SKIP LOCKED);"""


RECORD = f"""\
    -- Kept for the account's relay; nothing is sent in this transaction.
    INSERT INTO @s.cohortdesk_queue_changes (account_id, payload) VALUES (v_account, payload::jsonb)
    RETURNING id INTO v_change;
    IF v_change % 256 = 0 THEN
      -- Now and then, this account's changes no relay sent in time (with no listener at all, as behind
      -- a transaction pooler, nobody else would remove them).
      {_drop_unsent("o.account_id = v_account")}
    END IF;"""

# Migration 0016's sending, for the downgrade.
NOTIFY = """\
    PERFORM pg_notify(@s.cohortdesk_queue_channel_of(v_account), payload);
    PERFORM pg_notify(@s.cohortdesk_queue_channel_of(NULL), payload);"""

RELAY_SQL = f"""
CREATE FUNCTION @s.cohortdesk_relay_queue(p_holder text) RETURNS boolean
LANGUAGE plpgsql {DEFINER} AS $$
DECLARE
  v_account bigint := @s.cohortdesk_current_account();
  v_key bigint;
  v_holder text;
  v_now timestamptz := clock_timestamp();
  v_lease boolean := false;
  v_lock_timeout text;
  v_relay @s.cohortdesk_queue_relays%ROWTYPE;
  r record;
  payload text;
BEGIN
  IF v_account IS NULL AND NOT @s.cohortdesk_session_is_privileged() THEN
    RAISE EXCEPTION 'login % is not a CohortDesk user of this database', session_user
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF p_holder IS NULL OR length(p_holder) NOT BETWEEN 8 AND 64 THEN
    RAISE EXCEPTION 'a relay names itself with 8 to 64 characters' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  v_key := coalesce(v_account, 0);
  v_holder := session_user || ':' || p_holder;
  -- The lease, never waited for: a session keeping its row locked must not stall the others.
  SELECT * INTO v_relay FROM @s.cohortdesk_queue_relays q WHERE q.account_id = v_key FOR UPDATE SKIP LOCKED;
  IF FOUND THEN
    IF v_relay.holder NOT IN (v_holder, '') AND v_relay.renewed_at > v_now - interval '{LEASE}' THEN
      RETURN false;  -- another listener relays
    END IF;
    UPDATE @s.cohortdesk_queue_relays q SET holder = v_holder, renewed_at = v_now WHERE q.account_id = v_key;
    v_lease := true;
  ELSE
    SELECT * INTO v_relay FROM @s.cohortdesk_queue_relays q WHERE q.account_id = v_key;
    IF FOUND THEN
      IF v_relay.renewed_at > v_now - interval '{LEASE}' THEN
        RETURN false;  -- its relay is renewing it at this moment
      END IF;
      -- Locked, yet not renewed for longer than a lease: send what waits, without the lease.
    ELSE
      -- The account's first relay. Another session inserting the row now is waited for briefly only.
      v_lock_timeout := current_setting('lock_timeout');
      BEGIN
        PERFORM set_config('lock_timeout', '200ms', true);
        INSERT INTO @s.cohortdesk_queue_relays (account_id, holder, renewed_at) VALUES (v_key, v_holder, v_now)
        ON CONFLICT (account_id) DO NOTHING;
        v_lease := FOUND;
        PERFORM set_config('lock_timeout', v_lock_timeout, true);
        IF NOT v_lease THEN
          RETURN false;  -- another listener's, committed a moment ago
        END IF;
      EXCEPTION WHEN lock_not_available THEN
        -- Inserted by a session that has not committed yet: send what waits, without the lease.
        v_lease := false;
      END;
    END IF;
  END IF;
  -- Changes nobody sent in time: every window has polled since.
  {_drop_unsent("v_account IS NULL OR o.account_id = v_account")}
  -- What this account recorded (a privileged relay: every account), one notification each; rows
  -- another relay call is taking at this moment are left to it.
  FOR r IN
    WITH taken AS (
      DELETE FROM @s.cohortdesk_queue_changes c
       WHERE c.id IN (SELECT w.id FROM @s.cohortdesk_queue_changes w
                       WHERE v_account IS NULL OR w.account_id = v_account
                       ORDER BY w.id FOR UPDATE SKIP LOCKED)
      RETURNING c.account_id, c.payload
    ), items AS (
      SELECT DISTINCT ON (t.account_id, (i ->> 1)::bigint) t.account_id, (i ->> 1)::bigint AS enrollment, i
        FROM taken t, jsonb_array_elements(coalesce(t.payload -> 'items', '[]')) i
       ORDER BY t.account_id, (i ->> 1)::bigint, (i ->> 3)::bigint DESC
    )
    SELECT t.account_id,
           bool_or(t.payload ? 'bulk') AS bulk,
           sum(coalesce((t.payload ->> 'count')::integer, jsonb_array_length(t.payload -> 'items'))) AS changes,
           CASE WHEN count(DISTINCT t.payload ->> 'table') = 1 THEN min(t.payload ->> 'table') ELSE 'cohort_enrollments' END AS tbl,
           CASE WHEN count(DISTINCT t.payload ->> 'op') = 1 THEN min(t.payload ->> 'op') ELSE 'change' END AS op,
           (SELECT jsonb_agg(i.i ORDER BY i.enrollment) FROM items i WHERE i.account_id = t.account_id) AS items,
           bool_and(t.payload ? 'items' OR t.payload ? 'cohorts') AS cohorts_known,
           (SELECT jsonb_agg(DISTINCT c ORDER BY c) FROM taken u,
                   jsonb_array_elements(coalesce(u.payload -> 'cohorts', '[]') || coalesce(
                     (SELECT jsonb_agg(i -> 2) FROM jsonb_array_elements(u.payload -> 'items') i), '[]')) c
             WHERE u.account_id = t.account_id) AS cohorts
      FROM taken t GROUP BY t.account_id
  LOOP
    payload := CASE WHEN NOT r.bulk THEN
      jsonb_build_object('table', r.tbl, 'op', r.op, 'items', coalesce(r.items, '[]'),
                         'cohorts', coalesce(r.cohorts, '[]'))::text END;
    IF payload IS NULL OR octet_length(payload) > {PAYLOAD_LIMIT} THEN
      payload := jsonb_build_object('table', r.tbl, 'op', r.op, 'bulk', true, 'count', r.changes,
                                    'accounts', jsonb_build_array(r.account_id),
                                    'cohorts', CASE WHEN r.cohorts_known THEN r.cohorts END)::text;
      IF octet_length(payload) > {PAYLOAD_LIMIT} OR NOT r.cohorts_known THEN
        payload := jsonb_build_object('table', r.tbl, 'op', r.op, 'bulk', true, 'count', r.changes,
                                      'accounts', jsonb_build_array(r.account_id))::text;
      END IF;
    END IF;
    PERFORM pg_notify(@s.cohortdesk_queue_channel_of(r.account_id), payload);
    PERFORM pg_notify(@s.cohortdesk_queue_channel_of(NULL), payload);
  END LOOP;
  RETURN v_lease;
END $$;

CREATE FUNCTION @s.cohortdesk_release_queue_relay(p_holder text) RETURNS boolean
LANGUAGE plpgsql {DEFINER} AS $$
DECLARE
  v_account bigint := @s.cohortdesk_current_account();
BEGIN
  IF NOT @s.cohortdesk_relay_queue(p_holder) THEN
    RETURN false;  -- not this listener's to give up
  END IF;
  -- Its row is locked by the call above (this transaction): free the lease, and say so.
  UPDATE @s.cohortdesk_queue_relays q SET holder = '', renewed_at = clock_timestamp()
   WHERE q.account_id = coalesce(v_account, 0);
  PERFORM pg_notify(@s.cohortdesk_queue_channel_of(v_account), '{{"relay": "vacant"}}');
  RETURN true;
END $$;
"""


def _sql(statement: str) -> None:
    bind = op.get_bind()
    schema = str(bind.exec_driver_sql("SELECT current_schema()").scalar_one())
    op.execute(statement.replace("@s", bind.dialect.identifier_preparer.quote(schema)))


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite has no listeners
    _sql(
        TABLES_SQL
        + _owner_only("cohortdesk_queue_changes")
        + _owner_only("cohortdesk_queue_relays")
        + LEASES_SQL
        + RELAY_SQL
        + _notify_trigger(RECORD, "\n  v_change bigint;")
    )
    for function in FUNCTIONS:
        _sql(
            f"REVOKE ALL ON FUNCTION @s.{function} FROM PUBLIC; ALTER FUNCTION @s.{function} OWNER TO {OWNER}; "
            f"GRANT EXECUTE ON FUNCTION @s.{function} TO {GROUPS}"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _sql(_notify_trigger(NOTIFY))
    for function in reversed(FUNCTIONS):
        _sql(f"DROP FUNCTION IF EXISTS @s.{function}")
    _sql("DROP TABLE IF EXISTS @s.cohortdesk_queue_relays; DROP TABLE IF EXISTS @s.cohortdesk_queue_changes")
