"""Profile GET /api/v1/eligibility in-process (Flask test client) against rems_bench_100k.

    .venv/bin/python bench/profile_eligibility.py [--n 300] [--sort tottime]

Prints the Python CPU per request of the trivial GET /api/v1/ping and of the eligibility check
(time.process_time around a loop: the benchmark machine is CPU-bound, so this ratio predicts the
throughput ratio), then a cProfile of the checks. The database must be seeded (bench/seed.py).
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import random
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
    ap.add_argument("--db", default="rems_bench_100k")
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
    for name, fn in (("ping", ping), ("eligibility", check)):
        wall, cpu = time.perf_counter(), time.process_time()
        for q in queries:
            fn(q)
        n = len(queries)
        print(f"{name}: {(time.perf_counter() - wall) / n * 1000:.2f} ms wall, "
              f"{(time.process_time() - cpu) / n * 1000:.2f} ms Python CPU per request")
    prof = cProfile.Profile()
    prof.enable()
    for q in queries:
        check(q)
    prof.disable()
    pstats.Stats(prof).strip_dirs().sort_stats(args.sort).print_stats(40)


if __name__ == "__main__":
    main()
