"""docs/api-walkthrough.sh runs against a real server: `rems run` in a subprocess on a free port, on a
temporary SQLite database, restarted with REMS_CLOCK_OFFSET_DAYS between the script's phases."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "docs" / "api-walkthrough.sh"
REMS = Path(sys.executable).with_name("rems")
ADMIN_EMAIL, ADMIN_PASSWORD = "walk-admin@example.org", "walkthrough admin password"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_up(url: str, proc: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("server did not start")


@pytest.mark.slow
def test_walkthrough_script_runs_all_phases(tmp_path):
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    env = {
        **os.environ,
        "REMS_DATABASE_URL": f"sqlite:///{tmp_path / 'walk.sqlite3'}",
        "REMS_SECRET_KEY": "walkthrough-secret",
        "REMS_ENV": "development",
    }
    for name in ("REMS_REDIS_URL", "REMS_SMTP_URL", "REMS_CLOCK_OFFSET_DAYS", "REMS_PROGRAM"):
        env.pop(name, None)
    subprocess.run([str(REMS), "db", "upgrade"], env=env, check=True, capture_output=True, cwd=tmp_path)
    subprocess.run(
        [str(REMS), "users", "create-admin", "--email", ADMIN_EMAIL, "--password", ADMIN_PASSWORD],
        env=env,
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    outputs = []
    for phase, offset in ((1, 0), (2, 30), (3, 60)):
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [str(REMS), "run", "--port", str(port), "--no-reload", "--no-debugger"],
            env={**env, "REMS_CLOCK_OFFSET_DAYS": str(offset)},
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            _wait_up(base, server)
            run = subprocess.run(
                ["bash", str(SCRIPT), base, str(phase)],
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=180,
                env={
                    **env,
                    "ADMIN_EMAIL": ADMIN_EMAIL,
                    "ADMIN_PASSWORD": ADMIN_PASSWORD,
                    "STATE": str(tmp_path / "state"),
                },
            )
        finally:
            server.terminate()
            server.wait(timeout=10)
        assert run.returncode == 0, f"phase {phase}:\n{run.stdout}\n{run.stderr}"
        outputs.append(run.stdout)
    phase1, phase2, phase3 = outputs
    # Requirements and refusals are printed, with their codes (R-RMA-5).
    for code in (
        "COUNSELING_REQUIRED",
        "CONTRACEPTION_MISSING",
        "PATIENT_NOT_FOUND",
        "ALREADY_AUTHORIZED",
        "DAYS_SUPPLY_EXCEEDS_LIMIT",
    ):
        assert code in phase1, code
    assert phase1.count("RMA RMA") >= 4 and "reversed" in phase1
    assert "TREATMENT_ENDED" in phase2 and "course: completed" in phase2
    assert "course completed," in phase3 and "audit chain ok: True" in phase3
    assert "Walkthrough complete." in phase3
