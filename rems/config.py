"""Configuration from the REMS_* environment variables (api.md, Operations)."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from workflows.program import DEFAULT_PROGRAM, PROGRAMS


class ConfigError(RuntimeError):
    """The service refuses to start with this configuration."""


ENVIRONMENTS = ("development", "production")
# signs the sessions and keys the one-time code hand-over (rems/web/handover.py): in production a
# guessable key is refused like a missing one (`openssl rand -hex 32` gives 64 characters)
MIN_PRODUCTION_SECRET_LENGTH = 32


def _secret_key(instance_path: Path, production: bool) -> str:
    key = os.environ.get("REMS_SECRET_KEY")
    if key and production and len(key) < MIN_PRODUCTION_SECRET_LENGTH:
        raise ConfigError(f"REMS_SECRET_KEY is too short for REMS_ENV=production ({len(key)} characters): use "
                          f"at least {MIN_PRODUCTION_SECRET_LENGTH} random characters, e.g. `openssl rand -hex 32`")
    if key:
        return key
    if production:
        raise ConfigError("REMS_SECRET_KEY must be set when REMS_ENV=production")
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    key = secrets.token_urlsafe(48)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


def _engine_options(db_url: str) -> dict:
    """The connection pool: a worker process keeps REMS_DB_POOL_SIZE connections (default 5, at
    least its gunicorn threads: a request beyond the pool opens and closes a connection of its own)."""
    options: dict = {"pool_pre_ping": True}
    if not db_url.startswith("sqlite"):
        try:
            options["pool_size"] = int(os.environ.get("REMS_DB_POOL_SIZE", "5"))
        except ValueError as exc:
            raise ConfigError("REMS_DB_POOL_SIZE must be an integer") from exc
    return options


def _sweep_parts() -> int:
    """REMS_SWEEP_PARTS: the beat's reminder sweep is sent as this many part tasks, which workers
    run at once (rems.services.reminders_due.Shard); 1: one task."""
    raw = os.environ.get("REMS_SWEEP_PARTS", "1")
    try:
        parts = int(raw)
    except ValueError:
        parts = 0
    if not 1 <= parts <= 32:
        raise ConfigError(f"REMS_SWEEP_PARTS must be a whole number from 1 to 32, not {raw!r}")
    return parts


def load_config(instance_path: str, overrides: dict | None = None) -> dict:
    """Build the Flask config: embedded defaults unless REMS_* variables say otherwise."""
    overrides = dict(overrides or {})
    ipath = Path(instance_path)
    ipath.mkdir(parents=True, exist_ok=True)
    env = overrides.get("REMS_ENV", os.environ.get("REMS_ENV") or "development")
    if env not in ENVIRONMENTS:  # a typo ("prod") must not quietly drop the production checks
        raise ConfigError(f"unknown REMS_ENV {env!r}; known: {', '.join(ENVIRONMENTS)}")
    production = env == "production"
    try:
        offset = int(overrides.get("CLOCK_OFFSET_DAYS", os.environ.get("REMS_CLOCK_OFFSET_DAYS", "0")))
    except ValueError as exc:
        raise ConfigError("REMS_CLOCK_OFFSET_DAYS must be an integer") from exc
    if production and offset:
        raise ConfigError("REMS_CLOCK_OFFSET_DAYS is refused when REMS_ENV=production")
    program = overrides.get("PROGRAM", os.environ.get("REMS_PROGRAM", DEFAULT_PROGRAM))
    if program not in PROGRAMS:
        raise ConfigError(f"unknown REMS_PROGRAM {program!r}; known: {', '.join(PROGRAMS)}")
    db_url = os.environ.get("REMS_DATABASE_URL") or f"sqlite:///{ipath / 'rems.sqlite3'}"
    if db_url.startswith("postgresql://"):
        db_url = "postgresql+psycopg://" + db_url[len("postgresql://"):]
    redis_url = os.environ.get("REMS_REDIS_URL") or None
    config = {
        "REMS_ENV": env,
        "SECRET_KEY": overrides.get("SECRET_KEY") or _secret_key(ipath, production),
        "SQLALCHEMY_DATABASE_URI": db_url,
        "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(db_url),
        "REDIS_URL": redis_url,
        "SMTP_URL": os.environ.get("REMS_SMTP_URL") or None,
        "MAIL_FROM": os.environ.get("REMS_MAIL_FROM", "iPLEDGE-style REMS <no-reply@rems.example>"),
        "MAIL_DIR": str(ipath / "mail"),
        # copies of the audit chain's head, outside the database (rems.services.audit.anchor)
        "AUDIT_ANCHOR_FILE": os.environ.get("REMS_AUDIT_ANCHOR_FILE") or str(ipath / "audit-anchors.jsonl"),
        "PROGRAM": program,
        "CLOCK_OFFSET_DAYS": offset,
        "SWEEP_PARTS": _sweep_parts(),
        "TOKEN_TTL_HOURS": 12,
        "ACTIVATION_TTL_DAYS": 30,
        "SESSION_IDLE_MINUTES": 15,
        "SESSION_ABSOLUTE_HOURS": 12,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "WTF_CSRF_TIME_LIMIT": None,
        "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "RATELIMIT_ENABLED": True,
        "TESTING": False,
    }
    config.update(overrides)
    return config
