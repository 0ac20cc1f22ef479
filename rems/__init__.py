"""The REMS compliance workflow service: Flask app factory (architecture.md example 1)."""
from __future__ import annotations

from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict | None = None) -> Flask:
    from rems import errors, extensions, health
    from rems.config import load_config

    config = dict(config or {})
    app = Flask(__name__, template_folder=str(ROOT / "templates"), instance_relative_config=True,
                instance_path=config.pop("INSTANCE_PATH", None))
    app.config.update(load_config(app.instance_path, config))

    extensions.db.init_app(app)
    extensions.migrate.init_app(app, extensions.db, directory=str(ROOT / "migrations"))
    from rems.security import inputs
    inputs.init_app(app)  # before CSRF and every view: a NUL byte never reaches the database
    extensions.csrf.init_app(app)
    import rems.models  # noqa: F401  (register tables)

    errors.init_app(app)
    from rems import cli

    cli.init_app(app)
    app.register_blueprint(health.bp)

    from rems import api
    api.init_app(app)

    from rems import tasks
    tasks.init_app(app)

    try:
        from rems import web
    except ImportError:  # web pages land with their issue
        web = None
    if getattr(web, "init_app", None) is not None:  # an empty rems/web/ (namespace package) has none
        web.init_app(app)

    from rems.security import headers, ratelimit
    headers.init_app(app)  # the single source of security headers
    ratelimit.init_app(app)  # last: wraps the sign-in, activation and signing views of every blueprint
    return app
