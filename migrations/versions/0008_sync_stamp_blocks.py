"""The sync stamp trigger reserves counter values in blocks within one transaction (PostgreSQL only).

``cohortdesk_sync_stamp()`` (0007) bumps the tenant's ``tenant_clock`` row once per written row. Inside
one transaction every such UPDATE adds a version of that one row which no one can prune until commit,
and each next UPDATE walks the whole chain of versions: a transaction writing n rows costs O(n²)
(a 100,000-learner demo load or import took tens of minutes; 2,000 rows cost ten times more at the
end than at the start).

Now the first stamp of a tenant in a transaction still takes exactly one value (single-row edits are
numbered as before, without gaps). Later stamps in the same transaction draw from blocks this
transaction reserves while it holds the counter row's lock, doubling from 2 up to 4,096 values per
UPDATE. What the pull relies on is unchanged: values are unique per tenant, handed out under the
counter row's lock held until commit, so they become visible in order. Values a transaction reserved
but did not use are gaps, which a ``change_seq > cursor`` pull never notices.

The block in use is remembered in a transaction-local setting (``cohortdesk.stamp_<account id>``).
A client can set that setting too, so it is trusted only when this very transaction made the counter
row's latest version (``xmin``) and the block ends at its ``last_seq``; anything else reserves anew.

Revision ID: 0008_sync_stamp_blocks
Revises: 0006_review_claims
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0008_sync_stamp_blocks"
down_revision = "0006_review_claims"
branch_labels = None
depends_on = None

BLOCK_STAMP_FUNCTION = r"""
CREATE OR REPLACE FUNCTION cohortdesk_sync_stamp() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
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
    -- Trust the remembered block only if this transaction reserved it (see the migration's notes).
    IF next_seq <= block_end - block_size OR NOT EXISTS (
         SELECT 1 FROM tenant_clock
          WHERE account_id = NEW.account_id AND last_seq = block_end
            AND xmin = pg_current_xact_id()::xid) THEN
      next_seq := NULL;
      block_size := 0;
    ELSIF next_seq > block_end THEN
      next_seq := NULL;  -- used up: reserve a bigger block
    END IF;
  END IF;
  IF next_seq IS NULL THEN
    block_size := CASE WHEN block_size = 0 THEN 1 ELSE LEAST(block_size * 2, 4096) END;
    -- The row lock taken here is held until commit: one tenant's writers queue on it, so counter
    -- values become visible in the order they were handed out.
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
END $$
"""

# Frozen copy of 0007's function, restored on downgrade.
ROW_STAMP_FUNCTION = """
CREATE OR REPLACE FUNCTION cohortdesk_sync_stamp() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  seq bigint;
BEGIN
  -- The row lock taken here is held until commit: one tenant's writers queue on it, so counter
  -- values become visible in the order they were handed out.
  UPDATE tenant_clock SET last_seq = last_seq + 1 WHERE account_id = NEW.account_id
   RETURNING last_seq INTO seq;
  IF seq IS NULL THEN
    INSERT INTO tenant_clock AS c (account_id, last_seq) VALUES (NEW.account_id, 1)
    ON CONFLICT (account_id) DO UPDATE SET last_seq = c.last_seq + 1
    RETURNING c.last_seq INTO seq;
  END IF;
  NEW.change_seq := seq;
  IF TG_OP = 'UPDATE' THEN
    NEW.row_version := OLD.row_version + 1;
  END IF;
  NEW.updated_by := session_user;
  RETURN NEW;
END $$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(BLOCK_STAMP_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(ROW_STAMP_FUNCTION)
