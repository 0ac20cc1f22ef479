"""Shared fixtures (Flask tutorial style): app, client, runner, per-test database, factories, login_as.

The suite runs on PostgreSQL by default (REMS_TEST_DB=postgres) and again on the embedded SQLite
default (REMS_TEST_DB=sqlite). With CI=true a missing PostgreSQL or Redis is a failure, not a skip.
"""
from __future__ import annotations

import os
import shutil

import pytest

from tests.support import backends

pytest_plugins = ["tests.support.factories"]


def pytest_configure(config):
    backends.check_required_services()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    return backends.prepare_database(tmp_path_factory.mktemp("db"))


@pytest.fixture
def app(database_url, tmp_path):
    from rems import create_app
    from rems.extensions import db

    url = backends.fresh_database(database_url, tmp_path)
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": url,
        "PASSWORD_HASH_FAST": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "MAIL_DIR": str(tmp_path / "mail"),
        "REDIS_URL": None,
        "RATELIMIT_STORAGE_URI": "memory://",
    })
    with app.app_context():
        yield app
        db.session.remove()
        backends.cleanup(app, database_url)
        db.engine.dispose()
    shutil.rmtree(tmp_path / "instance", ignore_errors=True)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def backend():
    return os.environ.get("REMS_TEST_DB", "postgres")
