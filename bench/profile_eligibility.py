"""Profile GET /api/v1/eligibility (or POST /api/v1/authorizations) in-process (Flask test client)
against rems_bench_100k.

    .venv/bin/python bench/profile_eligibility.py [--n 300] [--rounds 5] [--endpoint authorizations]
        [--profile [--cpu] [--sort tottime]]

Prints the Python CPU per request of the trivial GET /api/v1/ping and of the endpoint
(time.process_time around alternating rounds: median and fastest; the server's side of the
throughput ratio, PostgreSQL's CPU not included), then with --profile a cProfile of the endpoint
(--cpu: CPU time). The database must be seeded (bench/seed.py). With --endpoint authorizations
every request issues an RMA to a different eligible patient (seed kind 0); the RMAs issued are
deleted at the end (bench/run.py's reset).
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import statistics
import sys
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # noqa: E402
import seed  # noqa: E402
from run import cpu_by_group  # noqa: E402

from rems import create_app  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--sort", default="cumulative")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--profile", action="store_true", help="then cProfile the checks")
    ap.add_argument("--db", default="rems_bench_100k")
    ap.add_argument("--cpu", action="store_true", help="profile CPU time (time.process_time), not wall time")
    ap.add_argument("--callees", nargs="*", help="also print what these functions call (pstats patterns)")
    ap.add_argument("--endpoint", choices=("eligibility", "authorizations"), default="eligibility")
    args = ap.parse_args()
    app = create_app({"SQLALCHEMY_DATABASE_URI": seed.db_url(args.db), "SECRET_KEY": "bench-profile-key-0123456789"})
    client = app.test_client()
    token = client.post("/api/v1/auth/token", json={"email": "rph1@bench.example",
                                                    "password": seed.BENCH_PASSWORD}).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    eng = sa.create_engine(seed.db_url(args.db))
    with eng.connect() as c:
        n_patients = c.execute(sa.text("SELECT count(*) FROM patients")).scalar()
        ids = random.Random(1).sample(range(1, n_patients + 1), args.n)
        if args.endpoint == "authorizations":  # eligible now (seed kind 0), each asked once
            need = args.n * (args.rounds + 2)
            ids = [i for i in range(1, n_patients + 1) if (i // 2) % 4 == 0][:need]
        rows = c.execute(sa.text("SELECT p.rems_id, p.date_of_birth, r.npi FROM patients p JOIN prescribers r "
                                 "ON r.id = p.prescriber_id WHERE p.id = ANY(:ids) ORDER BY p.id"),
                         {"ids": ids}).all()
    queries = [{"rems_id": r[0], "date_of_birth": r[1].isoformat(), "prescriber_npi": r[2],
                "pharmacy_ncpdp_id": "9000001"} for r in rows]
    pending = iter(queries)
    started = run.today()

    def authorize(_q):
        response = client.post("/api/v1/authorizations", headers=headers,
                               json={**next(pending), "days_supply": 30, "quantity": 60})
        assert response.status_code == 201, response.get_json()
        return response

    def ping(_q):
        return client.get("/api/v1/ping", headers=headers)

    def check(q):
        return client.get("/api/v1/eligibility", query_string=q, headers=headers)

    target = authorize if args.endpoint == "authorizations" else check
    try:
        for q in queries[:20]:  # warm up: statement caches, prepared statements
            assert target(q).status_code in (200, 201)
            ping(q)
        # alternate rounds of each (the machine is shared and noisy): median CPU per request, and ratio
        per = {"ping": [], args.endpoint: []}
        pg = {"ping": [], args.endpoint: []}  # every postgres process's CPU (bench/cpu.py)
        for _ in range(args.rounds):
            for name, fn in (("ping", ping), (args.endpoint, target)):
                cpu, pg_cpu = time.process_time(), cpu_by_group(-1)["postgres"]
                for q in queries[:args.n]:
                    fn(q)
                per[name].append((time.process_time() - cpu) / args.n * 1000)
                pg[name].append((cpu_by_group(-1)["postgres"] - pg_cpu) / args.n * 1000)
        for label, agg in (("median", statistics.median), ("fastest", min)):  # fastest: least disturbed
            m = {k: agg(v) for k, v in per.items()}
            print(f"Python CPU per request ({label} of {args.rounds} rounds of {args.n}): ping {m['ping']:.2f} ms, "
                  f"{args.endpoint} {m[args.endpoint]:.2f} ms, ratio {m['ping'] / m[args.endpoint]:.0%}")
        m = {k: statistics.median(v) for k, v in pg.items()}
        print(f"PostgreSQL CPU per request (median): ping {m['ping']:.2f} ms, "
              f"{args.endpoint} {m[args.endpoint]:.2f} ms")
        if args.profile:
            prof = cProfile.Profile(time.process_time) if args.cpu else cProfile.Profile()
            prof.enable()
            for q in queries[:args.n - 20]:
                target(q)
            prof.disable()
            stats = pstats.Stats(prof).strip_dirs().sort_stats(args.sort)
            stats.print_stats(40)
            if args.callees:
                for pattern in args.callees:
                    stats.print_callees(pattern)
    finally:
        if args.endpoint == "authorizations":
            print(f"removed {run.reset(eng, started)} RMAs issued by this run")
        eng.dispose()


if __name__ == "__main__":
    main()
