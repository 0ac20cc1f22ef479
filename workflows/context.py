"""Everything the requirement rows and transition guards look at, computed once per question."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property

from .clock import days, local_date
from .cycles import CourseFacts, Cycle, course_facts, next_fill_from, refill_earliest, walk_cycles
from .facts import CGP, Authorization, PatientFacts, PregnancyTest
from .messages import short
from .program import Program


@dataclass(frozen=True)
class Context:
    patient: PatientFacts
    program: Program
    now: datetime
    course: CourseFacts
    cycles: tuple[Cycle, ...]

    @classmethod
    def build(cls, patient: PatientFacts, program: Program, now: datetime) -> Context:
        local_date(now, program)  # refuses naive instants early
        course = course_facts(patient, now)
        return cls(patient, program, now, course, walk_cycles(patient, program, now, course))

    @cached_property
    def today(self) -> date:
        return local_date(self.now, self.program)

    def day(self, d: date) -> str:
        """A date inside a sentence ("Nov 2"), with its year when that is not today's year: a
        sentence read in January about December, or a year back, must not leave the year to guess."""
        return short(d, self.today)

    @cached_property
    def is_cgp(self) -> bool:
        return self.cycles[-1].category == CGP  # R-PAT-2: the category in effect now

    @cached_property
    def cycle(self) -> Cycle:
        return self.cycles[-1]

    @property
    def has_rma(self) -> bool:
        """Treatment has started: an unreversed RMA exists in the course (R-PAT-2, R-CON-2)."""
        return bool(self.course.authorizations)

    @property
    def last_rma(self) -> Authorization | None:
        return self.course.authorizations[-1] if self.course.authorizations else None

    @property
    def pregnancy_reported(self) -> bool:
        """R-PT-4: a reported pregnancy or any positive test ends treatment at once."""
        reported = self.patient.pregnancy_reported_at
        return (reported is not None and reported <= self.now) or self.course.positive_test is not None

    @property
    def treatment_ended(self) -> bool:
        """R-END-1: the prescriber recorded the last dose."""
        return self.patient.last_dose_date is not None

    @property
    def post_treatment_test_due(self) -> date | None:
        """R-END-1: first day a post-treatment test counts (last dose + N days)."""
        if self.patient.last_dose_date is None:
            return None
        return self.patient.last_dose_date + days(self.program.post_treatment_test_after_days)

    @cached_property
    def post_treatment_test(self) -> PregnancyTest | None:
        due = self.post_treatment_test_due
        if due is None:
            return None
        return next(
            (
                t
                for t in sorted(self.patient.tests, key=lambda t: (t.recorded_at, t.id))
                if t.kind == "post_treatment"
                and t.result == "negative"
                and t.recorded_at <= self.now
                and t.specimen_date >= due
            ),
            None,
        )

    @property
    def course_status(self) -> str:
        if self.pregnancy_reported:
            return "pregnancy_reported"
        if self.treatment_ended:
            if not self.is_cgp or self.post_treatment_test is not None:
                return "completed"
            return "post_treatment"
        return "active" if self.has_rma else "enrolled"

    @property
    def counseled_visits(self):
        return [v for v in self.cycle.visits if v.counseled]

    @property
    def attestation_failures_since_counseling(self) -> int:
        """R-ATT-2: failures in this cycle since its last counseling record."""
        counseled = [v.recorded_at for v in self.counseled_visits]
        since = max(counseled) if counseled else None
        return sum(1 for f in self.cycle.failures if since is None or f.recorded_at > since)

    @property
    def attestation_attempts_left(self) -> int:
        if not self.is_cgp:
            return 0
        return max(0, self.program.attestation_attempt_limit - self.attestation_failures_since_counseling)

    @property
    def confirmation_undated(self) -> bool:
        """R-PT-2, R-CON-2: a confirmation test is wanted but its first day cannot be known yet, for
        the screening test or the contraception start it counts from is not recorded."""
        return self.cycle.expected_test_kind == "confirmation" and (
            self.course.screening is None or self.course.contraception_start is None
        )

    def refill_earliest(self, rma: Authorization) -> date:
        """R-RMA-3: first day on which the given fraction of the previous days' supply has elapsed."""
        return refill_earliest(rma, self.program)

    def next_fill_from(self, rma: Authorization) -> date:
        """R-RMA-2 and R-RMA-3: the first day a new RMA can follow `rma`."""
        return next_fill_from(rma, self.program)
