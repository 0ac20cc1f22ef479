"""check_transition guards (R-TIME-2, R-CON-1, R-PT-1..4, R-PAT-2, R-PAT-3, R-ATT-2, R-RMA-4, R-END-1)."""

from dataclasses import replace
from datetime import date

import pytest

from tests.workflows.factories import at, patient
from workflows import CCGP, CGP, check_transition

NOW = at("2026-10-21")


def check(action, p, program, now=NOW, **payload):
    return check_transition(action, p, program, now, **payload)


def test_R_CON_1_contraception_forms(program):
    p = patient().build()
    ok = dict(start_date=date(2026, 10, 1))
    assert check("record_contraception", p, program, forms=("iud", "male_condom"), **ok).ok
    assert check("record_contraception", p, program, forms=("iud", "combined_pill"), **ok).ok
    assert check("record_contraception", p, program, forms=(), abstinence=True, **ok).ok
    for forms in (
        ("male_condom", "vaginal_sponge"),
        ("iud",),
        ("iud", "iud"),
        ("mini_pill", "male_condom"),
        ("iud", "male_condom", "patch"),
    ):
        v = check("record_contraception", p, program, forms=forms, **ok)
        assert (v.code, v.field) == ("CONTRACEPTION_INVALID", "forms"), forms
    # the mini-pill note only where a mini-pill was named
    mini = check("record_contraception", p, program, forms=("mini_pill", "male_condom"), **ok).message
    assert mini == ("Not an accepted form of contraception: mini pill "
                    "(the progestin-only mini-pill is not a primary form).")
    other = check("record_contraception", p, program, forms=("spermicide_gel", "iud"), **ok).message
    assert other == "Not an accepted form of contraception: spermicide gel."
    assert (
        check("record_contraception", p, program, forms=("iud", "male_condom"), abstinence=True, **ok).code
        == "CONTRACEPTION_INVALID"
    )
    assert (
        check(
            "record_contraception", patient(category=CCGP).build(), program, forms=(), abstinence=True, **ok
        ).code
        == "VALIDATION_ERROR"
    )


def _test(p, program, now=NOW, **kw):
    payload = dict(
        kind="confirmation", specimen_date=date(2026, 10, 20), result="negative", setting="medical"
    )
    payload.update(kw)
    return check("record_test", p, program, now, **payload)


def test_R_PT_1_test_kinds(program):
    fresh = patient().consent().build()
    assert _test(fresh, program).ok
    assert _test(fresh, program, kind="screening").ok
    assert _test(fresh, program, kind="bogus").code == "INVALID_TEST_KIND"
    assert _test(fresh, program, kind="post_treatment").code == "INVALID_TEST_KIND"
    assert _test(fresh, program, kind="monthly").code == "INVALID_TEST_KIND"
    treated = patient().cgp_ready().rma("2026-10-21", "2026-10-26").build()
    later = at("2026-11-15")
    assert (
        _test(treated, program, later, kind="screening", specimen_date=date(2026, 11, 15)).code
        == "INVALID_TEST_KIND"
    )
    assert (
        _test(treated, program, later, kind="confirmation", specimen_date=date(2026, 11, 15)).code
        == "INVALID_TEST_KIND"
    )
    assert _test(treated, program, later, kind="monthly", specimen_date=date(2026, 11, 15)).ok
    assert _test(fresh, program, result="maybe").code == "VALIDATION_ERROR"
    assert _test(fresh, program, setting="car").code == "VALIDATION_ERROR"
    assert _test(patient(category=CCGP).build(), program).code == "VALIDATION_ERROR"


def test_R_PT_2_R_PT_3_home_tests(program):
    fresh = patient().home_testing().build()
    v = _test(fresh, program, kind="screening", setting="home")
    assert (v.code, v.field) == ("HOME_TEST_NOT_ALLOWED", "setting")
    assert _test(fresh, program, setting="home").code == "HOME_TEST_NOT_ALLOWED"
    treated = patient().cgp_ready().rma("2026-10-21", "2026-10-26").build()
    monthly = dict(kind="monthly", specimen_date=date(2026, 11, 15), setting="home")
    assert _test(treated, program, at("2026-11-15"), **monthly).code == "HOME_TEST_NOT_ALLOWED"
    enabled = replace(treated, home_testing_since=date(2026, 11, 15))
    assert _test(enabled, program, at("2026-11-15"), **monthly).ok
    # R-PT-3: enabled on Nov 16, a home test collected Nov 15 does not count
    late = replace(treated, home_testing_since=date(2026, 11, 16))
    v = _test(late, program, at("2026-11-16"), **monthly)
    assert (v.code, v.field) == ("HOME_TEST_NOT_ALLOWED", "setting")
    assert "enabled for this patient on Nov 16" in v.message
    ended = replace(enabled, last_dose_date=date(2026, 11, 10))
    assert _test(
        ended,
        program,
        at("2026-12-10"),
        kind="post_treatment",
        specimen_date=date(2026, 12, 10),
        setting="home",
    ).ok
    assert check("enable_home_testing", treated, program).ok
    assert check("enable_home_testing", enabled, program).code == "VALIDATION_ERROR"


def test_R_PT_4_positive_results_are_always_recordable_then_records_stop(program):
    fresh = patient().build()
    assert _test(fresh, program, setting="home", result="positive").ok
    pregnant = patient().cgp_ready().test("monthly", "2026-10-21", result="positive").build()
    assert _test(pregnant, program, at("2026-10-22")).code == "PREGNANCY_REPORTED"
    assert (
        check(
            "record_visit", pregnant, program, at("2026-10-22"), visit_date=date(2026, 10, 22), counseled=True
        ).code
        == "PREGNANCY_REPORTED"
    )
    assert (
        check("change_category", pregnant, program, at("2026-10-22"), category=CCGP).code
        == "PREGNANCY_REPORTED"
    )


def test_R_PAT_3_consent_guardian_under_18(program):
    minor = patient(dob="2008-10-22").build()  # turns 18 on Oct 22 2026
    v = check("sign_consent", minor, program, signed_on=date(2026, 10, 21), guardian_name="  ")
    assert (v.code, v.field) == ("GUARDIAN_REQUIRED", "guardian_name")
    assert check(
        "sign_consent", minor, program, signed_on=date(2026, 10, 21), guardian_name="Mary Shelley"
    ).ok
    assert check(
        "sign_consent", minor, program, at("2026-10-22"), signed_on=date(2026, 10, 22), guardian_name=None
    ).ok
    assert (
        check(
            "sign_consent",
            patient().consent().build(),
            program,
            signed_on=date(2026, 10, 21),
            guardian_name=None,
        ).code
        == "CONSENT_ALREADY_SIGNED"
    )
    assert (
        check("sign_consent", minor, program, signed_on=date(2026, 10, 22), guardian_name="x").code
        == "DATE_IN_FUTURE"
    )


def test_R_ATT_1_R_ATT_2_attestation_attempts(program):
    b = patient().consent().visit("2026-10-01").contraception("2026-09-01").test("screening", "2026-10-01")
    assert check("attempt_attestation", b.build(), program).ok
    for _ in range(3):
        b = b.fail_attestation("2026-10-20")
    assert check("attempt_attestation", b.build(), program).code == "ATTEMPTS_EXHAUSTED"
    assert check("attempt_attestation", b.visit("2026-10-21").build(), program, at("2026-10-21T18:00")).ok
    assert (
        check("attempt_attestation", patient().cgp_ready().build(), program).code
        == "ATTESTATION_NOT_REQUIRED"
    )
    assert (
        check("attempt_attestation", patient().ccgp_ready().build(), program).code
        == "ATTESTATION_NOT_REQUIRED"
    )


def test_R_RMA_4_reversal_only_of_unreversed_rma(program):
    p = patient().cgp_ready().rma("2026-10-21", "2026-10-26", number="RMA1").build()
    assert check("reverse_authorization", p, program, at("2026-10-22"), rma="RMA1").ok
    assert check("reverse_authorization", p, program, at("2026-10-22"), rma="NOPE").code == "NOT_REVERSIBLE"
    gone = (
        patient().cgp_ready().rma("2026-10-21", "2026-10-26", number="RMA1", reversed_on="2026-10-21").build()
    )
    assert (
        check("reverse_authorization", gone, program, at("2026-10-22"), rma="RMA1").code == "NOT_REVERSIBLE"
    )


def test_R_END_1_end_treatment_guards(program):
    p = patient(enrolled="2026-10-05").consent("2026-10-05").build()
    assert (
        check("end_treatment", p, program, last_dose_date=date(2026, 10, 4)).code
        == "LAST_DOSE_BEFORE_ENROLLMENT"
    )
    assert check("end_treatment", p, program, last_dose_date=date(2026, 10, 5)).ok
    ended = replace(p, last_dose_date=date(2026, 10, 10))
    assert check("end_treatment", ended, program, last_dose_date=date(2026, 10, 11)).code == "TREATMENT_ENDED"
    assert (
        check(
            "record_contraception", ended, program, start_date=date(2026, 10, 1), forms=(), abstinence=True
        ).code
        == "TREATMENT_ENDED"
    )
    assert _test(ended, program, kind="monthly", specimen_date=date(2026, 10, 20)).code == "TREATMENT_ENDED"
    assert check("record_visit", ended, program, visit_date=date(2026, 10, 20), counseled=False).ok
    assert check("attempt_attestation", ended, program).code == "TREATMENT_ENDED"


def test_R_PAT_2_change_category(program):
    p = patient().build()
    assert check("change_category", p, program, category=CGP).code == "CATEGORY_UNCHANGED"
    assert check("change_category", p, program, category=CCGP).ok
    assert check("change_category", p, program, category="other").code == "VALIDATION_ERROR"


@pytest.mark.parametrize("action", ["fly_away"])
def test_unknown_action_is_a_validation_error(program, action):
    assert check(action, patient().build(), program).code == "VALIDATION_ERROR"


def test_R_TIME_2_missing_date_is_a_validation_error(program):
    v = check("record_visit", patient().build(), program, counseled=True)
    assert (v.code, v.field) == ("VALIDATION_ERROR", "visit_date")
