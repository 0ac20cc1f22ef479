"""seed the comprehension question bank (R-ATT-1)

Revision ID: 0002
Revises: 0001
"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# The starting bank; administrators edit it in the app afterwards.
from rems.question_bank import rows  # noqa: E402


def upgrade():
    table = sa.table("comprehension_questions", sa.column("text", sa.String), sa.column("explanation", sa.String),
                     sa.column("choices", sa.JSON), sa.column("active", sa.Boolean),
                     sa.column("updated_at", sa.DateTime(timezone=True)))
    now = datetime.now(UTC)
    if op.get_bind().dialect.name == "sqlite":
        now = now.replace(tzinfo=None)
    op.bulk_insert(table, [{**r, "updated_at": now} for r in rows()])


def downgrade():
    op.execute("DELETE FROM comprehension_questions")
