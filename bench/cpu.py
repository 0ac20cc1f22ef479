"""CPU per request, by process, for each endpoint under the benchmark's load (bench/run.py).

    .venv/bin/python bench/cpu.py [--size 100k] [--seconds 8] [--rounds 2]

On this 2-core machine throughput is CPU-bound: server, PostgreSQL and wrk share the cores, so the
ratio of two endpoints' throughputs is about the inverse ratio of the CPU each request costs in
all of them. CPU seconds are counted from /proc (utime + stime) around each wrk run: the gunicorn
master and workers, every `postgres` process (backends, WAL writer, checkpointer...), and wrk
itself. They move less than req/s when another tenant of the VM takes CPU, but not nothing (caches
are shared too: 2.35 and 2.94 ms for the same eligibility load ten minutes apart), so compare two
versions of the code in alternating runs.
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # noqa: E402
import seed  # noqa: E402
from run import TICK, cpu_by_group  # noqa: E402


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="100k")
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args(argv)
    n = run.SIZES[args.size]
    db = f"rems_bench_{args.size}"
    day = run.today()
    seed.ensure(db, n, day, log=print)
    eng = sa.create_engine(seed.db_url(db))
    run.reset(eng, day)
    rng = random.Random(7)
    eligible, refused, anyone = run.samples(eng, n, rng)
    port = run.free_port()
    totals = {name: {"server": 0.0, "postgres": 0.0, "wrk": 0.0, "requests": 0, "wall": 0.0} for name in run.ENDPOINTS}
    with tempfile.TemporaryDirectory() as tmp:
        server = run.start_server(db, port, Path(tmp) / "gunicorn.log")
        try:
            files = run.request_files(Path(tmp), run.tokens(port), eligible, refused, anyone, rng, args.rounds)
            files["mixed"] = run.mixed_file(Path(tmp), files, args.rounds)
            run.wrk(port, files["ping"][0], 3)
            for i in range(args.rounds):
                for name in totals:
                    before, started = cpu_by_group(server.pid), time.monotonic()
                    r = run.wrk(port, files[name][i], args.seconds)
                    after = cpu_by_group(server.pid)
                    totals[name]["wall"] += time.monotonic() - started
                    for k in ("server", "postgres", "wrk"):
                        totals[name][k] += after[k] - before[k]
                    totals[name]["requests"] += sum(r["statuses"].values())
        finally:
            run.stop_server(server)
    run.reset(eng, day)
    eng.dispose()
    print(f"CPU per request, ms ({args.size}, {args.rounds} rounds of {args.seconds} s; TICK 1/{TICK} s)")
    print(f"{'endpoint':<16}{'server':>8}{'postgres':>10}{'wrk':>7}{'total':>8}{'vs ping':>9}{'req/s':>8}"
          f"{'cores busy':>12}")
    ping = None
    for name, t in totals.items():
        per = {k: t[k] / t["requests"] * 1000 for k in ("server", "postgres", "wrk")}
        total = sum(per.values())
        ping = ping or total
        busy = sum(t[k] for k in ("server", "postgres", "wrk")) / t["wall"]
        print(f"{name:<16}{per['server']:8.3f}{per['postgres']:10.3f}{per['wrk']:7.3f}{total:8.3f}{ping / total:9.0%}"
              f"{t['requests'] / t['wall']:8.0f}{busy:12.2f}")


if __name__ == "__main__":
    main()
