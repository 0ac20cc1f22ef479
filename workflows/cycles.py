"""The cycle walk (R-CYC-1): which records count for which cycle, and each cycle's window.

A course runs in cycles. Cycle 1 starts at enrollment and counts every record entered since,
whatever its clinical date. Each cycle ends with one unreversed RMA (at the instant it was issued)
or with its missed window (at the instant the window closed, R-CYC-4); the next cycle starts then
and counts records entered from that instant with a clinical date on or after that local day.
The walk goes forward through the records in the order they were entered, so the answer is a pure
function of the facts and `now`.

A window opens only while it is open [D]: a test or visit entered after the window its date would
open had already closed (late entries are allowed, R-TIME-2) opens none. Otherwise that window
would close in the past and void the cycle retroactively, with the records entered in between left
behind in the voided cycle; R-CYC-1's "recorded after the previous cycle ended" cannot be applied
to an end that nobody could know of when they recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from .clock import days, local_date, window_close_instant, window_from
from .facts import (
    CGP,
    Attestation,
    AttestationFailure,
    Authorization,
    CategoryChange,
    PatientFacts,
    PregnancyTest,
    Visit,
)
from .program import Program
from .results import Window


@dataclass(frozen=True)
class CourseFacts:
    """Course-wide records (not cycle-scoped) as of `now`."""

    screening: PregnancyTest | None  # latest negative medical screening test (R-PT-2)
    contraception_start: date | None  # the start the latest-entered record documents (R-CON-2)
    has_contraception: bool  # R-CON-1
    positive_test: PregnancyTest | None  # R-PT-4
    authorizations: tuple[Authorization, ...]  # unreversed as of now, in issue order (R-RMA-4)


@dataclass
class Cycle:
    number: int
    started_at: datetime
    start_date: date
    had_rma: bool  # an unreversed RMA was issued earlier in the course (R-CON-2, R-CYC-2)
    category: str = CGP  # in effect for this cycle's authorization (R-PAT-2)
    follows_missed: Window | None = None  # the previous cycle's missed window (R-CYC-4)
    last_rma: Authorization | None = None  # the course's latest RMA before this cycle (R-RMA-3)
    refill_from: date | None = None  # next_fill_from(last_rma): the first day of the next fill
    earliest_test_date: date = date.min  # R-CYC-4 lockout
    visits: list[Visit] = field(default_factory=list)
    tests: list[PregnancyTest] = field(default_factory=list)
    attestations: list[Attestation] = field(default_factory=list)
    failures: list[AttestationFailure] = field(default_factory=list)
    window: Window | None = None
    opened_by: Visit | PregnancyTest | None = None
    rma: Authorization | None = None
    ended_at: datetime | None = None
    missed: bool = False

    @property
    def expected_test_kind(self) -> str:
        """R-CYC-2: confirmation until treatment starts (first RMA), monthly afterwards."""
        return "monthly" if self.had_rma else "confirmation"


def _unreversed(auth: Authorization, now: datetime) -> bool:
    return auth.reversed_at is None or auth.reversed_at > now


def course_facts(patient: PatientFacts, now: datetime) -> CourseFacts:
    tests = [t for t in patient.tests if t.recorded_at <= now]
    screenings = [
        t for t in tests if t.kind == "screening" and t.result == "negative" and t.setting == "medical"
    ]
    contraception = [c for c in patient.contraception if c.recorded_at <= now]
    positives = sorted((t for t in tests if t.result == "positive"), key=lambda t: (t.recorded_at, t.id))
    auths = sorted(
        (a for a in patient.authorizations if a.recorded_at <= now and _unreversed(a, now)),
        key=lambda a: (a.recorded_at, a.id),
    )
    return CourseFacts(
        screening=max(screenings, key=lambda t: (t.specimen_date, t.id), default=None),
        # R-CON-2: the latest record documents the start (corrections are new records, so one may
        # move the start earlier as well as later)
        contraception_start=max(contraception, key=lambda c: (c.recorded_at, c.id)).start_date
        if contraception else None,
        has_contraception=bool(contraception),
        positive_test=positives[0] if positives else None,
        authorizations=tuple(auths),
    )


def closed_when_entered(record: Visit | PregnancyTest, program: Program) -> Window | None:
    """R-CYC-1 [D]: the window this test or visit would open, when it had already closed by the time
    the record was entered (then it opens none); None when the record came in time."""
    if isinstance(record, Visit):
        window = window_from(record.visit_date, program.ccgp_window_days)
    else:
        window = window_from(record.specimen_date, program.cgp_window_days)
    return window if window_close_instant(window.closes, program) <= record.recorded_at else None


def refill_earliest(rma: Authorization, program: Program) -> date:
    """R-RMA-3: first day on which the given fraction of the previous days' supply has elapsed."""
    fraction = program.refill_too_soon_fraction
    elapsed = -(-fraction.numerator * rma.days_supply // fraction.denominator)  # ceil, without Fraction objects
    return local_date(rma.recorded_at, program) + days(elapsed)


def next_fill_from(rma: Authorization, program: Program) -> date:
    """The first day a new RMA can follow `rma` (unreversed): R-RMA-3's share of its supply has
    elapsed, and R-RMA-2: its window has closed (a CCGP window is 30 days long, so after an RMA
    early in it the window, not the 75% rule, decides)."""
    return max(refill_earliest(rma, program), rma.do_not_dispense_after + days(1))


def visit_closes_before_refill(visit: Visit, cycle: Cycle, program: Program) -> Window | None:
    """R-RMA-2/3 [D], R-CYC-3: the window a CCGP visit would open, when it closes before the next
    fill is allowed (it could only be missed and void the cycle, as a monthly test's would:
    CLOSES_BEFORE_REFILL); None when it reaches that day or no RMA came before this cycle."""
    window = window_from(visit.visit_date, program.ccgp_window_days)
    return window if cycle.refill_from is not None and window.closes < cycle.refill_from else None


def test_problems(
    test: PregnancyTest, cycle: Cycle, patient: PatientFacts, program: Program, course: CourseFacts
) -> tuple[str, ...]:
    """Why a negative test of the cycle's kind cannot open the window (empty: it can).

    Codes: HOME_TEST_NOT_ALLOWED (R-PT-2, R-PT-3), PREGNANCY_TEST_REQUIRED (before the R-CYC-4
    lockout ends), CONFIRMATION_TEST_TOO_EARLY (R-PT-2), CONTRACEPTION_LEAD_IN_INCOMPLETE (R-CON-2),
    ENTERED_AFTER_WINDOW (R-CYC-1 [D]) and CLOSES_BEFORE_REFILL (R-RMA-3 [D]: a window that closes
    before the next fill is allowed could only be missed and void the cycle), both reported as
    PREGNANCY_TEST_REQUIRED.
    """
    problems: list[str] = []
    if closed_when_entered(test, program):
        problems.append("ENTERED_AFTER_WINDOW")
    if cycle.refill_from is not None and (
        window_from(test.specimen_date, program.cgp_window_days).closes < cycle.refill_from
    ):
        problems.append("CLOSES_BEFORE_REFILL")
    if test.setting != "medical" and not (
        test.setting == "home" and home_test_allowed(patient, program, test.kind, test.specimen_date)
    ):
        problems.append("HOME_TEST_NOT_ALLOWED")
    if test.specimen_date < cycle.earliest_test_date:
        problems.append("PREGNANCY_TEST_REQUIRED")
    if test.kind == "confirmation":
        if course.screening and test.specimen_date < confirmation_earliest(course.screening, program):
            problems.append("CONFIRMATION_TEST_TOO_EARLY")
        start = course.contraception_start
        if start and test.specimen_date < lead_in_end(start, program):
            problems.append("CONTRACEPTION_LEAD_IN_INCOMPLETE")
    return tuple(problems)


def home_test_allowed(patient: PatientFacts, program: Program, kind: str, specimen_date: date) -> bool:
    """R-PT-3: a home test counts only for the kinds the program allows at home (R-PT-2), and only
    if collected on or after the day the prescriber enabled home testing for the patient ([D]:
    disabling it, or enabling it again later, leaves earlier home tests uncounted)."""
    since = patient.home_testing_since
    return kind in program.home_test_kinds and since is not None and specimen_date >= since


def confirmation_earliest(screening: PregnancyTest, program: Program) -> date:
    """R-PT-2: the confirmation test is collected at least N days after the screening test."""
    return screening.specimen_date + days(program.confirmation_after_screening_days)


def lead_in_end(contraception_start: date, program: Program) -> date:
    """R-CON-2: first day a confirmation test may be collected after the contraception start."""
    return contraception_start + days(program.contraception_lead_in_days)


def candidate_tests(cycle: Cycle) -> list[PregnancyTest]:
    """Negative tests of the kind this cycle needs (R-CYC-2), in the order they were entered."""
    return [t for t in cycle.tests if t.result == "negative" and t.kind == cycle.expected_test_kind]


class _Walk:
    def __init__(self, patient: PatientFacts, program: Program, course: CourseFacts):
        self.patient, self.program, self.course = patient, program, course
        self.done: list[Cycle] = []
        changes = sorted(patient.category_changes, key=lambda c: (c.recorded_at, c.id))
        # R-PAT-2: the course starts in the category its first change moved it from
        self.category = changes[0].from_category if changes else patient.category
        self.current = Cycle(
            number=1,
            started_at=patient.enrolled_at,
            start_date=local_date(patient.enrolled_at, program),
            had_rma=False,
            category=self.category,
        )

    def _counts(self, clinical: date) -> bool:
        # R-CYC-1: in cycle 1 every record counts; later, its clinical date must be on/after the start
        return self.current.number == 1 or clinical >= self.current.start_date

    def roll_if_missed(self, at: datetime) -> None:
        """R-CYC-4: a window that closed without an unreversed RMA voids the cycle."""
        cyc = self.current
        if cyc.window is None or cyc.rma is not None:
            return
        close = window_close_instant(cyc.window.closes, self.program)
        if at < close:
            return
        cyc.ended_at, cyc.missed = close, True
        self._next(close, follows_missed=cyc.window)

    def _next(self, start: datetime, follows_missed: Window | None) -> None:
        prev = self.current
        self.done.append(prev)
        start_date = local_date(start, self.program)
        earliest = date.min
        if follows_missed is not None:  # R-CYC-4: lockout (0 days in ipledge-2026)
            earliest = follows_missed.closes + days(1 + self.program.missed_window_lockout_days)
        self.current = Cycle(
            number=prev.number + 1,
            started_at=start,
            start_date=start_date,
            had_rma=prev.had_rma or prev.rma is not None,
            category=self.category,
            follows_missed=follows_missed,
            last_rma=prev.rma or prev.last_rma,
            # computed once per RMA, not per test (the walk asks for every test of the cycle)
            refill_from=next_fill_from(prev.rma, self.program) if prev.rma is not None else prev.refill_from,
            earliest_test_date=max(start_date, earliest),
        )

    def add(self, record) -> None:
        cyc = self.current
        if isinstance(record, Authorization):
            # R-CYC-1: an unreversed RMA ends the cycle at the instant it was issued
            cyc.rma, cyc.ended_at = record, record.recorded_at
            self._next(record.recorded_at, follows_missed=None)
        elif isinstance(record, Visit):
            if self._counts(record.visit_date):
                cyc.visits.append(record)
                self._open(record, record.recorded_at)
        elif isinstance(record, PregnancyTest):
            if self._counts(record.specimen_date):
                cyc.tests.append(record)
                self._open(record, record.recorded_at)
        elif isinstance(record, CategoryChange):
            # R-PAT-2: from the next authorization on, i.e. for this cycle and the later ones; the
            # cycle's window is opened again the new category's way from its records, if one can
            # still be open now
            self.category = cyc.category = record.to_category
            cyc.window = cyc.opened_by = None
            for r in sorted((*cyc.visits, *cyc.tests), key=lambda r: (r.recorded_at, _ORDER[type(r)], r.id)):
                self._open(r, record.recorded_at)
        elif isinstance(record, Attestation):
            cyc.attestations.append(record)
        elif isinstance(record, AttestationFailure):
            cyc.failures.append(record)


    def _open(self, record: Visit | PregnancyTest, at: datetime) -> None:
        """Open the cycle's window from this visit (CCGP, R-CYC-3) or negative test of the cycle's
        kind (CGP, R-CYC-2) when there is none yet, and only if it is still open at `at`, the
        instant the record was entered (R-CYC-1 [D]) or the category changed."""
        cyc = self.current
        if cyc.window is not None:
            return
        if isinstance(record, Visit):
            if self.category == CGP or visit_closes_before_refill(record, cyc, self.program):
                return
            window = window_from(record.visit_date, self.program.ccgp_window_days)
        else:
            if (
                self.category != CGP
                or record.result != "negative"
                or record.kind != cyc.expected_test_kind
                or test_problems(record, cyc, self.patient, self.program, self.course)
            ):
                return
            window = window_from(record.specimen_date, self.program.cgp_window_days)
        if window_close_instant(window.closes, self.program) > at:
            cyc.window, cyc.opened_by = window, record


_ORDER = {CategoryChange: 0, Visit: 1, PregnancyTest: 2, AttestationFailure: 3, Attestation: 4, Authorization: 5}


def walk_cycles(
    patient: PatientFacts, program: Program, now: datetime, course: CourseFacts | None = None
) -> tuple[Cycle, ...]:
    """R-CYC-1: every cycle of the course up to `now`; the last one is the current cycle."""
    course = course or course_facts(patient, now)
    records = [
        *patient.visits,
        *patient.tests,
        *patient.attestations,
        *patient.attestation_failures,
        *course.authorizations,
        *patient.category_changes,
    ]
    records = sorted(
        (r for r in records if r.recorded_at <= now), key=lambda r: (r.recorded_at, _ORDER[type(r)], r.id)
    )
    walk = _Walk(patient, program, course)
    for record in records:
        walk.roll_if_missed(record.recorded_at)
        walk.add(record)
    walk.roll_if_missed(now)
    return (*walk.done, walk.current)
