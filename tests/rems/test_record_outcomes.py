"""The services judge each new clinical record in its own transaction: RecordOutcome says whether
it fills the checklist row(s) it was entered for, with the engine's reasons when it does not
(rems.services.patients, workflows.records)."""
from __future__ import annotations

from sqlalchemy import select

from rems.extensions import db
from rems.models import ContraceptionRecord, PregnancyTest, Visit
from rems.services import patients
from rems.services.patients import RecordOutcome
from tests.worker import scenarios
from tests.worker.scenarios import FORMS, SIG, ago, today
from workflows import Reason


def _status(p) -> dict:
    return patients.patient_status(p, "prescriber", audit_read=False)


def _row(p, code: str) -> dict:
    return next(r for r in _status(p)["requirements"] if r["code"] == code)


def _test(pres, p, kind, day, result="negative"):
    return patients.record_test(pres.user, p, {"kind": kind, "specimen_date": day, "result": result,
                                               "setting": "medical"})


def _before_confirmation(factory, pres, contraception_days_ago: int, screening_days_ago: int):
    p = factory.patient(pres)
    patients.record_contraception(pres.user, p, {"start_date": ago(contraception_days_ago), "forms": FORMS})
    _test(pres, p, "screening", ago(screening_days_ago))
    return p


def test_r_con_2_confirmation_test_before_the_lead_in_ended_does_not_count(factory):
    pres = factory.prescriber()
    p = _before_confirmation(factory, pres, contraception_days_ago=6, screening_days_ago=25)
    out = _test(pres, p, "confirmation", today())
    assert isinstance(out, RecordOutcome) and isinstance(out.record, PregnancyTest)
    assert out.counts is False
    lead_in = _row(p, "CONTRACEPTION_LEAD_IN_INCOMPLETE")
    assert [(r.code, r.message) for r in out.reasons] == [("CONTRACEPTION_LEAD_IN_INCOMPLETE", lead_in["detail"])]
    assert "is too early" in lead_in["detail"] and not lead_in["met"]
    db.session.expire_all()
    assert db.session.get(PregnancyTest, out.record.id).kind == "confirmation"  # recorded all the same


def test_r_pt_2_confirmation_test_too_soon_after_screening_does_not_count(factory):
    pres = factory.prescriber()
    p = _before_confirmation(factory, pres, contraception_days_ago=40, screening_days_ago=10)
    out = _test(pres, p, "confirmation", today())
    assert not out.counts and [r.code for r in out.reasons] == ["CONFIRMATION_TEST_TOO_EARLY"]
    assert out.reasons[0] in {Reason(r["code"], r["message"]) for r in _status(p)["reasons"]}


def test_r_cyc_2_confirmation_test_that_opens_the_window_counts(factory):
    pres = factory.prescriber()
    p = _before_confirmation(factory, pres, contraception_days_ago=40, screening_days_ago=25)
    out = _test(pres, p, "confirmation", today())
    assert out.counts is True and out.reasons == ()
    assert _status(p)["window"] is not None


def test_r_pat_4_visit_without_counseling_does_not_count(factory):
    """CGP: counseling every cycle; a visit that does not document it fills nothing (R-CYC-3's visit
    confirmation is for CCGP only)."""
    pres = factory.prescriber()
    p = factory.patient(pres)
    out = patients.record_visit(pres.user, p, {"visit_date": today(), "counseled": False, "signature": SIG})
    assert isinstance(out.record, Visit) and out.counts is False
    counseling = _row(p, "COUNSELING_REQUIRED")
    assert [(r.code, r.message) for r in out.reasons] == [("COUNSELING_REQUIRED", counseling["detail"])]
    again = patients.record_visit(pres.user, p, {"visit_date": today(), "counseled": True, "signature": SIG})
    assert again.counts is True and again.reasons == ()


def test_r_cyc_3_ccgp_visit_counts(factory):
    pres = factory.prescriber()
    p = factory.patient(pres, category="cannot_get_pregnant")
    out = patients.record_visit(pres.user, p, {"visit_date": today(), "counseled": True, "signature": SIG})
    assert out.counts is True and _status(p)["eligible"] is True


def _in_cycle_2(factory, pres):
    """A CGP patient whose first RMA was issued today (R-CYC-1: cycle 2 starts)."""
    p = scenarios.cgp_in_window(factory, pres, confirmation_days_ago=2)
    scenarios.attest(p)
    pharmacy, rsp = factory.pharmacy()
    scenarios.authorize(p, pharmacy, rsp)
    return p


def test_r_cyc_2_negative_monthly_test_counts(factory, travel):
    pres = factory.prescriber()
    p = _in_cycle_2(factory, pres)
    travel(25)  # R-RMA-3: the new window reaches the first day the next fill is allowed
    out = _test(pres, p, "monthly", today())
    assert out.counts is True and out.reasons == ()
    assert _row(p, "PREGNANCY_TEST_REQUIRED")["met"]


def test_r_rma_3_monthly_test_whose_window_closes_before_the_next_fill_does_not_count(factory, travel):
    pres = factory.prescriber()
    p = _in_cycle_2(factory, pres)
    travel(5)
    out = _test(pres, p, "monthly", today())
    assert not out.counts and [r.code for r in out.reasons] == ["PREGNANCY_TEST_REQUIRED"]
    assert "is too early: its window would close" in out.reasons[0].message
    assert not _row(p, "PREGNANCY_TEST_REQUIRED")["met"]


def test_r_con_1_contraception_counts_while_the_lead_in_runs(factory):
    """R-CON-2's lead-in is a wait, not something the record could fill."""
    pres = factory.prescriber()
    p = factory.patient(pres)
    out = patients.record_contraception(pres.user, p, {"start_date": today(), "forms": FORMS})
    assert isinstance(out.record, ContraceptionRecord) and out.counts is True
    assert not _row(p, "CONTRACEPTION_LEAD_IN_INCOMPLETE")["met"]


def test_r_end_1_post_treatment_test_before_it_is_due_does_not_count(factory):
    pres = factory.prescriber()
    p = factory.patient(pres)
    patients.end_treatment(pres.user, p, {"last_dose_date": today()})
    out = _test(pres, p, "post_treatment", today())
    due = _row(p, "POST_TREATMENT_TEST")
    assert not out.counts and [(r.code, r.message) for r in out.reasons] == [("POST_TREATMENT_TEST", due["detail"])]


def test_r_pt_4_positive_test_counts_and_stops_treatment(factory):
    pres = factory.prescriber()
    p = factory.patient(pres)
    out = _test(pres, p, "screening", today(), result="positive")
    assert out.counts is True and out.reasons == ()
    assert _status(p)["course_status"] == "pregnancy_reported"


def test_r_pat_4_the_verdict_is_made_in_the_records_transaction(factory, monkeypatch):
    """Two engine passes, both inside the service's unit of work (before and after the record),
    and no patient status read: the before pass reuses the facts the transition guard loaded."""
    pres = factory.prescriber()
    p = factory.patient(pres)
    calls: list[int] = []
    real = patients.evaluate_patient

    def counted(facts, program, now):
        calls.append(len(facts.visits))
        return real(facts, program, now)

    monkeypatch.setattr(patients, "evaluate_patient", counted)
    out = patients.record_visit(pres.user, p, {"visit_date": today(), "counseled": False, "signature": SIG})
    assert calls == [0, 1]  # the status before the visit, then with it
    assert not out.counts
    assert db.session.execute(select(Visit.id)).scalars().all() == [out.record.id]
