"""home testing has a start day

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 09:00:00

R-PT-3: a home test counts only if the prescriber had enabled home testing when it was collected.
Until now home testing was a switch, so a home test collected before the switch was turned on
counted once it was on. Patients now keep the program-local day home testing was (last) enabled.
Existing patients with home testing on get the day of the audit entry that last turned it on
(R-AUD-1 keeps every change); one without such an entry (data from before the audit log) gets the
first day of their first course, which keeps what counted before.
"""
import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from rems.models.types import UTCDateTime
from workflows import local_date
from workflows.program import get_program

# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def _program():
    try:
        from flask import current_app

        return get_program(current_app.config["PROGRAM"])
    except (RuntimeError, KeyError):  # run outside the app: the default program
        return get_program()


def _instant(value):
    value = UTCDateTime().process_result_value(value, None) if isinstance(value, datetime) else value
    if isinstance(value, str):  # SQLite returns text for raw column reads
        value = datetime.fromisoformat(value)
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    return value


def upgrade():
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('home_testing_enabled_on', sa.Date(), nullable=True))
    bind = op.get_bind()
    prog = _program()
    enabled = bind.execute(sa.text("SELECT id FROM patients WHERE home_testing_enabled")).scalars().all()
    for pid in enabled:
        entries = bind.execute(sa.text(
            "SELECT at, after FROM audit_entries WHERE action = 'patient.home_testing' AND object_type = 'patient' "
            "AND object_id = :oid ORDER BY id DESC"), {"oid": str(pid)}).all()
        since = None
        for at, after in entries:
            after = json.loads(after) if isinstance(after, str) else (after or {})
            if after.get("enabled"):
                since = local_date(_instant(at), prog)
                break
        if since is None:
            first = bind.execute(sa.text("SELECT min(enrolled_at) FROM courses WHERE patient_id = :pid"),
                                 {"pid": pid}).scalar()
            since = local_date(_instant(first), prog) if first is not None else None
        bind.execute(sa.text("UPDATE patients SET home_testing_enabled_on = :d WHERE id = :pid"),
                     {"d": since, "pid": pid})


def downgrade():
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_column('home_testing_enabled_on')
