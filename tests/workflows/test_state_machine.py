"""Random event sequences against the engine (R-RMA-2, R-CYC-2, R-PT-4, R-END-1, R-RMA-5, R-CYC-1).

Invariants: never two unreversed RMAs in one cycle (nor overlapping); no CGP RMA without a negative
test whose window contains the issue date; no RMA after a positive test or the end of treatment;
every refusal lists a code and every allowance none; same input, same output.
"""

import itertools
from dataclasses import replace
from datetime import timedelta

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from tests.workflows.factories import PHARMACY, at, request
from tests.workflows.factories import patient as new_patient
from workflows import (
    CCGP,
    CGP,
    IPLEDGE_2021,
    IPLEDGE_2026,
    Attestation,
    AttestationFailure,
    Authorization,
    Contraception,
    PregnancyTest,
    Visit,
    check_transition,
    decide_dispense,
    evaluate_patient,
    local_date,
)
from workflows.cycles import walk_cycles


class CourseMachine(RuleBasedStateMachine):
    @initialize(program=st.sampled_from([IPLEDGE_2026, IPLEDGE_2021]), category=st.sampled_from([CGP, CCGP]))
    def start(self, program, category):
        self.program = program
        self.p = new_patient(category=category).consent().build()
        self.now = at("2026-10-01T18:00")
        self.ids = itertools.count(1000)
        self.issued: list[Authorization] = []

    @property
    def today(self):
        return local_date(self.now, self.program)

    def _tick(self):
        self.now += timedelta(minutes=1)

    def _add(self, attr, record):
        self.p = replace(self.p, **{attr: (*getattr(self.p, attr), record)})
        self._tick()

    @rule(n=st.integers(0, 9), hours=st.integers(0, 23))
    def advance(self, n, hours):
        self.now += timedelta(days=n, hours=hours)

    @rule(counseled=st.booleans(), back=st.integers(0, 3))
    def visit(self, counseled, back):
        day = self.today - timedelta(days=back)
        if check_transition(
            "record_visit", self.p, self.program, self.now, visit_date=day, counseled=counseled
        ).ok:
            self._add("visits", Visit(next(self.ids), self.now, day, counseled))

    @rule(back=st.integers(0, 60), abstinence=st.booleans())
    def contraception(self, back, abstinence):
        day, forms = self.today - timedelta(days=back), () if abstinence else ("iud", "male_condom")
        if check_transition(
            "record_contraception",
            self.p,
            self.program,
            self.now,
            start_date=day,
            forms=forms,
            abstinence=abstinence,
        ).ok:
            self._add("contraception", Contraception(next(self.ids), self.now, day, forms, abstinence))

    @rule(
        kind=st.sampled_from(["screening", "confirmation", "monthly", "post_treatment"]),
        result=st.sampled_from(["negative"] * 30 + ["positive"]),
        setting=st.sampled_from(["medical", "home"]),
        back=st.integers(0, 8),
    )
    def test(self, kind, result, setting, back):
        day = self.today - timedelta(days=back)
        if check_transition(
            "record_test",
            self.p,
            self.program,
            self.now,
            kind=kind,
            specimen_date=day,
            result=result,
            setting=setting,
        ).ok:
            self._add("tests", PregnancyTest(next(self.ids), self.now, kind, day, result, setting))

    @rule(passed=st.booleans())
    def attestation(self, passed):
        if check_transition("attempt_attestation", self.p, self.program, self.now).ok:
            self._add(
                "attestations" if passed else "attestation_failures",
                (Attestation if passed else AttestationFailure)(next(self.ids), self.now),
            )

    @rule()
    def prepare_cycle(self):
        """Do what the status asks, so that authorizations actually happen."""
        status = evaluate_patient(self.p, self.program, self.now)
        self.visit(True, 0)
        if self.p.category == CGP:
            if not self.p.contraception:
                self.contraception(45, False)
            if "SCREENING_TEST_MISSING" in status.codes:
                self.test("screening", "negative", "medical", 20)
            kind = "confirmation" if status.first_authorization_pending else "monthly"
            self.test(kind, "negative", "medical", 0)
            self.attestation(True)

    @rule(days_supply=st.integers(1, 35), eligibility_only=st.booleans())
    def request_rma(self, days_supply, eligibility_only):
        req = request(self.p, days_supply=None if eligibility_only else days_supply)
        decision = decide_dispense(req, self.program, self.now)
        event("allowed" if decision.allowed else "refused")
        assert decision == decide_dispense(req, self.program, self.now)  # deterministic
        assert decision.allowed == (decision.reasons == ())
        if not decision.allowed or eligibility_only:
            return
        today = self.today
        assert decision.window.contains(today) and decision.do_not_dispense_after == decision.window.closes
        assert self.p.last_dose_date is None  # R-END-1
        assert not any(t.result == "positive" for t in self.p.tests)  # R-PT-4
        if self.p.category == CGP:  # R-CYC-2
            assert any(
                t.result == "negative"
                and t.kind in ("confirmation", "monthly")
                and t.specimen_date
                <= today
                <= t.specimen_date + timedelta(days=self.program.cgp_window_days - 1)
                for t in self.p.tests
            )
        rma = Authorization(
            next(self.ids),
            self.now,
            f"R{len(self.issued)}",
            PHARMACY.id,
            days_supply,
            decision.do_not_dispense_after,
        )
        self.issued.append(rma)
        event(f"rma issued ({self.p.category})")
        self._add("authorizations", rma)

    @precondition(lambda self: any(a.reversed_at is None for a in self.p.authorizations))
    @rule(data=st.data())
    def reverse(self, data):
        open_rmas = [a for a in self.p.authorizations if a.reversed_at is None]
        target = data.draw(st.sampled_from(open_rmas))
        assert check_transition("reverse_authorization", self.p, self.program, self.now, rma=target.rma).ok
        self.p = replace(
            self.p,
            authorizations=tuple(
                replace(a, reversed_at=self.now) if a is target else a for a in self.p.authorizations
            ),
        )
        self._tick()

    @rule(back=st.integers(0, 3), chance=st.integers(0, 4))
    def end_treatment(self, back, chance):
        if chance:  # rare: most courses run a few cycles first
            return
        day = self.today - timedelta(days=back)
        if check_transition("end_treatment", self.p, self.program, self.now, last_dose_date=day).ok:
            self.p = replace(self.p, last_dose_date=day)

    @rule(category=st.sampled_from([CGP, CCGP]))
    def change_category(self, category):
        if check_transition("change_category", self.p, self.program, self.now, category=category).ok:
            self.p = replace(self.p, category=category)

    @invariant()
    def status_is_consistent_and_deterministic(self):
        if not hasattr(self, "p"):
            return
        status = evaluate_patient(self.p, self.program, self.now)
        assert status == evaluate_patient(self.p, self.program, self.now)
        assert status.eligible == (status.reasons == ())
        assert all(r.code and r.message for r in status.reasons)
        if status.course_status in ("pregnancy_reported", "post_treatment", "completed"):
            assert not status.eligible

    @invariant()
    def one_unreversed_rma_per_cycle(self):
        if not hasattr(self, "p"):
            return
        cycles = walk_cycles(self.p, self.program, self.now)
        unreversed = [a for a in self.p.authorizations if a.reversed_at is None]
        assert len({c.rma.id for c in cycles if c.rma}) == len(unreversed)
        for earlier, later in itertools.pairwise(sorted(unreversed, key=lambda a: a.recorded_at)):
            assert local_date(later.recorded_at, self.program) > earlier.do_not_dispense_after


TestCourse = CourseMachine.TestCase
TestCourse.settings = settings(
    max_examples=100,
    stateful_step_count=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
