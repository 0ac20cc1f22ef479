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


def _backfill_case(app):
    """0007: an existing category change gets the course that was running when it was recorded."""
    from rems.extensions import db

    upgrade(revision="0006")
    ins = [
        "INSERT INTO users (id, email, role, status, first_name, last_name, password_hash, created_at, "
        "failed_logins) VALUES (1, 'p@x.org', 'prescriber', 'active', 'P', 'Q', 'x', '2026-01-01', 0), "
        "(2, 'a@x.org', 'patient', 'active', 'A', 'B', 'x', '2026-01-01', 0)",
        "INSERT INTO prescribers (id, user_id, npi, license_state, license_number, status, created_at) "
        "VALUES (1, 1, '1245319599', 'NY', 'L1', 'certified', '2026-01-01')",
        "INSERT INTO patients (id, user_id, rems_id, name_key, first_name, last_name, date_of_birth, email, "
        "category, prescriber_id, home_testing_enabled, created_at) VALUES (1, 2, 'R1', 'a|b', 'A', 'B', "
        "'2000-01-01', 'a@x.org', 'cannot_get_pregnant', 1, false, '2026-01-01')",
        "INSERT INTO courses (id, patient_id, enrolled_at, status, version) VALUES "
        "(1, 1, '2026-01-01T12:00:00+00:00', 'completed', 1), (2, 1, '2026-06-01T12:00:00+00:00', 'active', 1)",
        "INSERT INTO category_changes (id, patient_id, from_category, to_category, reason, recorded_at, "
        "recorded_by_id) VALUES (1, 1, 'can_get_pregnant', 'cannot_get_pregnant', 'r', "
        "'2026-03-01T12:00:00+00:00', 1), (2, 1, 'cannot_get_pregnant', 'can_get_pregnant', 'r', "
        "'2026-07-01T12:00:00+00:00', 1)",
    ]
    for sql in ins:
        db.session.execute(sa.text(sql))
    db.session.commit()
    upgrade()
    got = db.session.execute(sa.text("SELECT id, course_id FROM category_changes ORDER BY id")).all()
    assert [tuple(r) for r in got] == [(1, 1), (2, 2)]
    db.session.remove()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def scratch_app(request, tmp_path):
    """A fresh, empty database of each kind (nothing migrated yet), with its app context."""
    url = (f"sqlite:///{tmp_path / 'm.sqlite3'}" if request.param == "sqlite"
           else request.getfixturevalue("scratch_pg"))
    app = _app(url)
    with app.app_context():
        from rems.extensions import db

        yield app
        db.session.remove()
        db.engine.dispose()


def test_0007_backfills_the_course_of_category_changes(scratch_app):
    _backfill_case(scratch_app)


def _home_testing_case(app):
    """0008 (R-PT-3): a patient with home testing on gets the program-local day of the audit entry
    that last turned it on; one without such an entry the first day of their first course; a
    patient with it off gets no day."""
    from rems.extensions import db

    upgrade(revision="0007")
    users = ", ".join(f"({i}, 'u{i}@x.org', '{'prescriber' if i == 1 else 'patient'}', 'active', 'P', 'Q', 'x', "
                      f"'2026-01-01', 0)" for i in (1, 2, 3, 4))
    patients = ", ".join(f"({i}, {i + 1}, 'R{i}', 'a|b{i}', 'A', 'B', '2000-01-01', 'a{i}@x.org', 'can_get_pregnant', "
                         f"1, {'true' if i < 3 else 'false'}, '2026-01-01')" for i in (1, 2, 3))
    entry = ("'patient', '{oid}', {oid}, '{before}', '{after}', '" + "0" * 64 + "', '{hash}'")
    ins = [
        "INSERT INTO users (id, email, role, status, first_name, last_name, password_hash, created_at, "
        f"failed_logins) VALUES {users}",
        "INSERT INTO prescribers (id, user_id, npi, license_state, license_number, status, created_at) "
        "VALUES (1, 1, '1245319599', 'NY', 'L1', 'certified', '2026-01-01')",
        "INSERT INTO patients (id, user_id, rems_id, name_key, first_name, last_name, date_of_birth, email, "
        f"category, prescriber_id, home_testing_enabled, created_at) VALUES {patients}",
        "INSERT INTO courses (id, patient_id, enrolled_at, status, version) VALUES "
        "(1, 1, '2026-01-05T12:00:00+00:00', 'active', 1), (2, 2, '2026-02-03T12:00:00+00:00', 'active', 1), "
        "(3, 3, '2026-02-03T12:00:00+00:00', 'active', 1)",
        # patient 1: on (Feb 1), off, on again at 03:00 UTC on Mar 10 = Mar 9 in New York
        "INSERT INTO audit_entries (id, at, action, object_type, object_id, patient_id, before, after, "
        "prev_hash, entry_hash) VALUES "
        "(1, '2026-02-01T15:00:00+00:00', 'patient.home_testing', "
        + entry.format(oid=1, before='{"enabled": false}', after='{"enabled": true}', hash="1" * 64) + "), "
        "(2, '2026-03-01T15:00:00+00:00', 'patient.home_testing', "
        + entry.format(oid=1, before='{"enabled": true}', after='{"enabled": false}', hash="2" * 64) + "), "
        "(3, '2026-03-10T03:00:00+00:00', 'patient.home_testing', "
        + entry.format(oid=1, before='{"enabled": false}', after='{"enabled": true}', hash="3" * 64) + ")",
    ]
    for sql in ins:
        db.session.execute(sa.text(sql))
    db.session.commit()
    upgrade()
    got = db.session.execute(sa.text("SELECT id, home_testing_enabled_on FROM patients ORDER BY id")).all()
    assert [(i, str(d) if d else None) for i, d in got] == [(1, "2026-03-09"), (2, "2026-02-03"), (3, None)]
    db.session.remove()


def test_0008_backfills_the_day_home_testing_was_enabled(scratch_app):
    _home_testing_case(scratch_app)


def test_0013_adds_and_removes_the_append_only_index_of_listed_patients(scratch_app):
    """R-AUD-1: 0013 adds audit_entry_patients (the patients each list entry showed), indexed by
    patient and append-only like the entries; its downgrade takes it away and upgrading again works."""
    from rems.extensions import db

    upgrade(revision="0013")
    inspector = sa.inspect(db.engine)
    assert {"entry_id", "patient_id"} == {c["name"] for c in inspector.get_columns("audit_entry_patients")}
    assert any(i["column_names"] == ["patient_id", "entry_id"] for i in inspector.get_indexes("audit_entry_patients"))
    db.session.execute(sa.text("INSERT INTO audit_entries (id, at, action, prev_hash, entry_hash) VALUES "
                               f"(1, '2026-11-27T12:00:00+00:00', 'patients.listed', '{'0' * 64}', '{'1' * 64}')"))
    db.session.execute(sa.text("INSERT INTO audit_entry_patients (entry_id, patient_id) VALUES (1, 5)"))
    db.session.commit()
    for statement in ("UPDATE audit_entry_patients SET patient_id = 6", "DELETE FROM audit_entry_patients"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            db.session.execute(sa.text(statement))
        db.session.rollback()
    db.session.remove()
    downgrade(revision="0012")
    assert "audit_entry_patients" not in sa.inspect(db.engine).get_table_names()
    upgrade()
    assert "audit_entry_patients" in sa.inspect(db.engine).get_table_names()
    db.session.remove()
