"""App factory, configuration, health, CLI and the dependency direction workflows <- rems <- worker."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from rems.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]


def _imports(package: str) -> set[str]:
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


def test_dependencies_point_one_way():
    assert not _imports("workflows") & {"flask", "sqlalchemy", "celery", "rems", "worker"}
    assert "worker" not in _imports("rems")


def test_embedded_defaults(tmp_path, monkeypatch):
    for var in ("REMS_DATABASE_URL", "REMS_REDIS_URL", "REMS_SMTP_URL", "REMS_SECRET_KEY", "REMS_ENV",
                "REMS_CLOCK_OFFSET_DAYS", "REMS_PROGRAM"):
        monkeypatch.delenv(var, raising=False)
    config = load_config(str(tmp_path))
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'rems.sqlite3'}"
    assert config["REDIS_URL"] is None and config["SMTP_URL"] is None
    assert config["PROGRAM"] == "ipledge-2026"
    # the generated secret key is kept in the instance folder and reused
    assert load_config(str(tmp_path))["SECRET_KEY"] == config["SECRET_KEY"]
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_postgres_and_redis_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("REMS_DATABASE_URL", "postgresql://u@db/rems")
    monkeypatch.setenv("REMS_REDIS_URL", "redis://r:6379/0")
    config = load_config(str(tmp_path))
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db/rems"
    assert config["REDIS_URL"] == "redis://r:6379/0"
    assert config["RATELIMIT_STORAGE_URI"] == "redis://r:6379/0"


def test_pool_size_follows_rems_db_pool_size(tmp_path, monkeypatch):
    """A gunicorn worker with more threads than pooled connections would open and close a
    connection per request beyond the pool: the pool size is a setting (SQLite has no pool to size)."""
    monkeypatch.setenv("REMS_DATABASE_URL", "postgresql://u@db/rems")
    assert load_config(str(tmp_path))["SQLALCHEMY_ENGINE_OPTIONS"] == {"pool_pre_ping": True, "pool_size": 5}
    monkeypatch.setenv("REMS_DB_POOL_SIZE", "8")
    assert load_config(str(tmp_path))["SQLALCHEMY_ENGINE_OPTIONS"]["pool_size"] == 8
    monkeypatch.setenv("REMS_DB_POOL_SIZE", "eight")
    with pytest.raises(ConfigError, match="REMS_DB_POOL_SIZE"):
        load_config(str(tmp_path))
    monkeypatch.delenv("REMS_DATABASE_URL")
    assert "pool_size" not in load_config(str(tmp_path))["SQLALCHEMY_ENGINE_OPTIONS"]


def test_production_requires_secret_key(tmp_path, monkeypatch):
    monkeypatch.delenv("REMS_SECRET_KEY", raising=False)
    monkeypatch.setenv("REMS_ENV", "production")
    with pytest.raises(ConfigError, match="REMS_SECRET_KEY"):
        load_config(str(tmp_path))


def test_clock_offset_refused_in_production(tmp_path, monkeypatch):
    monkeypatch.setenv("REMS_ENV", "production")
    monkeypatch.setenv("REMS_SECRET_KEY", "k")
    monkeypatch.setenv("REMS_CLOCK_OFFSET_DAYS", "3")
    with pytest.raises(ConfigError, match="CLOCK_OFFSET"):
        load_config(str(tmp_path))


def test_unknown_program_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("REMS_PROGRAM", "ipledge-1999")
    with pytest.raises(ConfigError, match="REMS_PROGRAM"):
        load_config(str(tmp_path))


def test_clock_offset_moves_today(app):
    from rems.clock import today

    before = today()
    app.config["CLOCK_OFFSET_DAYS"] = 10
    assert (today() - before).days == 10


@pytest.mark.parametrize("real_utc, offset", [
    ("2026-11-26T04:30:00+00:00", 130),  # 23:30 EST; 130 days later is after the March change (EDT)
    ("2027-03-14T04:30:00+00:00", 1),  # 23:30 EST, the night the clocks spring forward
    ("2027-11-07T04:30:00+00:00", 1),  # 00:30 EDT, the night they fall back
])
def test_clock_offset_moves_the_local_date_exactly_across_dst(app, monkeypatch, real_utc, offset):
    """R-TIME-1: `today` moves by exactly the offset in program-local dates, whatever the hour: a
    plain UTC shift took 23:30 EST + 130 days to 00:30 EDT, a day too far (found by CI at 04:10 UTC)."""
    from datetime import datetime, timedelta

    from rems import clock
    from workflows import local_date

    real = datetime.fromisoformat(real_utc)

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return real.astimezone(tz) if tz else real.replace(tzinfo=None)

    monkeypatch.setattr(clock, "datetime", Frozen)
    app.config["CLOCK_OFFSET_DAYS"] = offset
    assert clock.today() == local_date(real, clock.program()) + timedelta(days=offset)
    assert clock.now().tzinfo is not None and clock.now().utcoffset() == timedelta(0)
    assert abs(clock.now() - (real + timedelta(days=offset))) <= timedelta(hours=1)


def test_healthz_ok_in_process(client):
    body = client.get("/healthz").get_json()
    assert body["database"] == "ok" and body["broker"] == "in-process" and body["status"] == "ok"


def test_healthz_503_when_database_down(tmp_path):
    from rems import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none",
                      "SECRET_KEY": "x", "TESTING": True, "INSTANCE_PATH": str(tmp_path)})
    resp = app.test_client().get("/healthz")
    assert resp.status_code == 503
    assert resp.get_json()["database"] == "down"


def test_cli_create_admin_and_audit_verify(runner):
    result = runner.invoke(args=["users", "create-admin", "--email", "Boss@Example.org",
                                 "--password", "a long enough passphrase"])
    assert result.exit_code == 0, result.output
    assert "boss@example.org" in result.output
    weak = runner.invoke(args=["users", "create-admin", "--email", "b2@example.org", "--password", "short"])
    assert weak.exit_code != 0 and "PASSWORD_POLICY" in weak.output
    verify = runner.invoke(args=["audit", "verify"])
    assert verify.exit_code == 0 and '"ok": true' in verify.output


@pytest.mark.parametrize("url", ["sqlite:///{tmp}/never-migrated.sqlite3",
                                 "postgresql+psycopg://nobody@127.0.0.1:1/none"])
def test_cli_database_error_is_a_message_not_a_traceback(tmp_path, url):
    """`rems` against a database that was never migrated, or cannot be reached: exit 1 with a
    sentence that says what to check, no traceback."""
    from click.testing import CliRunner

    from rems.cli import main

    env = {"REMS_DATABASE_URL": url.format(tmp=tmp_path), "REMS_INSTANCE_PATH": str(tmp_path)}
    result = CliRunner().invoke(main, ["audit", "verify"], env=env)
    assert result.exit_code == 1, result.output
    assert "database error:" in result.output and "rems db upgrade" in result.output
    assert "Traceback" not in result.output


def test_demo_seed_builds_every_state(app, runner):
    """The demo practice has patients in every course state, built through the real services."""
    from sqlalchemy import select

    from rems.extensions import db
    from rems.models import Course

    result = runner.invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    assert "admin@demo.rems" in result.output
    states = set(db.session.execute(select(Course.status)).scalars())
    assert states == {"enrolled", "active", "pregnancy_reported", "post_treatment", "completed"}
    again = runner.invoke(args=["demo", "seed"])
    assert "already present" in again.output


def _newest_migration() -> str:
    from pathlib import Path

    import rems

    versions = Path(rems.__file__).resolve().parent.parent / "migrations" / "versions"
    return sorted(p.name for p in versions.glob("[0-9][0-9][0-9][0-9]_*.py"))[-1][:4]


def test_readyz_200_at_the_code_s_migration_head(client):
    resp = client.get("/readyz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ready", "database": "ok", "schema": "ok"}


def test_readyz_503_when_the_schema_is_behind_the_code(app, client):
    """A release deployed before `rems db upgrade`: not ready, and it says what to run."""
    from sqlalchemy import text

    from rems.extensions import db

    head = _newest_migration()
    db.session.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    db.session.commit()
    try:
        resp = client.get("/readyz")
        body = resp.get_json()
        assert resp.status_code == 503 and body["status"] == "not ready" and body["database"] == "ok"
        assert body["schema"] == f"at 0001: run `rems db upgrade` (the code expects {head})"
        assert client.get("/healthz").status_code == 200  # alive, only not ready
    finally:
        db.session.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
        db.session.commit()
    assert client.get("/readyz").status_code == 200


def test_readyz_503_on_a_database_never_migrated(tmp_path):
    from rems import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'empty.sqlite3'}",
                      "SECRET_KEY": "x", "TESTING": True, "INSTANCE_PATH": str(tmp_path)})
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 503
    assert resp.get_json()["schema"] == (f"not migrated: run `rems db upgrade` (the code expects "
                                         f"{_newest_migration()})")


def test_readyz_503_when_database_down(tmp_path):
    from rems import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none",
                      "SECRET_KEY": "x", "TESTING": True, "INSTANCE_PATH": str(tmp_path)})
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 503
    assert resp.get_json() == {"status": "not ready", "database": "down", "schema": "unknown"}
