"""category changes belong to a course

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 05:30:00

R-PAT-2: a category change applies from the next authorization on, so the rules engine walks a
course's changes with its other records (workflows/cycles.py) instead of replaying the whole course
in the current category. Like the other records, a change now names its course: existing rows get
the patient's course that was running when the change was recorded (the latest one enrolled before
it; the patient's first course otherwise).
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('category_changes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('course_id', sa.Integer(), nullable=True))
    op.execute("""
UPDATE category_changes SET course_id = coalesce(
  (SELECT c.id FROM courses c WHERE c.patient_id = category_changes.patient_id
     AND c.enrolled_at <= category_changes.recorded_at ORDER BY c.id DESC LIMIT 1),
  (SELECT c.id FROM courses c WHERE c.patient_id = category_changes.patient_id ORDER BY c.id LIMIT 1))""")
    with op.batch_alter_table('category_changes', schema=None) as batch_op:
        batch_op.alter_column('course_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(batch_op.f('fk_category_changes_course_id_courses'), 'courses',
                                    ['course_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_category_changes_course_id'), ['course_id'], unique=False)


def downgrade():
    with op.batch_alter_table('category_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_category_changes_course_id'))
        batch_op.drop_constraint(batch_op.f('fk_category_changes_course_id_courses'), type_='foreignkey')
        batch_op.drop_column('course_id')
