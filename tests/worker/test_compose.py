"""docker-compose.yml is checked without Docker: every command names something this project
ships, every REMS_* variable it sets is one the code reads, and the topology is the documented one
(exactly one beat, separate default and pdf workers, a persistent broker)."""
from __future__ import annotations

import importlib.util
import json
import re
import shlex
import shutil
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def scripts():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def _command(service) -> list[str]:
    """What the container runs: its entrypoint (when the service sets one), then its command."""
    entry, cmd = service.get("entrypoint", []), service.get("command", [])
    return [*(entry if isinstance(entry, list) else entry.split()), *(cmd if isinstance(cmd, list) else cmd.split())]


def _app_services(compose):
    return {name: s for name, s in compose["services"].items()
            if s.get("build") or s.get("image") == "rems:latest"}


def test_topology(compose):
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker", "worker-pdf", "beat", "mailpit"} <= set(services)
    beats = [n for n, s in services.items() if "beat" in _command(s)]
    assert beats == ["beat"]
    assert services["beat"].get("deploy", {}).get("replicas", 1) == 1
    assert "--appendonly" in _command(services["redis"]) and "yes" in _command(services["redis"])
    queues = {n: _command(s)[_command(s).index("-Q") + 1] for n, s in services.items() if "-Q" in _command(s)}
    assert queues == {"worker": "default", "worker-pdf": "pdf"}
    for name in ("postgres", "redis", "web", "worker", "worker-pdf", "mailpit"):
        assert "healthcheck" in services[name], name


def test_task_queues_match_rems_tasks(compose):
    from rems.tasks import TASKS

    served = set()
    for s in compose["services"].values():
        cmd = _command(s)
        if "-Q" in cmd:
            served |= set(cmd[cmd.index("-Q") + 1].split(","))
    assert {queue for _, queue in TASKS.values()} <= served


def test_every_command_exists_in_the_project(compose, scripts):
    for name, service in _app_services(compose).items():
        cmd = _command(service)
        assert cmd, name
        exe = cmd[0]
        if exe == "rems":
            assert "rems" in scripts
        elif exe == "celery":
            module = cmd[cmd.index("-A") + 1]
            assert importlib.util.find_spec(module) is not None, module
            assert (ROOT / (module.replace(".", "/") + ".py")).is_file()
        elif exe == "gunicorn":
            target = cmd[-1]
            module, _, factory = target.partition(":")
            assert importlib.util.find_spec(module) is not None
            mod = importlib.import_module(module)
            assert callable(getattr(mod, factory.removesuffix("()")))
        else:
            pytest.fail(f"{name}: unknown command {exe}")
        if exe != "rems":
            assert shutil.which(exe) or (ROOT / ".venv/bin" / exe).exists(), exe
    assert (ROOT / "Dockerfile").is_file()


def test_rems_variables_are_read_by_the_code(compose):
    config = (ROOT / "rems" / "config.py").read_text()
    anchors = [v for k, v in compose.items() if k.startswith("x-")]
    envs = [s.get("environment", {}) for s in compose["services"].values()] + [
        a.get("environment", a) for a in anchors if isinstance(a, dict)]
    seen = set()
    for env in envs:
        keys = env.keys() if isinstance(env, dict) else [e.split("=", 1)[0] for e in env]
        seen |= {k for k in keys if k.startswith("REMS_")}
    assert {"REMS_DATABASE_URL", "REMS_REDIS_URL", "REMS_SMTP_URL", "REMS_SECRET_KEY"} <= seen
    for var in seen:
        assert re.search(rf'["\']{var}["\']', config), f"{var} is set by compose but never read"


def _readme_command(program: str) -> list[str]:
    """The line of README's "Running it for real" that starts `program`, as an argument list."""
    section = (ROOT / "README.md").read_text().split("## Running it for real", 1)[1].split("\n## ", 1)[0]
    (line,) = [ln for ln in section.splitlines() if ln.startswith(program + " ")]
    return shlex.split(line, comments=True)


def test_web_runs_gunicorn_as_the_readme_does(compose):
    """The web service, the image's default command and README "Running it for real" run the same
    gunicorn (compose ran 3 sync workers where the README says `-w 4 -k gthread --threads 4`)."""
    readme = _readme_command("gunicorn")
    assert readme[readme.index("-k") + 1] == "gthread" and readme[readme.index("-w") + 1] == "4"
    assert _command(compose["services"]["web"]) == readme
    (cmd,) = [ln for ln in (ROOT / "Dockerfile").read_text().splitlines() if ln.startswith("CMD ")]
    assert json.loads(cmd.removeprefix("CMD ")) == readme
    # REMS_DB_POOL_SIZE (default 5) keeps at least a connection per thread (README, Configuration)
    assert int(readme[readme.index("--threads") + 1]) <= 5


def test_a_one_off_service_creates_the_first_administrator(compose, runner):
    """R-ADMIN-1: the administrator is created on the command line only; compose had no step for it.
    `create-admin` is not started by `up` (a profile), waits for the migration, and the documented
    `docker compose run --rm create-admin --email E --password P` runs README's command, which
    creates an administrator here."""
    from rems.extensions import db
    from rems.models import User

    service = compose["services"]["create-admin"]
    assert service.get("profiles") and service.get("restart") == "no"
    assert service["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert [n for n, s in compose["services"].items() if "create-admin" in _command(s)] == ["create-admin"]
    documented = "docker compose run --rm create-admin --email admin@example.org --password '...'"
    assert documented in (ROOT / "docker-compose.yml").read_text()
    assert " ".join(documented.split()) in " ".join((ROOT / "README.md").read_text().split())
    entry = service["entrypoint"]
    readme = _readme_command("rems users create-admin")
    assert entry == readme[:3]

    args = ["--email", "first.admin@example.org", "--password", "a-long-admin-passphrase"]
    result = runner.invoke(args=[*entry[1:], *args])  # `docker compose run` puts them after the entrypoint
    assert result.exit_code == 0, result.output
    user = db.session.query(User).filter_by(email="first.admin@example.org").one()
    assert user.role == "admin"
    assert runner.invoke(args=_command(service)[1:]).exit_code == 0  # no arguments: its --help
