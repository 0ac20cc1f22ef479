"""audit chain head function (one round trip for lock + last entry)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 22:35:00

R-AUD-1: every audited request takes the chain's advisory lock and then reads the last entry. The
read must see entries committed while we waited for the lock, so it cannot share the locking
statement's snapshot; a VOLATILE PL/pgSQL function takes a fresh snapshot for each statement it
runs, so `SELECT * FROM audit_chain_head(k)` locks and then reads the committed head in one round
trip (rems/services/audit.py). PostgreSQL only: SQLite has no concurrent writers to serialise.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
CREATE FUNCTION audit_chain_head(lock_key bigint, OUT id integer, OUT entry_hash varchar)
RETURNS SETOF record LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(lock_key);
  -- a new statement: a fresh snapshot, taken after the lock was granted
  RETURN QUERY SELECT a.id, a.entry_hash FROM audit_entries a ORDER BY a.id DESC LIMIT 1;
END
$$""")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION audit_chain_head(bigint)")
