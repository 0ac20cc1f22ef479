"""audit append function (lock, head, hash and insert in one round trip)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 00:50:00

R-AUD-1: an audited request took two round trips for its entry: `audit_chain_head` (advisory lock,
then the committed head under a fresh snapshot) and the INSERT. `audit_append` does both. The hash
is the same one Python computes and `verify` checks: sha256(prev_hash || canonical content), where
Python sends the canonical content in two parts, before and after the id (`"...,"id":` and `,...}`),
because the id is only known once the lock is held (rems/services/audit.py). It replaces
`audit_chain_head` (0004), which nothing calls any more. PostgreSQL only.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
CREATE FUNCTION audit_append(
  lock_key bigint, content_head text, content_tail text, p_at timestamptz, p_actor_id integer,
  p_actor_role varchar, p_ip varchar, p_action varchar, p_object_type varchar, p_object_id varchar,
  p_patient_id integer, p_before json, p_after json,
  OUT new_id integer, OUT new_prev_hash varchar, OUT new_entry_hash varchar)
RETURNS record LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(lock_key);
  -- a new statement: a fresh snapshot, taken after the lock was granted
  SELECT a.id, a.entry_hash INTO new_id, new_prev_hash FROM audit_entries a ORDER BY a.id DESC LIMIT 1;
  new_id := coalesce(new_id, 0) + 1;
  new_prev_hash := coalesce(new_prev_hash, repeat('0', 64));
  new_entry_hash := encode(sha256(convert_to(new_prev_hash || content_head || new_id::text || content_tail,
                                             'UTF8')), 'hex');
  INSERT INTO audit_entries (id, at, actor_id, actor_role, ip, action, object_type, object_id, patient_id,
                             before, after, prev_hash, entry_hash)
  VALUES (new_id, p_at, p_actor_id, p_actor_role, p_ip, p_action, p_object_type, p_object_id, p_patient_id,
          p_before, p_after, new_prev_hash, new_entry_hash);
END
$$""")
    op.execute("DROP FUNCTION audit_chain_head(bigint)")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
CREATE FUNCTION audit_chain_head(lock_key bigint, OUT id integer, OUT entry_hash varchar)
RETURNS SETOF record LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(lock_key);
  RETURN QUERY SELECT a.id, a.entry_hash FROM audit_entries a ORDER BY a.id DESC LIMIT 1;
END
$$""")
    op.execute("DROP FUNCTION audit_append(bigint, text, text, timestamptz, integer, varchar, varchar, varchar, "
               "varchar, varchar, integer, json, json)")
