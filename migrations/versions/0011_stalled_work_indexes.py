"""the reminder sweep finds stalled PDFs and unsent notifications through small indexes

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 16:30:00

Each sweep queues again the documents still pending (R-DOC-1) and the notifications never emailed
(R-PT-4) (rems.services.reminders._requeue_stalled): a request whose commit found the broker down
queued nothing. Partial indexes keep those two look-ups to the rows they can return instead of a
scan of every document and notification ever written.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

PENDING = sa.text("status = 'pending'")
UNSENT = sa.text("emailed_at IS NULL")


def upgrade():
    op.create_index("ix_documents_pending", "documents", ["created_at"],
                    postgresql_where=PENDING, sqlite_where=PENDING)
    op.create_index("ix_notifications_unsent", "notifications", ["created_at"],
                    postgresql_where=UNSENT, sqlite_where=UNSENT)


def downgrade():
    op.drop_index("ix_notifications_unsent", table_name="notifications")
    op.drop_index("ix_documents_pending", table_name="documents")
