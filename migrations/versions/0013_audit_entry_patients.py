"""which patients a list view showed, for the audit log's filter by patient

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27 10:00:00

R-AUD-1: a list page (the prescriber's worklist, the pharmacy's RMAs, the pregnancy cases, the
audit log) is one audit entry whose hashed content names the patients it showed
(`after["patient_ids"]`). `audit_entry_patients` indexes them, one row per patient, written with
the entry (rems/services/audit.py), so that "who saw patient X" also finds the lists that showed X.
The hashed content is the record and `rems audit verify` checks the rows against it; like the
entries, the rows are append-only (database triggers). No entry written before this revision
names patients that way, so there is nothing to fill in.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

TABLE = "audit_entry_patients"


def upgrade():
    op.create_table(
        TABLE,
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], ["audit_entries.id"],
                                name=op.f("fk_audit_entry_patients_entry_id_audit_entries")),
        sa.PrimaryKeyConstraint("entry_id", "patient_id", name=op.f("pk_audit_entry_patients")),
    )
    op.create_index("ix_audit_entry_patients_patient_id", TABLE, ["patient_id", "entry_id"])
    if op.get_bind().dialect.name == "postgresql":  # rems_refuse_change(): migration 0001
        op.execute(f"CREATE TRIGGER {TABLE}_no_update BEFORE UPDATE OR DELETE ON {TABLE} "
                   "FOR EACH ROW EXECUTE FUNCTION rems_refuse_change()")
        op.execute(f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION rems_refuse_change()")
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {TABLE}_no_{event.lower()} BEFORE {event} ON {TABLE} "
                       f"BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only'); END")


def downgrade():
    op.drop_index("ix_audit_entry_patients_patient_id", table_name=TABLE)
    op.drop_table(TABLE)  # its triggers go with it
