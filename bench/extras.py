"""Benchmark parts that are not HTTP load: the audit write, the reminder sweep, PDFs, the report."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
SWEEP_REDIS = "redis://127.0.0.1:6379/13"  # the sweep queues deliveries here; flushed afterwards


def audit_write_cost(eng, n: int = 300) -> dict:
    """Mean ms of the R-AUD-1 write as the service sends it (`audit_append`: advisory lock, head, hash
    and INSERT in one statement, migration 0006) and of a plain INSERT of an entry, single-threaded,
    each in a transaction that is rolled back (the chain is untouched)."""
    from datetime import UTC, datetime

    append = sa.text(
        "SELECT * FROM audit_append(7310001, '{\"action\":\"bench.probe\",\"id\":', '}', :at, NULL, NULL, "
        "NULL, 'bench.probe', NULL, NULL, NULL, 'null', 'null')"
    )
    insert = sa.text(
        "INSERT INTO audit_entries (id, at, action, prev_hash, entry_hash) "
        "VALUES (:id, :at, 'bench.probe', :p, :h)"
    )
    out = {}
    with eng.connect() as c:
        for label, stmt in (("append_ms", append), ("insert_only_ms", insert)):
            t0 = time.perf_counter()
            for _ in range(n):
                with c.begin() as tx:
                    c.execute(stmt, {"at": datetime.now(UTC), "id": 2**31 - 1, "p": "0" * 64,
                                     "h": secrets.token_hex(32)})
                    tx.rollback()
            out[label] = (time.perf_counter() - t0) * 1000 / n
    return out


def _tree(root: int) -> list[int]:
    """`root` and every process descended from it (from /proc's parent ids)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def _tree_memory(root: int) -> tuple[int, int]:
    """(RSS, PSS) in kB summed over `root`'s process tree. RSS counts pages that forked processes
    share once per process (an upper bound); PSS divides each shared page among its sharers."""
    rss = pss = 0
    for pid in _tree(root):
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        rss += int(re.search(r"^Rss:\s+(\d+)", text, re.M).group(1))
        pss += int(re.search(r"^Pss:\s+(\d+)", text, re.M).group(1))
    return rss, pss


def sweep(db: str, log, offset_days: int = 0, processes: int = 1) -> dict:
    """`rems reminders run [--processes N]` once over `db`: wall time, peak memory, rows recorded.

    `offset_days` moves the service's "today" (REMS_CLOCK_OFFSET_DAYS): 3 is the worst day of the
    seeded data, when every eligible CGP patient's window closes within the lead time
    (bench/NOTES.md, "Reminder sweep"). `processes`: the sweep in that many parts at once.
    Memory: the peak of the RSS summed over the command's processes (sampled every 0.1 s; with
    forked parts it counts their shared pages once per process), never less than GNU time's
    maximum RSS of a single process; and the peak summed PSS.
    From the shell: `.venv/bin/python bench/extras.py sweep --db rems_bench_1m --offset-days 3
    [--processes 2]`."""
    from seed import db_url

    eng = sa.create_engine(db_url(db))
    with eng.begin() as c:
        c.exec_driver_sql("TRUNCATE reminders_sent")  # so every run does the first sweep's work
        patients = c.exec_driver_sql("SELECT count(*) FROM patients").scalar()
    env = {
        **os.environ,
        "REMS_DATABASE_URL": db_url(db),
        "REMS_SECRET_KEY": "bench-secret-key-0123456789",
        "REMS_REDIS_URL": SWEEP_REDIS,
        "REMS_CLOCK_OFFSET_DAYS": str(offset_days),
    }
    peak_rss = peak_pss = 0
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryFile("w+") as out, \
            tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            ["/usr/bin/time", "-v", str(ROOT / ".venv/bin/rems"), "reminders", "run", "--processes", str(processes)],
            env={**env, "REMS_INSTANCE_PATH": tmp}, cwd=ROOT, stdout=out, stderr=err, text=True)
        while proc.poll() is None:
            rss, pss = _tree_memory(proc.pid)
            peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
            if time.perf_counter() - t0 > 1800:
                proc.kill()
            time.sleep(0.1)
        seconds = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    subprocess.run(["redis-cli", "-n", "13", "FLUSHDB"], capture_output=True)
    one_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr).group(1))
    peak_kb = max(peak_rss, one_kb)
    with eng.connect() as c:
        recorded = c.exec_driver_sql(
            "SELECT kind, count(*) FROM reminders_sent GROUP BY kind ORDER BY kind"
        ).all()
    eng.dispose()
    result = {
        "patients": patients,
        "offset_days": offset_days,
        "processes": processes,
        "seconds": seconds,
        "peak_mb": peak_kb / 1024,
        "peak_pss_mb": peak_pss / 1024,
        "rc": proc.returncode,
        "output": stdout.strip()[-500:],
        "recorded": {k: n for k, n in recorded},
    }
    if proc.returncode:
        result["stderr"] = stderr[-2000:]
    log(
        f"  sweep over {patients} patients (clock offset {offset_days} days, {processes} process"
        f"{'es' if processes > 1 else ''}): {seconds:.1f} s, peak {peak_kb / 1024:.0f} MB "
        f"(PSS {peak_pss / 1024:.0f} MB), rc {proc.returncode}, {result['recorded']}"
    )
    return result


def pdf(log, n: int = 20) -> dict:
    """One attestation PDF: rems.services.documents.render_pdf vs WeasyPrint alone on the same HTML."""
    from weasyprint import HTML

    from rems import create_app
    from rems.services import documents

    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "bench"})
    with app.app_context():
        values = {
            "program": "iPLEDGE REMS (2026 modification)",
            "title": "Patient monthly attestation",
            "printed_name": "Pat Bench",
            "role": "Patient",
            "meaning": "I confirm my monthly attestation",
            "signed_local": "November 25, 2026 at 9:41:07 AM EST",
            "signed_utc": "2026-11-25 14:41:07 UTC",
            "record_type": "attestation",
            "record_id": 4242,
            "record_sha256": "ab" * 32,
            "signature_id": 4242,
            "post_treatment_days": 30,
            "document_id": 4242,
        }
        html = documents.render_html(values)
        documents.render_pdf(html)  # warm: fonts, CSS parsing caches, the render thread
        HTML(string=html, base_url=documents.ASSET_SCHEME, url_fetcher=documents._fetcher()).write_pdf()
        t0 = time.perf_counter()
        for _ in range(n):
            HTML(string=html, base_url=documents.ASSET_SCHEME, url_fetcher=documents._fetcher()).write_pdf()
        alone = (time.perf_counter() - t0) / n
        t0 = time.perf_counter()
        for _ in range(n):
            documents.render_pdf(documents.render_html(values))
        service = (time.perf_counter() - t0) / n
    result = {
        "service_ms": service * 1000,
        "weasyprint_ms": alone * 1000,
        "ratio": service / alone,
        "per_second": 1 / service,
    }
    log(
        f"  pdf: service {service * 1000:.0f} ms, WeasyPrint alone {alone * 1000:.0f} ms, "
        f"ratio {service / alone:.2f}, {1 / service:.1f} PDFs/s per process"
    )
    return result


def _ok(flag: bool) -> str:
    return "met" if flag else "**missed**"


def report(
    machine: str, cmd: str, duration: int, results: dict, sweep_r: list[dict] | None, pdf_r: dict | None,
    rounds: int = 3, workers: int = 2, threads: int = 4,
) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {machine}.",
        "",
        f"Reproduce: `{cmd}` (wrk: 2 threads, 8 connections, {duration} s per endpoint in {rounds} interleaved "
        f"rounds; gunicorn `-w {workers} -k gthread --threads {threads}`; server, PostgreSQL and wrk share the "
        "machine; each round runs every endpoint at every size in turn). req/s: mean of the rounds; p50: median "
        "of the rounds; p99: the worst round; vs trivial: of the means (range of the rounds' ratios). mixed: "
        "trivial and eligibility requests alternating on the same connections, as in real traffic.",
        "",
        "| size | endpoint | req/s | p50 ms | p99 ms | vs trivial | statuses |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    across = results.pop("1m_vs_100k_rounds", None)
    for size, r in results.items():
        base = r["ping"]["rps"]
        for name in ("ping", "eligibility", "authorizations", "mixed"):
            x = r[name]
            rr = x["round_ratios"]
            lines.append(
                f"| {size} | {name} | {x['rps']:.0f} | {x['p50_ms']:.1f} | {x['p99_ms']:.1f} | "
                f"{x['rps'] / base:.0%} ({min(rr):.0%}-{max(rr):.0%}) | {json.dumps(x['statuses'])} |"
            )
    lines += ["", "CPU per request in the same rounds, ms (utime + stime from /proc around each wrk run: the "
              "gunicorn processes, every postgres process, wrk; bench/cpu.py alone gives the same table):", "",
              "| size | endpoint | server | PostgreSQL | wrk | total | trivial / total |",
              "|---|---|---:|---:|---:|---:|---:|"]
    for size, r in results.items():
        base = sum(r["ping"]["cpu_ms"].values())
        for name in ("ping", "eligibility", "authorizations", "mixed"):
            c = r[name]["cpu_ms"]
            total = sum(c.values())
            lines.append(f"| {size} | {name} | {c['server']:.2f} | {c['postgres']:.2f} | {c['wrk']:.2f} | "
                         f"{total:.2f} | {base / total:.0%} |")
    lines += ["", "| target | measured | result |", "|---|---|---|"]
    for size, r in results.items():
        base = r["ping"]["rps"]
        for name in ("eligibility", "authorizations"):
            x = r[name]
            lines.append(
                f"| {size} {name} throughput >= 50% of trivial | {x['rps'] / base:.0%} | "
                f"{_ok(x['rps'] >= 0.5 * base)} |"
            )
            lines.append(f"| {size} {name} p99 <= 50 ms (worst round) | {x['p99_ms']:.1f} ms | "
                         f"{_ok(x['p99_ms'] <= 50)} |")
        a = r["audit_write_ms"]
        lines.append(
            f"| {size} audit write (audit_append: lock + head + hash + insert) vs a plain insert | "
            f"{a['append_ms']:.2f} ms vs {a['insert_only_ms']:.2f} ms | (measured) |"
        )
    if "100k" in results and "1m" in results:
        for name in ("eligibility", "authorizations"):
            ratio = results["1m"][name]["rps"] / results["100k"][name]["rps"]
            by_round = f" (rounds {min(across[name]):.0%}-{max(across[name]):.0%})" if across else ""
            lines.append(f"| {name} throughput 1M >= 90% of 100k | {ratio:.0%}{by_round} | {_ok(ratio >= 0.9)} |")
    for sw in sweep_r or ():  # one per size, smallest first (scaling); then the largest on its worst day
        n = f"{sw['patients']:,}"
        if sw.get("offset_days"):
            n += f" on the worst day (clock +{sw['offset_days']} days: every eligible CGP window closing)"
        procs = sw.get("processes", 1)
        how = f" in {procs} processes (`--processes {procs}`)" if procs > 1 else ""
        lines.append(
            f"| reminder sweep over {n} patients{how} < 60 s | {sw['seconds']:.1f} s "
            f"(exit {sw['rc']}) | {_ok(sw['seconds'] < 60 and sw['rc'] == 0)} |"
        )
        if procs > 1:  # forked processes share pages: their RSS added up counts those once per process
            lines.append(
                f"| reminder sweep over {n} patients{how}: peak memory < 300 MB (PSS summed over the "
                f"processes; RSS summed: {sw['peak_mb']:.0f} MB) | {sw['peak_pss_mb']:.0f} MB | "
                f"{_ok(sw['peak_pss_mb'] < 300)} |"
            )
        else:
            lines.append(
                f"| reminder sweep over {n} patients: peak memory < 300 MB | {sw['peak_mb']:.0f} MB | "
                f"{_ok(sw['peak_mb'] < 300)} |"
            )
        lines.append(f"| reminders recorded by that sweep | {json.dumps(sw['recorded'])} | |")
    if pdf_r:
        lines.append(
            f"| PDF: render_pdf vs WeasyPrint alone <= 2x | {pdf_r['service_ms']:.0f} ms vs "
            f"{pdf_r['weasyprint_ms']:.0f} ms = {pdf_r['ratio']:.2f}x | {_ok(pdf_r['ratio'] <= 2)} |"
        )
        lines.append(
            f"| PDFs per second per process >= 5 | {pdf_r['per_second']:.1f} | "
            f"{_ok(pdf_r['per_second'] >= 5)} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import argparse
    import sys

    sys.path.insert(0, str(ROOT / "bench"))  # `seed` (db_url), as bench/run.py does
    ap = argparse.ArgumentParser(description="One reminder sweep over a seeded bench database.")
    sub = ap.add_subparsers(dest="command", required=True)
    sw = sub.add_parser("sweep", help="rems reminders run once: wall time, peak RSS, rows recorded")
    sw.add_argument("--db", default="rems_bench_1m")
    sw.add_argument("--offset-days", type=int, default=0,
                    help="REMS_CLOCK_OFFSET_DAYS for the sweep (3: the seed's worst day)")
    sw.add_argument("--processes", type=int, default=1, help="the sweep in that many parts at once")
    args = ap.parse_args()
    out = sweep(args.db, print, offset_days=args.offset_days, processes=args.processes)
    print(json.dumps({k: v for k, v in out.items() if k != "output"}, indent=1))
    sys.exit(out["rc"])
