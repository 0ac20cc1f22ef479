"""audit_append reads the chain head through the primary key, whatever the table's size was

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 09:00:00

R-AUD-1: `audit_append` reads the chain head with `ORDER BY id DESC LIMIT 1`. PL/pgSQL plans that
query once per connection and keeps the plan until the table's statistics change. A connection
whose first append met an empty or tiny audit table (a new database; a database whose statistics
autovacuum has not refreshed yet, or never will where it is off, as on this project's CI machine)
kept a sequential scan and a sort, and so read the WHOLE audit log on every append for the rest of
its life: 285 pages per entry after 12,000 entries in the benchmark, which doubled PostgreSQL's
CPU per dispense check (bench/NOTES.md, Round 7). With sequential scans priced out inside this
function, the head is always read from the end of the primary key index. PostgreSQL only.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

SIGNATURE = ("audit_append(bigint, text, text, timestamptz, integer, varchar, varchar, varchar, varchar, "
             "varchar, integer, json, json)")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER FUNCTION {SIGNATURE} SET enable_seqscan = off")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER FUNCTION {SIGNATURE} RESET enable_seqscan")
