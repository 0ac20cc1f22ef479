"""The benchmark, one command:   .venv/bin/python bench/run.py [--sizes 100k,1m] [--duration 15] [--rounds 3]

For each size: seed (or reuse) rems_bench_<size>, start gunicorn (-w 2 -k gthread --threads 4;
BENCH_WORKERS / BENCH_THREADS change them) on a loopback port, and drive it with wrk (a separate C
process, 2 threads, 8 connections) in interleaved rounds (ping, eligibility, authorizations, ping...)
replaying
request files: GET /api/v1/ping (authenticated no-op: the baseline), GET /api/v1/eligibility (a
random mix of all patients: eligible and refused, every check audited), POST /api/v1/authorizations
(80% eligible patients -> 201 RMA issued, 20% patients whose tests/visit are due -> 409 refused).
Then the reminder sweep over each database (and over the largest on its worst day, in one process
and in two: `rems reminders run --processes 2`) and the PDF timing. Writes bench/results.md. RMAs
issued by a previous run (recorded on the seed day or later) are deleted first, so runs repeat.
Each endpoint gets --duration seconds (<= 30) in all.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import extras  # noqa: E402
import seed  # noqa: E402

SIZES = {"100k": 100_000, "1m": 1_000_000}
VENV = ROOT / ".venv" / "bin"
WRK_THREADS = 2
WRK_CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "8"))
PHARMACISTS = 8
GUNICORN_WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
GUNICORN_THREADS = int(os.environ.get("BENCH_THREADS", "4"))


TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: str) -> tuple[str, int, float] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = text[text.index("(") + 1:text.rindex(")")]
    fields = text[text.rindex(")") + 2:].split()
    return comm, int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK  # ppid, utime + stime


def cpu_by_group(server_pid: int) -> dict[str, float]:
    """CPU seconds used so far (utime + stime, /proc) by the gunicorn master `server_pid` and its
    workers, by every postgres process, and by this process's waited-for children (wrk)."""
    out = {"server": 0.0, "postgres": 0.0}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        st = _stat(pid)
        if st is None:
            continue
        comm, ppid, secs = st
        if int(pid) == server_pid or ppid == server_pid:
            out["server"] += secs
        elif comm == "postgres" or comm.startswith("postgres:"):
            out["postgres"] += secs
    out["wrk"] = resource.getrusage(resource.RUSAGE_CHILDREN)
    out["wrk"] = out["wrk"].ru_utime + out["wrk"].ru_stime
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def today():
    from datetime import UTC, datetime

    from workflows import local_date
    from workflows.program import get_program

    return local_date(datetime.now(UTC), get_program())


def reset(eng, day) -> int:
    """Remove what a previous run issued, so every run starts from the seeded state."""
    with eng.begin() as c:
        n = c.execute(
            sa.text(
                "DELETE FROM authorizations WHERE recorded_at >= (CAST(:d AS date)::timestamp "
                "AT TIME ZONE 'America/New_York')"
            ),
            {"d": day},
        ).rowcount
        c.execute(sa.text("DELETE FROM idempotency_records"))
    return n


def samples(eng, n_patients: int, rng: random.Random):
    """Patients to ask about, by the seed's kinds (bench/seed.py): kind = (id // 2) % 4."""
    q = (
        "SELECT p.id, p.rems_id, p.date_of_birth, r.npi FROM patients p JOIN prescribers r "
        "ON r.id = p.prescriber_id WHERE p.id = ANY(:ids)"
    )

    def fetch(ids):
        with eng.connect() as c:
            return [dict(r._mapping) for r in c.execute(sa.text(q), {"ids": ids})]

    eligible = [i for i in rng.sample(range(1, n_patients + 1), 60_000) if (i // 2) % 4 == 0][:12_000]
    refused = [i for i in rng.sample(range(1, n_patients + 1), 40_000) if (i // 2) % 4 == 2][:3_000]
    anyone = rng.sample(range(1, n_patients + 1), 12_000)
    return fetch(eligible), fetch(refused), fetch(anyone)


def start_server(db: str, port: int, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "REMS_DATABASE_URL": seed.db_url(db),
        "REMS_SECRET_KEY": "bench-secret-key-0123456789",
        "PYTHONUNBUFFERED": "1",
        "REMS_DB_POOL_SIZE": str(max(5, GUNICORN_THREADS)),  # a connection per thread, kept
    }
    env.pop("REMS_REDIS_URL", None)
    proc = subprocess.Popen(
        [
            str(VENV / "gunicorn"),
            "-w",
            str(GUNICORN_WORKERS),
            "-k",
            "gthread",
            "--threads",
            str(GUNICORN_THREADS),
            "-b",
            f"127.0.0.1:{port}",
            "rems:create_app()",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)  # noqa: S310
            return proc
        except OSError:
            time.sleep(0.2)
    stop_server(proc)
    raise SystemExit(f"gunicorn did not start; see {log}")


def stop_server(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def tokens(port: int) -> list[str]:
    out = []
    for h in range(1, PHARMACISTS + 1):
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/auth/token",
            method="POST",
            data=json.dumps({"email": f"rph{h}@bench.example", "password": seed.BENCH_PASSWORD}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req) as resp:  # noqa: S310
            out.append(json.loads(resp.read())["token"])
    return out


def request_files(
    tmp: Path, toks: list[str], eligible, refused, anyone, rng: random.Random, rounds: int = 1
) -> dict[str, list[Path]]:
    """One request file per endpoint and round; the authorizations of each round are a disjoint
    slice of the patients (an RMA is issued once per patient and cycle)."""
    def lookup(p, h):
        return {
            "rems_id": p["rems_id"],
            "date_of_birth": p["date_of_birth"].isoformat(),
            "prescriber_npi": p["npi"],
            "pharmacy_ncpdp_id": str(9_000_000 + h),
        }

    files = {}
    ping = [f"GET\t/api/v1/ping\t{toks[i % len(toks)]}" for i in range(len(toks))]
    elig = []
    for p in anyone:
        h = rng.randrange(len(toks))
        q = "&".join(f"{k}={v}" for k, v in lookup(p, h + 1).items())
        elig.append(f"GET\t/api/v1/eligibility?{q}\t{toks[h]}")
    posts = [(p, True) for p in eligible] + [(p, False) for p in refused]
    rng.shuffle(posts)
    auth = []
    for p, _ in posts:
        h = rng.randrange(len(toks))
        body = json.dumps({**lookup(p, h + 1), "days_supply": 30, "quantity": 60})
        auth.append(f"POST\t/api/v1/authorizations\t{toks[h]}\t{body}")
    for name, lines in (("ping", ping), ("eligibility", elig)):
        files[name] = [tmp / f"{name}.txt"] * rounds
        files[name][0].write_text("\n".join(lines) + "\n")
    files["authorizations"] = []
    per_round = len(auth) // rounds
    for i in range(rounds):
        files["authorizations"].append(tmp / f"authorizations-{i}.txt")
        files["authorizations"][i].write_text("\n".join(auth[i * per_round:(i + 1) * per_round]) + "\n")
    return files


def wrk(port: int, reqs: Path, duration: int) -> dict:
    env = {**os.environ, "REQS_FILE": str(reqs), "WRK_THREADS": str(WRK_THREADS)}
    out = subprocess.run(
        [
            "wrk",
            "-t",
            str(WRK_THREADS),
            "-c",
            str(WRK_CONNECTIONS),
            "-d",
            f"{duration}s",
            "--timeout",
            "5s",
            "-s",
            str(ROOT / "bench" / "requests.lua"),
            f"http://127.0.0.1:{port}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=True,
    ).stdout
    statuses = {int(c): int(n) for c, n in re.findall(r"STATUS (\d+) (\d+)", out)}
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": int(re.search(r"P50_US (\d+)", out).group(1)) / 1000,
        "p99_ms": int(re.search(r"P99_US (\d+)", out).group(1)) / 1000,
        "statuses": statuses,
        "errors": "Socket errors" in out,
    }


ENDPOINTS = ("ping", "eligibility", "authorizations", "mixed")


def combine(runs: list[dict]) -> dict:
    """One endpoint's rounds: mean req/s (equal durations), median p50, WORST p99, summed statuses."""
    statuses: dict[int, int] = {}
    for r in runs:
        for code, n in r["statuses"].items():
            statuses[code] = statuses.get(code, 0) + n
    return {"rps": statistics.mean(r["rps"] for r in runs), "p50_ms": statistics.median(r["p50_ms"] for r in runs),
            "p99_ms": max(r["p99_ms"] for r in runs), "statuses": statuses, "errors": any(r["errors"] for r in runs),
            "rounds": runs}


def mixed_file(tmp: Path, files: dict, rounds: int) -> list[Path]:
    """Real traffic interleaves read-only requests (which end in ROLLBACK) with dispense checks on
    the same pooled connections: ping and eligibility lines alternating for each wrk thread (thread
    t of 2 takes lines t, t+2, ... so lines come in pairs)."""
    pings = files["ping"][0].read_text().splitlines()
    checks = files["eligibility"][0].read_text().splitlines()
    lines = [line for i in range(0, len(checks) - 1, 2)
             for line in (pings[i % len(pings)], pings[(i + 1) % len(pings)], checks[i], checks[i + 1])]
    path = tmp / "mixed.txt"
    path.write_text("\n".join(lines) + "\n")
    return [path] * rounds


def run_sizes(labels: list[str], duration: int, rng: random.Random, log, rounds: int = 3) -> dict:
    """Throughput of each endpoint at every size, in `rounds` interleaved rounds of duration/rounds
    seconds: round i runs ping, eligibility, authorizations and the mixed load on the first size's
    server, then on the next size's, so every endpoint and size sees the same slow and fast moments
    of this shared machine (the ratios to ping and 1M vs 100k are taken within a run). One gunicorn
    per size, started before the first round (an idle server costs nothing)."""
    day = today()
    seconds = max(2, round(duration / rounds))
    per = {label: {name: [] for name in ENDPOINTS} for label in labels}
    servers, files, engines = {}, {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            for label in labels:
                n = SIZES[label]
                db = f"rems_bench_{label}"
                seed.ensure(db, n, day, log=log)
                engines[label] = eng = sa.create_engine(seed.db_url(db))
                log(f"{db}: removed {reset(eng, day)} RMAs issued by an earlier run")
                eligible, refused, anyone = samples(eng, n, rng)
                port = free_port()
                where = Path(tmp) / label
                where.mkdir()
                servers[label] = (start_server(db, port, where / "gunicorn.log"), port)
                files[label] = request_files(where, tokens(port), eligible, refused, anyone, rng, rounds)
                files[label]["mixed"] = mixed_file(where, files[label], rounds)
                wrk(port, files[label]["ping"][0], 3)  # warm up both workers
            for i in range(rounds):
                for label in labels:
                    port = servers[label][1]
                    for name in ENDPOINTS:
                        before = cpu_by_group(servers[label][0].pid)
                        r = wrk(port, files[label][name][i], seconds)
                        after = cpu_by_group(servers[label][0].pid)
                        r["cpu"] = {k: after[k] - before[k] for k in after}
                        per[label][name].append(r)
                        log(
                            f"  {label} round {i + 1} {name:<15} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:6.1f} ms  "
                            f"p99 {r['p99_ms']:6.1f} ms  {r['statuses']}"
                        )
        finally:
            for proc, _ in servers.values():
                stop_server(proc)
    results = {}
    for label in labels:
        res = {name: combine(runs) for name, runs in per[label].items()}
        for name, runs in per[label].items():  # CPU seconds per request, all rounds together
            n = sum(sum(r["statuses"].values()) for r in runs)
            res[name]["cpu_ms"] = {k: sum(r["cpu"][k] for r in runs) / n * 1000 for k in runs[0]["cpu"]}
        for name in ENDPOINTS:
            res[name]["round_ratios"] = [r["rps"] / p["rps"] for r, p in
                                         zip(per[label][name], per[label]["ping"], strict=True)]
        res["audit_write_ms"] = extras.audit_write_cost(engines[label])
        engines[label].dispose()
        results[label] = res
    if "100k" in per and "1m" in per:  # 1M vs 100k within each round too
        results["1m_vs_100k_rounds"] = {
            name: [b["rps"] / a["rps"] for a, b in zip(per["100k"][name], per["1m"][name], strict=True)]
            for name in ENDPOINTS}
    return results


def machine() -> str:
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    mem = (
        int(
            next(
                ln.split()[1]
                for ln in Path("/proc/meminfo").read_text().splitlines()
                if ln.startswith("MemTotal")
            )
        )
        / 1024
        / 1024
    )
    pg = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc", "SHOW server_version"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    py = platform.python_version()
    return f"{os.cpu_count()} CPUs ({cpu}), {mem:.1f} GiB RAM, PostgreSQL {pg}, Python {py}"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="REMS benchmarks")
    ap.add_argument("--sizes", default="100k,1m")
    ap.add_argument("--duration", type=int, default=15, help="seconds per endpoint, split into --rounds")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--skip-sweep", action="store_true")
    ap.add_argument("--skip-pdf", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results.md"))
    args = ap.parse_args(argv)
    for tool in ("wrk", "/usr/bin/time"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: `make bench` installs it (Debian packages wrk, time)")
    duration = min(args.duration, 30)
    rng = random.Random(20260209)
    log = print
    sizes = args.sizes.split(",")
    load_before = os.getloadavg()
    results = run_sizes(sizes, duration, rng, log, args.rounds)
    sweep = None
    if not args.skip_sweep:  # each size on the seed day, then the largest on its worst day (bench/NOTES.md)
        sweep = [extras.sweep(f"rems_bench_{s}", log) for s in sizes]
        sweep.append(extras.sweep(f"rems_bench_{sizes[-1]}", log, offset_days=3))
        sweep.append(extras.sweep(f"rems_bench_{sizes[-1]}", log, offset_days=3, processes=2))
    pdf = None if args.skip_pdf else extras.pdf(log)
    cmd = "  ".join([".venv/bin/python bench/run.py", *(argv or sys.argv[1:])])
    load_after = os.getloadavg()
    where = (f"{machine()}; load average (1/5/15 min) {'/'.join(f'{x:.2f}' for x in load_before)} "
             f"before the run, {'/'.join(f'{x:.2f}' for x in load_after)} after")
    text = extras.report(where, cmd, duration, results, sweep, pdf, args.rounds, GUNICORN_WORKERS, GUNICORN_THREADS)
    Path(args.out).write_text(text)
    log(text)


if __name__ == "__main__":
    main()
