"""a reminder whose date passed before it could be emailed is dropped, not sent late

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 17:15:00

A reminder names a day (the window closes, the precautions or a certification end): one still
unsent after that day (the mail server or the broker was down) would tell its reader something
false. Its delivery records `dropped_at` instead of emailing it, and the sweep stops re-queuing it
(rems.services.reminders).
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("reminders_sent") as batch:
        batch.add_column(sa.Column("dropped_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("reminders_sent") as batch:
        batch.drop_column("dropped_at")
