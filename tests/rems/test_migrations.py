"""The schema exists only through migrations: models and migrations agree, and the chain goes
down to base and up again (issue: foundation)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from tests.support import backends


def _app(url):
    from rems import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x", "TESTING": True})


@pytest.fixture
def scratch_pg():
    backends.require("postgres")
    name = "rems_test_migrations"
    admin = sa.create_engine(backends.PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield backends.PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _diff(app):
    from rems.extensions import db

    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(ctx, db.metadata)


@pytest.mark.postgres
def test_models_and_migrations_agree_on_postgres(scratch_pg):
    app = _app(scratch_pg)
    with app.app_context():
        upgrade()
        assert _diff(app) == []
        from rems.extensions import db

        db.engine.dispose()


@pytest.mark.postgres
def test_downgrade_to_base_and_upgrade_again_on_postgres(scratch_pg):
    app = _app(scratch_pg)
    with app.app_context():
        from rems.extensions import db

        upgrade()
        downgrade(revision="base")
        tables = set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert tables == set()
        upgrade()
        assert "audit_entries" in sa.inspect(db.engine).get_table_names()
        db.engine.dispose()


def test_sqlite_upgrade_downgrade_upgrade(tmp_path):
    app = _app(f"sqlite:///{tmp_path / 'm.sqlite3'}")
    with app.app_context():
        from rems.extensions import db

        upgrade()
        assert _diff(app) == []
        downgrade(revision="base")
        upgrade()
        n = db.session.execute(sa.text("SELECT count(*) FROM comprehension_questions")).scalar()
        assert n >= 12  # R-ATT-1: the bank is seeded with at least 12 questions
        db.session.remove()
        db.engine.dispose()
