"""R-TIME-1 (program-local calendar, windows, DST) and R-TIME-2 (clinical date limits)."""

from datetime import UTC, date, datetime

from tests.workflows.factories import at, patient, request
from workflows import check_transition, decide_dispense, evaluate_patient, local_date, window_close_instant


def test_R_TIME_1_local_date_flips_at_new_york_midnight(program):
    assert local_date(at("2026-11-08T04:59"), program) == date(2026, 11, 7)
    assert local_date(at("2026-11-08T05:00"), program) == date(2026, 11, 8)
    # summer time: midnight is 04:00 UTC
    assert local_date(at("2026-07-02T03:59"), program) == date(2026, 7, 1)
    assert local_date(at("2026-07-02T04:00"), program) == date(2026, 7, 2)


def test_R_TIME_1_window_close_instant_handles_dst(program):
    assert window_close_instant(date(2026, 11, 7), program) == datetime(2026, 11, 8, 5, tzinfo=UTC)
    assert window_close_instant(date(2026, 10, 31), program) == datetime(2026, 11, 1, 4, tzinfo=UTC)


def test_R_TIME_1_naive_instants_are_refused(program):
    import pytest

    with pytest.raises(ValueError):
        local_date(datetime(2026, 11, 8), program)


def _first_window(enrolled: str, contraception: str, confirmation: str):
    """A CGP patient enrolled (consent, counseling, screening) on `enrolled`, contraception from
    `contraception`, and the confirmation test that opens the first window, attested that day."""
    return (
        patient(enrolled=enrolled)
        .consent(enrolled)
        .visit(enrolled)
        .contraception(contraception, recorded=enrolled)
        .test("screening", enrolled)
        .test("confirmation", confirmation)
        .attest(confirmation)
        .build()
    )


def _window_over_dst():
    # screening Oct 13, confirmation Nov 1 (the DST change day): window Nov 1 - Nov 7
    return _first_window("2026-10-13", "2026-09-01", "2026-11-01")


def test_R_TIME_1_R_CYC_2_window_spanning_dst_closes_at_local_midnight(program):
    p = _window_over_dst()
    last_second = evaluate_patient(p, program, at("2026-11-08T04:59"))
    assert last_second.eligible and last_second.window.closes == date(2026, 11, 7)
    assert decide_dispense(request(p), program, at("2026-11-08T04:59")).allowed
    after = decide_dispense(request(p), program, at("2026-11-08T05:00"))
    assert not after.allowed
    assert "WINDOW_EXPIRED" in after.codes
    assert "Pregnancy test collected Nov 1: the window closed Nov 7." in [r.message for r in after.reasons]


def test_R_TIME_1_new_cycle_starts_at_the_close_instant(program):
    s = evaluate_patient(_window_over_dst(), program, at("2026-11-09"))
    assert s.cycle_number == 2
    assert s.cycle_started_at == datetime(2026, 11, 8, 5, tzinfo=UTC)


def test_R_TIME_2_clinical_dates_not_in_future_nor_older_than_365_days(program):
    p = patient().cgp_ready().build()
    now = at("2026-10-21")
    assert (
        check_transition("record_visit", p, program, now, visit_date=date(2026, 10, 22), counseled=True).code
        == "DATE_IN_FUTURE"
    )
    assert check_transition("record_visit", p, program, now, visit_date=date(2026, 10, 21), counseled=True).ok
    assert check_transition(
        "record_contraception", p, program, now, start_date=date(2025, 10, 21), forms=("iud", "male_condom")
    ).ok
    v = check_transition(
        "record_contraception", p, program, now, start_date=date(2025, 10, 20), forms=("iud", "male_condom")
    )
    assert (v.code, v.field) == ("DATE_TOO_OLD", "start_date")
    assert v.message == "Oct 20, 2025 is more than 365 days ago."  # the year: "Oct 20" alone misleads
    v = check_transition("record_visit", p, program, now, visit_date=date(2030, 1, 1), counseled=True)
    assert v.message == "Jan 1, 2030 is in the future."
    assert (
        check_transition("end_treatment", p, program, now, last_dose_date=date(2026, 10, 22)).code
        == "DATE_IN_FUTURE"
    )
    assert (
        check_transition(
            "record_test",
            p,
            program,
            now,
            kind="monthly",
            specimen_date="2026-10-01",
            result="negative",
            setting="medical",
        ).code
        == "VALIDATION_ERROR"
    )


def test_R_TIME_1_window_close_instant_is_per_program_time_zone(program):
    """The close instant is cached per (date, time zone): another zone's program gets its own."""
    from dataclasses import replace

    west = replace(program, timezone="America/Los_Angeles")
    assert window_close_instant(date(2026, 11, 7), program) == datetime(2026, 11, 8, 5, tzinfo=UTC)
    assert window_close_instant(date(2026, 11, 7), west) == datetime(2026, 11, 8, 8, tzinfo=UTC)


def test_R_RMA_5_dates_read_aloud_are_the_english_strftime_forms():
    """messages.short/long name months and weekdays from a table: the same text as %b/%A in the
    C locale, for every day of four years; long names the year only when it is not today's."""
    from datetime import timedelta

    from workflows.messages import long, short

    for n in range(4 * 366):
        d = date(2025, 1, 1) + timedelta(days=n)
        assert short(d) == f"{d:%b} {d.day}"
        assert long(d, date(d.year, 6, 1)) == f"{d:%A}, {d:%b} {d.day}"
        assert long(d, date(d.year + 1, 1, 1)) == f"{d:%A}, {d:%b} {d.day}, {d.year}"


def test_R_RMA_5_a_date_names_its_year_when_read_in_another_year():
    """messages.short(d, today): the year only when `d` is not in today's year ("Dec 31" read on
    Dec 31, "Dec 31, 2026" read on Jan 2, 2027 or a year before); without `today`, never."""
    from workflows.messages import short

    d = date(2026, 12, 31)
    assert short(d, date(2026, 1, 1)) == short(d, d) == short(d) == "Dec 31"
    assert short(d, date(2027, 1, 2)) == "Dec 31, 2026"
    assert short(d, date(2025, 12, 31)) == "Dec 31, 2026"


def test_R_TIME_1_R_RMA_5_dates_of_another_year_name_their_year(program):
    """A sentence read in January about December names the year of each date that is not this
    year's (it read "Informed consent signed Dec 20." and "the window closed Dec 27." in the new
    year, leaving the year to guess; QA 2026-11-26); this year's dates stay short."""
    p = _first_window("2026-12-01", "2026-10-01", "2026-12-21")
    in_january = decide_dispense(request(p), program, at("2027-01-05T15:00"))
    assert "Pregnancy test collected Dec 21, 2026: the window closed Dec 27, 2026." in [
        r.message for r in in_january.reasons]
    status = evaluate_patient(p, program, at("2027-01-05T15:00"))
    details = {r.code: r.detail for r in status.requirements}
    assert "Informed consent signed Dec 1, 2026." in details.values()
    in_december = decide_dispense(request(p), program, at("2026-12-28T15:00"))
    assert "Pregnancy test collected Dec 21: the window closed Dec 27." in [r.message for r in in_december.reasons]
