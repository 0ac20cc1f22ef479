"""GET /healthz: database, broker and worker state."""
from __future__ import annotations

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


def _broker_and_worker() -> tuple[str, str]:
    url = current_app.config.get("REDIS_URL")
    if not url:
        return "in-process", "in-process"
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
        client.ping()
        heartbeat = client.get("rems:worker:heartbeat")
        return "ok", "ok" if heartbeat else "none seen"
    except Exception:  # noqa: BLE001
        return "down", "unknown"


@bp.get("/healthz")
def healthz():
    database = _database()
    broker, worker = _broker_and_worker()
    status = "ok" if database == "ok" and broker != "down" else "degraded"
    code = 503 if database != "ok" else 200
    return jsonify(status=status if code == 200 else "down", database=database, broker=broker,
                   worker=worker, program=current_app.config["PROGRAM"]), code
