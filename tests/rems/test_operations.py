"""What an operator meets at start-up and on the command line (README "Running it for real",
"Operations"; QA of 2026-11-26, operations pass)."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from rems.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]
STRONG = "0123456789abcdef" * 4  # what `openssl rand -hex 32` gives: 64 characters


@pytest.mark.parametrize("key", ["x", "changeme", "k" * 31])
def test_production_refuses_a_short_secret_key(tmp_path, monkeypatch, key):
    """A guessable REMS_SECRET_KEY signs forgeable sessions: refused like a missing one."""
    monkeypatch.setenv("REMS_ENV", "production")
    monkeypatch.setenv("REMS_SECRET_KEY", key)
    monkeypatch.delenv("REMS_CLOCK_OFFSET_DAYS", raising=False)
    with pytest.raises(ConfigError, match="REMS_SECRET_KEY is too short"):
        load_config(str(tmp_path))
    monkeypatch.setenv("REMS_SECRET_KEY", STRONG)
    assert load_config(str(tmp_path))["SECRET_KEY"] == STRONG


def test_a_short_secret_key_is_still_fine_in_development(tmp_path, monkeypatch):
    monkeypatch.setenv("REMS_ENV", "development")
    monkeypatch.setenv("REMS_SECRET_KEY", "dev")
    assert load_config(str(tmp_path))["SECRET_KEY"] == "dev"


@pytest.mark.parametrize("env", ["prod", "Production", "staging"])
def test_an_unknown_rems_env_is_refused(tmp_path, monkeypatch, env):
    """A typo of `production` ran as development: no Secure cookies, no HSTS, clock offset allowed."""
    monkeypatch.setenv("REMS_ENV", env)
    monkeypatch.setenv("REMS_SECRET_KEY", STRONG)
    with pytest.raises(ConfigError, match="unknown REMS_ENV"):
        load_config(str(tmp_path))


def test_an_empty_rems_env_means_development(tmp_path, monkeypatch):
    monkeypatch.setenv("REMS_ENV", "")
    assert load_config(str(tmp_path))["REMS_ENV"] == "development"


def test_demo_seed_is_refused_in_production(app, runner):
    """`rems demo seed` on a production database created admin@demo.rems with the password printed
    in the README."""
    from rems.cli import main
    from rems.extensions import db
    from rems.models import User

    app.config["REMS_ENV"] = "production"
    result = runner.invoke(main, ["demo", "seed"])
    assert result.exit_code == 1
    assert "refused when REMS_ENV=production" in result.output
    assert db.session.scalar(select(func.count(User.id))) == 0


@pytest.mark.parametrize("email", ["not-an-email", "admin@", "two words@example.org"])
def test_create_admin_refuses_what_is_not_an_email(app, runner, email):
    """The API and the forms refuse such an address; the CLI created an administrator with it."""
    from rems.cli import main
    from rems.extensions import db
    from rems.models import User

    result = runner.invoke(main, ["users", "create-admin", "--email", email, "--password", "a-long-admin-passphrase"])
    assert result.exit_code == 2, result.output
    assert "is not an email address" in result.output
    assert db.session.scalar(select(func.count(User.id))) == 0
    result = runner.invoke(main, ["users", "create-admin", "--email", "ops@example.org",
                                  "--password", "a-long-admin-passphrase"])
    assert result.exit_code == 0, result.output


def test_the_image_installs_the_project_the_way_the_readme_runs_it():
    """docker-compose's `migrate` runs the `rems` console script, which imports the installed
    package: templates/ and migrations/ are not in the distribution (pyproject packages.find), so a
    plain `pip install .` gave "Path doesn't exist: .../site-packages/migrations" and nothing started."""
    import tomllib

    found = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    assert not any(p.startswith(("migrations", "templates")) for p in found["include"])
    installs = [line for line in (ROOT / "Dockerfile").read_text().splitlines() if "pip install" in line]
    assert installs and all(" -e ." in line for line in installs)


@pytest.mark.parametrize("env", [{"REMS_ENV": "prod"}, {"REMS_ENV": "production", "REMS_SECRET_KEY": "short"},
                                 {"REMS_ENV": "production", "REMS_SECRET_KEY": STRONG, "REMS_CLOCK_OFFSET_DAYS": "2"}])
def test_a_refused_configuration_is_one_line_on_the_command_line(env):
    """`rems ...` with a configuration the service refuses printed a 37-line traceback."""
    from click.testing import CliRunner

    from rems.cli import main

    result = CliRunner().invoke(main, ["audit", "verify"], env={"REMS_CLOCK_OFFSET_DAYS": "0", **env})
    assert result.exit_code == 1
    assert result.output.startswith("Error: configuration refused: ") and "Traceback" not in result.output
