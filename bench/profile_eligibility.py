"""Profile GET /api/v1/eligibility in-process (Flask test client) against rems_bench_100k.

    .venv/bin/python bench/profile_eligibility.py [--n 300] [--rounds 5] [--profile [--cpu] [--sort tottime]]

Prints the Python CPU per request of the trivial GET /api/v1/ping and of the eligibility check
(time.process_time around alternating rounds: median and fastest; the server's side of the
throughput ratio, PostgreSQL's CPU not included), then with --profile a cProfile of the checks
(--cpu: CPU time). The database must be seeded (bench/seed.py).
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

import seed  # noqa: E402

from rems import create_app  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--sort", default="cumulative")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--profile", action="store_true", help="then cProfile the checks")
    ap.add_argument("--db", default="rems_bench_100k")
    ap.add_argument("--cpu", action="store_true", help="profile CPU time (time.process_time), not wall time")
    args = ap.parse_args()
    app = create_app({"SQLALCHEMY_DATABASE_URI": seed.db_url(args.db), "SECRET_KEY": "bench-profile-key-0123456789"})
    client = app.test_client()
    token = client.post("/api/v1/auth/token", json={"email": "rph1@bench.example",
                                                    "password": seed.BENCH_PASSWORD}).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    eng = sa.create_engine(seed.db_url(args.db))
    with eng.connect() as c:
        n_patients = c.execute(sa.text("SELECT count(*) FROM patients")).scalar()
        rows = c.execute(sa.text("SELECT p.rems_id, p.date_of_birth, r.npi FROM patients p JOIN prescribers r "
                                 "ON r.id = p.prescriber_id WHERE p.id = ANY(:ids)"),
                         {"ids": random.Random(1).sample(range(1, n_patients + 1), args.n)}).all()
    eng.dispose()
    queries = [{"rems_id": r[0], "date_of_birth": r[1].isoformat(), "prescriber_npi": r[2],
                "pharmacy_ncpdp_id": "9000001"} for r in rows]

    def ping(_q):
        return client.get("/api/v1/ping", headers=headers)

    def check(q):
        return client.get("/api/v1/eligibility", query_string=q, headers=headers)

    for q in queries[:20]:  # warm up: statement caches, prepared statements
        assert check(q).status_code == 200
        ping(q)
    # alternate rounds of each (the machine is shared and noisy): median CPU per request, and ratio
    per = {"ping": [], "eligibility": []}
    for _ in range(args.rounds):
        for name, fn in (("ping", ping), ("eligibility", check)):
            cpu = time.process_time()
            for q in queries:
                fn(q)
            per[name].append((time.process_time() - cpu) / len(queries) * 1000)
    for label, agg in (("median", statistics.median), ("fastest", min)):  # fastest: least disturbed
        m = {k: agg(v) for k, v in per.items()}
        print(f"Python CPU per request ({label} of {args.rounds} rounds of {len(queries)}): ping {m['ping']:.2f} ms, "
              f"eligibility {m['eligibility']:.2f} ms, ratio {m['ping'] / m['eligibility']:.0%}")
    if not args.profile:
        return
    prof = cProfile.Profile(time.process_time) if args.cpu else cProfile.Profile()
    prof.enable()
    for q in queries:
        check(q)
    prof.disable()
    pstats.Stats(prof).strip_dirs().sort_stats(args.sort).print_stats(40)


if __name__ == "__main__":
    main()
