"""The `rems` console command: a Flask CLI group over the app factory (api.md, Operations)."""
from __future__ import annotations

import json
import sys

import click
from flask.cli import AppGroup, FlaskGroup, with_appcontext


def _create_app():
    from rems import create_app

    return create_app()


class _RemsGroup(FlaskGroup):
    """A database that cannot be reached or was never migrated, and a configuration the service
    refuses (rems.config.ConfigError), are a message, not a traceback."""

    def invoke(self, ctx):
        from sqlalchemy.exc import InterfaceError, OperationalError, ProgrammingError

        from rems.config import ConfigError

        try:
            return super().invoke(ctx)
        except ConfigError as err:
            raise click.ClickException(f"configuration refused: {err}") from err
        except (OperationalError, ProgrammingError, InterfaceError) as err:
            reason = str(err.orig).strip().splitlines()[0] if err.orig is not None else str(err)
            raise click.ClickException(
                f"database error: {reason}. Is the database (REMS_DATABASE_URL) reachable, and migrated "
                "with `rems db upgrade`?") from err


@click.group(cls=_RemsGroup, create_app=_create_app, add_default_commands=True, load_dotenv=False)
def main():
    """REMS compliance workflow service."""


@click.group(cls=AppGroup)
def users():
    """Manage accounts."""


@users.command("create-admin")
@click.option("--email", required=True)
@click.option("--password", required=True)
@with_appcontext
def create_admin(email, password):
    """Create an administrator account."""
    from rems.api.schema import EMAIL_RE
    from rems.errors import ApiError
    from rems.services.accounts import create_admin as create

    if len(email.strip()) > 254 or not EMAIL_RE.match(email.strip()):  # the API's and the forms' rule
        raise click.BadParameter(f"{email!r} is not an email address like name@example.org", param_hint="--email")
    try:
        user = create(email, password)
    except ApiError as err:
        raise click.ClickException(f"{err.code}: {err.detail} {err.errors or ''}") from err
    click.echo(f"administrator {user.email} created (id {user.id})")


@click.group(cls=AppGroup)
def audit():
    """The audit trail."""


@audit.command("verify")
@click.option("--anchors", type=click.Path(dir_okay=False),
              help="The anchor file to check against (default: AUDIT_ANCHOR_FILE).")
@with_appcontext
def audit_verify(anchors):
    """Verify the hash chain and hold it against the anchors; exit 1 and name the first broken
    entry if it is broken or was cut short."""
    from rems.services.audit import verify

    result = verify(anchors)
    click.echo(json.dumps(result))
    if not result["ok"]:
        sys.exit(1)


@audit.command("anchor")
@click.option("--to", "path", type=click.Path(dir_okay=False),
              help="The anchor file to append to (default: AUDIT_ANCHOR_FILE).")
@with_appcontext
def audit_anchor(path):
    """Copy the chain's head (id and hash) to the anchor file, outside the database, so that
    `verify` can tell when the newest entries are deleted (run it often: beat does, every 5 min)."""
    from flask import current_app

    from rems.services.audit import AnchorFileMismatch, anchor

    path = path or current_app.config["AUDIT_ANCHOR_FILE"]
    try:
        item = anchor(path)
    except OSError as exc:
        raise click.ClickException(f"cannot write the anchor file {path}: {exc.strerror}") from exc
    except AnchorFileMismatch as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps({"file": path, "appended": item}))


@click.group(cls=AppGroup)
def reminders():
    """Reminders (R-REM)."""


@reminders.command("run")
@click.option("--processes", type=click.IntRange(1, 32), default=1, show_default=True,
              help="Split the sweep into this many parts run at once, one process each (PostgreSQL; "
                   "on SQLite the parts run one after another).")
@with_appcontext
def reminders_run(processes):
    """Run one reminder sweep synchronously."""
    from rems.services.reminders import sweep, sweep_in_processes

    click.echo(json.dumps(sweep() if processes == 1 else sweep_in_processes(processes)))


@click.group(cls=AppGroup)
def demo():
    """Demo data."""


@demo.command("seed")
@with_appcontext
def demo_seed():
    """Seed a believable practice (idempotent: does nothing if demo data exists)."""
    from flask import current_app

    from rems.demo import seed

    if current_app.config["REMS_ENV"] == "production":  # an administrator whose password is published
        raise click.ClickException("demo data is refused when REMS_ENV=production (its accounts share "
                                   "a published password); use `rems users create-admin`")
    for line in seed():
        click.echo(line)


def init_app(app) -> None:
    """Attach the command groups to the app, so `rems` and `app.test_cli_runner()` both see them."""
    for group in (users, audit, reminders, demo):
        app.cli.add_command(group)
