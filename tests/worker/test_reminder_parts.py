"""R-REM-1/2: a reminder sweep split into parts (rems.services.reminders_due.Shard), which run at
once in separate processes (`rems reminders run --processes N`) or as separate Celery tasks
(REMS_SWEEP_PARTS). The parts must owe together exactly what the whole sweep owes, each reminder in
one part only, and running them records each reminder once."""
from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from rems import clock
from rems.config import ConfigError, load_config
from rems.extensions import db
from rems.models import ReminderSent
from rems.services import reminders
from rems.services import reminders_due as rd
from tests.worker import scenarios as s


def _population(factory, travel):
    """Courses owing every kind of reminder a sweep records, across many course ids."""
    prog = clock.program()
    pres = factory.prescriber()
    ph, rsp = factory.pharmacy()
    for _ in range(3):
        s.cgp_authorized(factory, pres, ph, rsp)
        s.end_treatment(s.ccgp_in_window(factory, pres, visit_days_ago=3), last_dose_days_ago=0)
    travel(prog.next_test_reminder_after_rma_days)  # the authorized patients' next test is due
    for n in range(5):
        s.cgp_in_window(factory, pres, confirmation_days_ago=4 + n % 3)  # window closing, attestation
        s.ccgp_in_window(factory, pres, visit_days_ago=27 + n % 3)  # window closing
    for p in (pres, *(factory.prescriber() for _ in range(2))):
        p.certified_until = s.today() + timedelta(days=prog.certification_expiry_reminder_days - 1)
    db.session.commit()


def _keys(dues) -> list[tuple[int, str, str]]:
    return [(d.recipient_id, d.kind, d.subject_key) for d in dues]


def _recorded() -> Counter:
    db.session.rollback()  # what the other processes committed
    return Counter(db.session.execute(select(ReminderSent.kind)).scalars())


def test_the_parts_owe_together_what_the_whole_sweep_owes_each_reminder_once(app, factory, travel):
    _population(factory, travel)
    now, today, prog = clock.now(), clock.today(), clock.program()
    whole = _keys(rd.all_due(now, today, prog))
    kinds = Counter(kind for _, kind, _ in whole)
    assert {"window_closing", "attestation_pending", "next_test_due", "post_treatment_precautions",
            "prescriber_certification_expiring"} <= set(kinds), kinds  # the scenario owes every kind
    for of in (2, 3):
        parts = [_keys(rd.all_due(now, today, prog, rd.Shard(k, of))) for k in range(of)]
        assert sorted(sum(parts, [])) == sorted(whole), f"{of} parts"  # nothing lost, nothing twice
        assert all(parts), f"every one of {of} parts has work in this scenario"
        # certification reminders belong to no course: part 0 sends them
        assert all(kind != "prescriber_certification_expiring" for _, kind, _ in sum(parts[1:], []))


def test_the_parts_spread_courses_whose_ids_have_a_pattern(app, factory, travel):
    """Ids with a pattern (in the benchmark's data every CGP course has an even id) still spread
    over every part: an id modulo the number of parts put all the worst day's work in one part.
    The SQL condition and Shard.has agree on every course."""
    from rems.models import Course

    for of in (2, 3, 4):
        evens = [i for i in range(2, 20_000, 2)]
        sizes = [sum(rd.Shard(k, of).has(i) for i in evens) for k in range(of)]
        assert sum(sizes) == len(evens) and min(sizes) > 0.9 * len(evens) / of, (of, sizes)
    _population(factory, travel)
    ids = set(db.session.execute(select(Course.id)).scalars())
    for of in (2, 3):
        for k in range(of):
            part = rd.Shard(k, of)
            chosen = set(db.session.execute(select(Course.id).where(part.courses(Course.id))).scalars())
            assert chosen == {i for i in ids if part.has(i)}, (k, of)


def test_a_part_must_be_one_of_the_parts():
    assert rd.Shard(1, 2).of == 2
    for part, of in ((2, 2), (-1, 2), (0, 0)):
        with pytest.raises(ValueError):
            rd.Shard(part, of)


def test_the_sweep_in_processes_records_what_the_whole_sweep_would(app, factory, travel, runner):
    """`rems reminders run --processes 3`: the parts run at once in forked processes on
    PostgreSQL (one after another on SQLite), and a second run records nothing again (R-REM-2)."""
    _population(factory, travel)
    expected = Counter(kind for _, kind, _ in _keys(rd.all_due(clock.now(), clock.today(), clock.program())))
    db.session.rollback()
    from rems.cli import main

    result = runner.invoke(main, ["reminders", "run", "--processes", "3"])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.output)
    assert {k: v for k, v in counts.items() if v} == dict(expected)
    assert _recorded() == expected
    again = runner.invoke(main, ["reminders", "run", "--processes", "2"])
    assert again.exit_code == 0, again.output
    assert all(v == 0 for v in json.loads(again.output).values())
    assert _recorded() == expected
    assert len(s.inbox(app)) == sum(expected.values())  # delivered in-process, each once


def test_a_failing_part_fails_the_sweep_and_names_it(app, factory, travel, monkeypatch):
    """A part that fails is an error naming it, not a partial count presented as the sweep's; the
    other parts keep what they recorded, and the next sweep records what is still missing."""
    _population(factory, travel)
    now, today, prog = clock.now(), clock.today(), clock.program()
    whole = Counter(kind for _, kind, _ in _keys(rd.all_due(now, today, prog)))
    part0 = Counter(kind for _, kind, _ in _keys(rd.all_due(now, today, prog, rd.Shard(0, 2))))
    db.session.rollback()
    real = reminders.sweep

    def sweep(shard=rd.WHOLE):
        if shard.part == 1:
            raise RuntimeError("part 1 broke")
        return real(shard)

    monkeypatch.setattr(reminders, "sweep", sweep)  # forked processes inherit it
    with pytest.raises(RuntimeError, match=r"failed in part 1 of 2: RuntimeError: part 1 broke$"):
        reminders.sweep_in_processes(2)
    assert _recorded() == part0
    monkeypatch.setattr(reminders, "sweep", real)
    counts = reminders.sweep_in_processes(2)
    assert {k: v for k, v in counts.items() if v} == dict(whole - part0)
    assert _recorded() == whole


def test_sweep_parts_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("REMS_SWEEP_PARTS", "4")
    assert load_config(str(tmp_path))["SWEEP_PARTS"] == 4
    monkeypatch.delenv("REMS_SWEEP_PARTS")
    assert load_config(str(tmp_path))["SWEEP_PARTS"] == 1
    for bad in ("0", "two", "33", "-1"):
        monkeypatch.setenv("REMS_SWEEP_PARTS", bad)
        with pytest.raises(ConfigError, match="REMS_SWEEP_PARTS must be a whole number from 1 to 32"):
            load_config(str(tmp_path))
