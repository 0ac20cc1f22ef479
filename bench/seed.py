"""Seed a PostgreSQL database with realistic REMS data, set-based (INSERT ... SELECT generate_series).

    .venv/bin/python bench/seed.py --patients 100000 --db rems_bench_100k [--force]

Creates the database (name must start with rems_bench_), migrates it with the project's Alembic
revisions, then fills it. Everything is dated relative to the seed day T (program-local date):

* ~1 prescriber per 500 patients (certified), 1 pharmacy per 2,000 patients (certified, one RSP
  pharmacist each), all sharing the password `BENCH_PASSWORD` (argon2id, production parameters).
* patients alternate CGP / CCGP; each has one course with 0..6 completed monthly cycles of history
  (visit, for CGP also a pregnancy test and a signed attestation, and the cycle's RMA), plus the
  enrollment records (CGP: contraception, screening test). The *kind* of patient decides "today":
    kind 0  current cycle's requirements were all met yesterday, no RMA yet  -> eligible
    kind 1  as kind 0 but the RMA was issued yesterday                       -> ALREADY_AUTHORIZED
    kind 2  last RMA 25 days ago, nothing recorded since                     -> refused (tests/visit due)
    kind 3  just enrolled, half without consent                              -> refused (many reasons)
  kind = (i // 2) % 4, category = CGP when i is even, cycles = (i // 8) % 7.
* The audit log is not pre-filled: its chain must stay verifiable, and the dispense path only
  reads its last row (by primary key), so its size does not change the per-request cost.

The database's COMMENT records the size and seed day so bench/run.py can reuse it the same day.
Foreign-key triggers are disabled while loading (session_replication_role = replica); the rows are
generated consistent, and the script checks the foreign keys' targets exist afterwards.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa

from workflows import local_date
from workflows.program import get_program

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # noqa: E402 (run as a script)

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BENCH_PASSWORD = "bench password 2026 isotretinoin"
TZ = "America/New_York"


def db_url(name: str) -> str:
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def seed_comment(n: int, day: date) -> str:
    return f"rems-bench patients={n} day={day.isoformat()}"


def current_comment(name: str) -> str | None:
    eng = sa.create_engine(ADMIN_URL)
    with eng.connect() as c:
        row = c.execute(
            sa.text("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = :n"),
            {"n": name},
        ).first()
    eng.dispose()
    return row[0] if row else None


def create_and_migrate(name: str, create: bool = True) -> None:
    if create:
        eng = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
        eng.dispose()
    from flask_migrate import upgrade

    from rems import create_app
    from rems.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": db_url(name), "SECRET_KEY": "bench-seed"})
    with app.app_context():
        upgrade()
        db.engine.dispose()


FUNCTIONS = [
    """
CREATE FUNCTION pg_temp.luhn(body text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT ((10 - sum(CASE WHEN (len - pos) % 2 = 0
                         THEN (CASE WHEN d * 2 > 9 THEN d * 2 - 9 ELSE d * 2 END)
                         ELSE d END) % 10) % 10)::text
  FROM (SELECT length(body) AS len, pos, substr(body, pos, 1)::int AS d
        FROM generate_series(1, length(body)) AS pos) s
$$""",
    """
CREATE FUNCTION pg_temp.ts(d date, hours numeric DEFAULT 12) RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
  SELECT (d::timestamp + make_interval(secs => hours * 3600)) AT TIME ZONE 'America/New_York'
$$""",
]

# :n patients, :np prescribers, :nh pharmacies, :t seed day, :pw password hash.
STEPS: list[tuple[str, str]] = [
    (
        "prescriber users",
        """
INSERT INTO users (id, email, password_hash, role, status, first_name, last_name, created_at, failed_logins)
SELECT p, 'doc' || p || '@bench.example', :pw, 'prescriber', 'active', 'Dana', 'Doctor' || p,
       pg_temp.ts(:t - 400), 0
FROM generate_series(1, :np) p""",
    ),
    (
        "prescribers",
        """
INSERT INTO prescribers (id, user_id, npi, license_state, license_number, status, certified_at,
                         certified_until, created_at)
SELECT p, p, b || pg_temp.luhn('80840' || b), 'NY', 'L' || p, 'certified', pg_temp.ts(:t - 200), :t + 165,
       pg_temp.ts(:t - 400)
FROM (SELECT p, (100000000 + p)::text AS b FROM generate_series(1, :np) p) s""",
    ),
    (
        "pharmacist users",
        """
INSERT INTO users (id, email, password_hash, role, status, first_name, last_name, created_at, failed_logins)
SELECT :np + h, 'rph' || h || '@bench.example', :pw, 'pharmacist', 'active', 'Riley', 'Pharmacist' || h,
       pg_temp.ts(:t - 400), 0
FROM generate_series(1, :nh) h""",
    ),
    (
        "pharmacies",
        """
INSERT INTO pharmacies (id, name, ncpdp_id, npi, address_line1, city, state, zip, status, certified_at,
                        certified_until, created_at)
SELECT h, 'Bench Pharmacy ' || h, (9000000 + h)::text, b || pg_temp.luhn('80840' || b), '1 Main St', 'Albany',
       'NY', '12207', 'certified', pg_temp.ts(:t - 100), :t + 265, pg_temp.ts(:t - 400)
FROM (SELECT h, (150000000 + h)::text AS b FROM generate_series(1, :nh) h) s""",
    ),
    (
        "pharmacy members",
        """
INSERT INTO pharmacy_members (id, pharmacy_id, user_id, is_rsp, license_number, active, created_at)
SELECT h, h, :np + h, true, 'RPH' || h, true, pg_temp.ts(:t - 400) FROM generate_series(1, :nh) h""",
    ),
    (
        "plan",
        """
CREATE TEMP TABLE plan AS
SELECT i, (i % 2 = 0) AS cgp, (i / 2) % 4 AS kind,
       CASE WHEN (i / 2) % 4 = 3 THEN 0 ELSE (i / 8) % 7 END AS n,
       ((i - 1) % :np) + 1 AS prescriber_id, ((i - 1) % :nh) + 1 AS pharmacy_id,
       CASE WHEN (i / 2) % 4 = 2 AND (i / 8) % 7 > 0 THEN :t + 5 ELSE :t - 1 END AS cur
FROM generate_series(1, :n) i""",
    ),
    ("plan index", "ALTER TABLE plan ADD PRIMARY KEY (i); ANALYZE plan"),
    (
        "patient users",
        """
INSERT INTO users (id, email, password_hash, role, status, first_name, last_name, created_at, failed_logins)
SELECT :np + :nh + i, 'pat' || i || '@bench.example', :pw, 'patient', 'active', 'Pat', 'Bench' || i,
       pg_temp.ts(cur - 30 * n - 2), 0
FROM plan""",
    ),
    (
        "patients",
        """
INSERT INTO patients (id, rems_id, user_id, prescriber_id, first_name, last_name, name_key, date_of_birth,
                      email, category, home_testing_enabled, consent_signed_at, created_at)
SELECT i, b || pg_temp.luhn(b), :np + :nh + i, prescriber_id, 'Pat', 'Bench' || i, 'pat|bench' || i,
       DATE '1985-01-01' + (i % 7000), 'pat' || i || '@bench.example',
       CASE WHEN cgp THEN 'can_get_pregnant' ELSE 'cannot_get_pregnant' END, false,
       CASE WHEN kind = 3 AND i % 16 >= 8 THEN NULL ELSE pg_temp.ts(cur - 30 * n - 2, 13) END,
       pg_temp.ts(cur - 30 * n - 2)
FROM (SELECT plan.*, (100000000 + i * 7)::text AS b FROM plan) s""",
    ),
    (
        "courses",
        """
INSERT INTO courses (id, patient_id, enrolled_at, status, version)
SELECT i, i, pg_temp.ts(cur - 30 * n - 2), CASE WHEN n > 0 OR kind = 1 THEN 'active' ELSE 'enrolled' END, 1
FROM plan""",
    ),
    (
        "contraception (CGP)",
        """
INSERT INTO contraception_records (course_id, start_date, forms, abstinence, recorded_at, recorded_by_id)
SELECT i, cur - 30 * n - 60, '["iud", "male_condom"]', false, pg_temp.ts(cur - 30 * n - 2, 14), prescriber_id
FROM plan WHERE cgp""",
    ),
    (
        "screening tests (CGP)",
        """
INSERT INTO pregnancy_tests (course_id, kind, specimen_date, result, setting, recorded_at, recorded_by_id)
SELECT i, 'screening', cur - 30 * n - 40, 'negative', 'medical', pg_temp.ts(cur - 30 * n - 2, 14.5),
       prescriber_id
FROM plan WHERE cgp AND kind <> 3""",
    ),
    (
        "cycles",
        """
CREATE TEMP TABLE cyc AS
SELECT i, cgp, prescriber_id, pharmacy_id, j, cur - 30 * (n - j) AS s, (j < n OR kind = 1) AS has_rma
FROM plan, generate_series(0, n) j
WHERE j < n OR kind IN (0, 1)""",
    ),
    (
        "visits",
        """
INSERT INTO visits (course_id, visit_date, counseled, recorded_at, recorded_by_id)
SELECT i, s, (cgp OR j = 0), pg_temp.ts(s), prescriber_id FROM cyc ORDER BY i, j""",
    ),
    (
        "cycle tests (CGP)",
        """
INSERT INTO pregnancy_tests (course_id, kind, specimen_date, result, setting, recorded_at, recorded_by_id)
SELECT i, CASE WHEN j = 0 THEN 'confirmation' ELSE 'monthly' END, s, 'negative', 'medical',
       pg_temp.ts(s, 12.25), prescriber_id
FROM cyc WHERE cgp ORDER BY i, j""",
    ),
    (
        "attestations (CGP)",
        """
INSERT INTO attestations (course_id, cycle_number, answers, contraception, recorded_at, recorded_by_id)
SELECT i, j + 1, '{}', '{"forms": ["iud", "male_condom"]}', pg_temp.ts(s, 12.5), :np + :nh + i
FROM cyc WHERE cgp ORDER BY i, j""",
    ),
    (
        "authorizations",
        """
INSERT INTO authorizations (rma, course_id, patient_id, prescriber_id, pharmacy_id, pharmacist_id,
                            cycle_number, days_supply, quantity, recorded_at, do_not_dispense_after, status)
SELECT 'RMA' || lpad((i * 10 + j)::text, 10, '0'), i, i, prescriber_id, pharmacy_id, :np + pharmacy_id, j + 1,
       30, 60, pg_temp.ts(s, 13), s + CASE WHEN cgp THEN 6 ELSE 29 END, 'authorized'
FROM cyc WHERE has_rma ORDER BY i, j""",
    ),
    (
        "admin user",
        """
INSERT INTO users (id, email, password_hash, role, status, first_name, last_name, created_at, failed_logins)
VALUES (:np + :nh + :n + 1, 'admin@bench.example', :pw, 'admin', 'active', 'Ada', 'Admin',
        pg_temp.ts(:t - 400), 0)
""",
    ),
]

SEQUENCES = [
    "users",
    "prescribers",
    "pharmacies",
    "pharmacy_members",
    "patients",
    "courses",
    "visits",
    "contraception_records",
    "pregnancy_tests",
    "attestations",
    "authorizations",
]


def seed(name: str, n: int, day: date, log=print) -> None:
    from rems.security.passwords import hash_password

    params = {
        "n": n,
        "np": max(1, n // 500),
        "nh": max(10, n // 2000),
        "t": day,
        "pw": hash_password(BENCH_PASSWORD),
    }
    eng = sa.create_engine(db_url(name))
    with eng.begin() as c:
        c.exec_driver_sql("SET session_replication_role = replica")
        c.exec_driver_sql("SET maintenance_work_mem = '512MB'")
        c.exec_driver_sql("SET work_mem = '256MB'")
        for fn in FUNCTIONS:
            c.execute(sa.text(fn))
        for label, sql in STEPS:
            t0 = time.perf_counter()
            for stmt in sql.split(";"):
                if stmt.strip():
                    c.execute(sa.text(stmt), {k: v for k, v in params.items() if f":{k}" in stmt})
            log(f"  {label:<24} {time.perf_counter() - t0:7.1f} s")
        for t in SEQUENCES:
            c.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT max(id) FROM {t}))"
            )
        c.exec_driver_sql("SET session_replication_role = origin")
        orphans = c.exec_driver_sql(
            "SELECT (SELECT count(*) FROM patients p LEFT JOIN prescribers r ON r.id = p.prescriber_id "
            "WHERE r.id IS NULL) + (SELECT count(*) FROM authorizations a LEFT JOIN pharmacies h "
            "ON h.id = a.pharmacy_id WHERE h.id IS NULL)"
        ).scalar()
        if orphans:
            raise SystemExit(f"seed produced {orphans} rows with dangling foreign keys")
    t0 = time.perf_counter()
    with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.exec_driver_sql("VACUUM ANALYZE")
        # the seed's dirty pages are written now, not by checkpoints during the measurement that
        # follows (the 11:34 run of 2026-11-26 had WAL-triggered checkpoints through its first round)
        c.exec_driver_sql("CHECKPOINT")
        c.exec_driver_sql(f"COMMENT ON DATABASE \"{name}\" IS '{seed_comment(n, day)}'")
    log(f"  {'vacuum analyze, checkpoint':<24} {time.perf_counter() - t0:7.1f} s")
    eng.dispose()


def ensure(name: str, n: int, day: date, force: bool = False, log=print) -> bool:
    """Seed `name` unless it already holds `n` patients seeded on `day`. True when it (re)seeded."""
    if not name.startswith("rems_bench_"):
        raise SystemExit("bench databases must be named rems_bench_*")
    if not force and current_comment(name) == seed_comment(n, day):
        log(f"{name}: already seeded with {n} patients on {day}; applying new migrations")
        create_and_migrate(name, create=False)
        return False
    t0 = time.perf_counter()
    log(f"{name}: creating and migrating")
    create_and_migrate(name)
    log(f"{name}: seeding {n} patients (day {day})")
    seed(name, n, day, log)
    log(f"{name}: done in {time.perf_counter() - t0:.0f} s")
    return True


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args(argv)
    day = local_date(datetime.now(UTC), get_program())
    ensure(args.db, args.patients, day, force=args.force)


if __name__ == "__main__":
    main()
