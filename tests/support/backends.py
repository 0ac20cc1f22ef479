"""Test databases: PostgreSQL (migrated once per session, truncated after each test) or SQLite
(migrated once into a template file, copied for each test)."""
from __future__ import annotations

import os
import shutil
import socket

import pytest

PG_ADMIN_URL = os.environ.get("REMS_TEST_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PG_TEST_DB = os.environ.get("REMS_TEST_PG_DB", "rems_test")
REDIS_URL = os.environ.get("REMS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
APPEND_ONLY = ("audit_entries", "audit_entry_patients", "signatures")  # tables with triggers refusing changes


def backend() -> str:
    return os.environ.get("REMS_TEST_DB", "postgres")


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def postgres_up() -> bool:
    return _port_open("127.0.0.1", 5432)


def redis_up() -> bool:
    return _port_open("127.0.0.1", 6379)


def on_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def check_required_services() -> None:
    """On CI the services must be there: a missing one fails the run instead of skipping tests."""
    if on_ci():
        missing = [name for name, up in (("PostgreSQL", postgres_up()), ("Redis", redis_up())) if not up]
        if missing:
            raise pytest.UsageError(f"CI=true but {', '.join(missing)} not reachable on 127.0.0.1")


def require(service: str) -> None:
    """Skip locally when a service is absent; fail on CI."""
    up = {"postgres": postgres_up, "redis": redis_up}[service]()
    if not up:
        if on_ci():
            pytest.fail(f"{service} is required on CI and is not reachable")
        pytest.skip(f"{service} not reachable")


def _migrate(url: str) -> None:
    from flask_migrate import upgrade

    from rems import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "migrate", "TESTING": True})
    with app.app_context():
        upgrade()
        from rems.extensions import db

        db.engine.dispose()


def prepare_database(tmpdir) -> str:
    if backend() == "sqlite":
        template = tmpdir / "template.sqlite3"
        _migrate(f"sqlite:///{template}")
        return f"sqlite:///{template}"
    require("postgres")
    import sqlalchemy as sa

    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{PG_TEST_DB}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{PG_TEST_DB}"'))
    admin.dispose()
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{PG_TEST_DB}"
    _migrate(url)
    return url


def fresh_database(url: str, tmp_path) -> str:
    if url.startswith("sqlite:///"):
        copy = tmp_path / "rems.sqlite3"
        shutil.copyfile(url[len("sqlite:///"):], copy)
        return f"sqlite:///{copy}"
    return url


def cleanup(app, url: str) -> None:
    if url.startswith("sqlite"):
        return
    from rems.extensions import db
    from rems.models import ComprehensionQuestion
    from rems.question_bank import rows

    tables = [t.name for t in db.metadata.sorted_tables]
    with db.engine.begin() as conn:
        for t in APPEND_ONLY:
            conn.exec_driver_sql(f"ALTER TABLE {t} DISABLE TRIGGER USER")
        conn.exec_driver_sql(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        for t in APPEND_ONLY:
            conn.exec_driver_sql(f"ALTER TABLE {t} ENABLE TRIGGER USER")
        conn.execute(ComprehensionQuestion.__table__.insert(), rows())
