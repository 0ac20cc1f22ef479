"""A real Celery worker subprocess and a real SMTP capture server for the integration tests.

The worker runs `worker.celery_app` (through tests.worker.celery_test_app, which only adds a unique
Redis key prefix and a short visibility timeout) against the test's own database and a dedicated
Redis DB, so parallel runs and other engineers' Redis data never mix.
"""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("REMS_TEST_WORKER_REDIS_URL", "redis://127.0.0.1:6379/13")
VISIBILITY_TIMEOUT = 3  # seconds before an unacked message of a dead worker is redelivered


def transport_options(prefix: str) -> dict:
    return {"global_keyprefix": prefix, "visibility_timeout": VISIBILITY_TIMEOUT,
            "unacked_restore_interval": 1, "unacked_restore_throttle": 1}


def producer(prefix: str):
    """The Celery client the test's Flask app sends through (same broker, same prefix)."""
    from celery import Celery

    client = Celery("rems-test-producer", broker=REDIS_URL)
    client.conf.update(task_serializer="json", accept_content=["json"],
                       broker_transport_options=transport_options(prefix))
    return client


class Worker:
    def __init__(self, database_url: str, smtp_url: str, prefix: str, log_dir: Path, clock_offset: int = 0,
                 env: dict | None = None, queues: str = "default,pdf"):
        self.prefix, self.log_dir, self.proc, self.runs, self.queues = prefix, log_dir, None, 0, queues
        self.env = {**os.environ, "REMS_DATABASE_URL": database_url, "REMS_REDIS_URL": REDIS_URL,
                    "REMS_SMTP_URL": smtp_url, "REMS_SECRET_KEY": "worker-test", "REMS_ENV": "development",
                    "REMS_CLOCK_OFFSET_DAYS": str(clock_offset), "REMS_TEST_CELERY_PREFIX": prefix,
                    "REMS_AUDIT_ANCHOR_FILE": str(log_dir / "audit-anchors.jsonl"), **(env or {})}

    @property
    def log(self) -> Path:
        return self.log_dir / f"worker-{self.runs}.log"

    def start(self, timeout: float = 30) -> None:
        self.runs += 1
        out = self.log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tests.worker.celery_test_app", "worker",
             "-Q", self.queues,
             "-l", "info", "-c", "1", "--without-gossip", "--without-mingle", "--without-heartbeat",
             "-n", f"test-{uuid.uuid4().hex[:8]}@%h"],
            cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if b" ready." in self.log.read_bytes():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"worker did not start:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children): no chance to clean up."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


class Inbox:
    """aiosmtpd handler: records accepted messages; can refuse the first N, slow or hook each EHLO."""

    def __init__(self, refuse: int = 0, ehlo_delay: float = 0.0):
        self.messages, self.refused, self.data_calls, self.ehlos = [], 0, 0, 0
        self.refuse, self.ehlo_delay, self.on_ehlo = refuse, ehlo_delay, None
        self.lock = threading.Lock()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        with self.lock:
            self.ehlos += 1
            n = self.ehlos
        if self.on_ehlo:
            self.on_ehlo(n)
        if self.ehlo_delay:
            await asyncio.sleep(self.ehlo_delay)
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        with self.lock:
            self.data_calls += 1
            if self.refused < self.refuse:
                self.refused += 1
                return "451 4.3.0 Try again later"
            self.messages.append(message_from_bytes(envelope.content, policy=email_policy.default))
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 20) -> list:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.messages) < count:
            time.sleep(0.05)
        return list(self.messages)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
