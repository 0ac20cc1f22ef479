"""GET /healthz: database, broker and worker state. GET /readyz: may this process take traffic."""
from __future__ import annotations

from functools import lru_cache

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from rems.extensions import db

bp = Blueprint("health", __name__)


def _database() -> str:
    try:
        db.session.execute(text("SELECT 1"))
        return "ok"
    except Exception:  # noqa: BLE001 - any failure means "down"
        db.session.rollback()
        return "down"


# queue -> the key its workers renew (worker/celery_app.py's heartbeat task): one per queue, so a
# stopped pdf worker does not hide behind a live default one
HEARTBEAT_KEYS = {"default": "rems:worker:heartbeat", "pdf": "rems:worker:heartbeat:pdf"}
# field of /healthz -> key
HEARTBEATS = {"worker": HEARTBEAT_KEYS["default"], "pdf_worker": HEARTBEAT_KEYS["pdf"]}


def _broker_and_workers() -> tuple[str, dict[str, str]]:
    url = current_app.config.get("REDIS_URL")
    if not url:
        return "in-process", {name: "in-process" for name in HEARTBEATS}
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
        client.ping()
        seen = client.mget(list(HEARTBEATS.values()))
        return "ok", {name: "ok" if beat else "none seen" for name, beat in zip(HEARTBEATS, seen, strict=True)}
    except Exception:  # noqa: BLE001
        return "down", {name: "unknown" for name in HEARTBEATS}


def pdf_workers() -> str:
    """The pdf queue's workers, for a page that shows a PDF still being prepared (R-DOC-1):
    "in-process" (no broker: the request that signs renders the PDF right after its commit), "ok" (a
    heartbeat seen within its time to live), "none seen", or "unknown" (Redis did not answer). One GET
    on a client kept per process, a quarter of a second at most, never retried: the page must not
    wait for it."""
    if current_app.extensions.get("rems_celery_client") is None:  # rems.tasks.init_app
        return "in-process"
    try:
        client = current_app.extensions.get("rems_heartbeat_redis")
        if client is None:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            client = redis.Redis.from_url(current_app.config["REDIS_URL"], socket_connect_timeout=0.25,
                                          socket_timeout=0.25, retry=Retry(NoBackoff(), 0))
            current_app.extensions["rems_heartbeat_redis"] = client
        return "ok" if client.get(HEARTBEAT_KEYS["pdf"]) else "none seen"
    except Exception as exc:  # noqa: BLE001 - Redis down or slow: the page says it cannot tell
        current_app.logger.warning("pdf worker heartbeat not readable: %s", exc)
        return "unknown"


@bp.get("/healthz")
def healthz():
    """`worker`: the default queue's workers (reminders, email); `pdf_worker`: the pdf queue's."""
    database = _database()
    broker, workers = _broker_and_workers()
    status = "ok" if database == "ok" and broker != "down" else "degraded"
    code = 503 if database != "ok" else 200
    return jsonify(status=status if code == 200 else "down", database=database, broker=broker,
                   **workers, program=current_app.config["PROGRAM"]), code


@lru_cache(maxsize=4)
def _schema_head(directory: str) -> str:
    """The newest migration this code ships (read from the scripts once per process)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(directory).get_current_head()


def _schema() -> str:
    """'ok' when the database is at the code's migration head; otherwise what to do about it."""
    head = _schema_head(current_app.extensions["migrate"].directory)
    try:
        found = db.session.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except Exception:  # noqa: BLE001 - no alembic_version table: never migrated
        db.session.rollback()
        return f"not migrated: run `rems db upgrade` (the code expects {head})"
    if found == [head]:
        return "ok"
    return f"at {', '.join(found) or 'nothing'}: run `rems db upgrade` (the code expects {head})"


@bp.get("/readyz")
def readyz():
    """Readiness for a load balancer or orchestrator: 200 only when the database answers and its
    schema is the one this code expects (a release deployed before `rems db upgrade` would fail its
    requests). The broker is not required: work saved while it is down is re-queued by the sweep."""
    database = _database()
    schema = _schema() if database == "ok" else "unknown"
    ready = database == "ok" and schema == "ok"
    return jsonify(status="ready" if ready else "not ready", database=database, schema=schema), \
        200 if ready else 503
