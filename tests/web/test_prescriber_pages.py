"""Prescriber pages: access matrix, certification, worklist (urgency, filters, bounded SQL),
enrollment (code shown once, duplicate -> transfer) and the patient page's record forms."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import event, select

from rems.clock import today
from rems.extensions import db
from rems.models import AuditEntry, Patient, Visit
from rems.services import patients
from rems.web.helpers import long_date
from tests.support.factories import PASSWORD
from tests.web.conftest import text


def _page_urls(patient):
    return [
        "/prescriber/",
        "/prescriber/certification",
        "/prescriber/patients/new",
        f"/prescriber/patients/{patient.rems_id}",
    ]


def test_prescriber_gets_every_page(web, factory):
    pres = factory.prescriber()
    patient = factory.patient(pres)
    web.sign_in(pres.user)
    for url in _page_urls(patient):
        assert web.get(url).status_code == 200, url


@pytest.mark.parametrize("role", ["admin", "pharmacist", "patient"])
def test_other_roles_are_refused(web_as, web, factory, role):
    patient = factory.patient()
    web_as(role)
    for url in _page_urls(patient):
        assert web.get(url).status_code == 403, url
    assert web.post(f"/prescriber/patients/{patient.rems_id}/visit", {}, prefix="visit").status_code == 403


def test_anonymous_is_sent_to_sign_in(web, factory):
    patient = factory.patient()
    for url in _page_urls(patient):
        resp = web.get(url)
        assert resp.status_code == 302 and "/sign-in" in resp.headers["Location"], url


def test_another_prescribers_patient_is_not_found(web, factory):
    patient = factory.patient()
    web.sign_in(factory.prescriber().user)
    assert web.get(f"/prescriber/patients/{patient.rems_id}").status_code == 404
    assert (
        web.post(
            f"/prescriber/patients/{patient.rems_id}/visit",
            {"visit-visit_date": today().isoformat(), "visit-password": PASSWORD},
            prefix="visit",
        ).status_code
        == 404
    )


def test_certification_signs_the_attestation_r_pres_1(web, factory):
    pres = factory.prescriber(certified=False)
    web.sign_in(pres.user)
    page = text(web.get("/prescriber/certification"))
    assert "Pending" in page and "Sign the attestation" in page
    wrong = web.post("/prescriber/certification", {"agree": "y", "password": "not my password at all"})
    assert wrong.status_code == 422
    assert "The password does not match; nothing was signed." in text(wrong)
    db.session.expire_all()
    assert pres.status == "pending"
    ok = web.post("/prescriber/certification", {"agree": "y", "password": PASSWORD}, follow_redirects=True)
    db.session.expire_all()
    assert pres.status == "certified" and pres.certified_until is not None
    assert "Certified" in text(ok) and f"{pres.certified_until.year}" in text(ok)


def test_certification_requires_agreeing(web, factory):
    pres = factory.prescriber(certified=False)
    web.sign_in(pres.user)
    resp = web.post("/prescriber/certification", {"password": PASSWORD})
    assert resp.status_code == 422 and "Tick the box" in text(resp)
    db.session.expire_all()
    assert pres.status == "pending"


# ----- worklist ---------------------------------------------------------------------------------
def _window_open_missing_counseling(factory, pres):
    """A CGP patient whose confirmation test opened the window today; counseling and the monthly
    attestation are still missing (R-CYC-2)."""
    p = factory.patient(pres, dob=date(1999, 1, 2))
    d = today()
    patients.record_contraception(
        pres.user, p, {"start_date": d - timedelta(days=40), "forms": ["iud", "male_condom"]}
    )
    patients.record_test(
        pres.user,
        p,
        {
            "kind": "screening",
            "specimen_date": d - timedelta(days=25),
            "result": "negative",
            "setting": "medical",
        },
    )
    patients.record_test(
        pres.user, p, {"kind": "confirmation", "specimen_date": d, "result": "negative", "setting": "medical"}
    )
    return p


def _eligible_ccgp(factory, pres):
    p = factory.patient(pres, category="cannot_get_pregnant", dob=date(1980, 3, 3))
    patients.record_visit(
        pres.user, p, {"visit_date": today(), "counseled": True, "signature": {"password": PASSWORD}}
    )
    return p


def _names(html: str, candidates) -> list:
    return sorted(candidates, key=lambda p: html.index(p.rems_id))


def test_worklist_sorts_by_urgency_and_filters(web, factory):
    pres = factory.prescriber()
    ready = _eligible_ccgp(factory, pres)
    new = factory.patient(pres)  # steps missing, no window
    urgent = _window_open_missing_counseling(factory, pres)  # window open, steps missing
    ended = factory.patient(pres, dob=date(1995, 6, 6))
    patients.end_treatment(pres.user, ended, {"last_dose_date": today(), "reason": "course done"})
    factory.patient()  # someone else's patient: never listed
    web.sign_in(pres.user)

    html = web.get("/prescriber/").get_data(as_text=True)
    assert _names(html, [ready, new, urgent, ended]) == [urgent, ended, new, ready]
    assert "Window closes" in html and "Test due from" in html
    assert html.count("/prescriber/patients/") - html.count("/prescriber/patients/new") == 4

    ccgp = web.get("/prescriber/?category=cannot_get_pregnant").get_data(as_text=True)
    assert ready.rems_id in ccgp and new.rems_id not in ccgp
    post = web.get("/prescriber/?status=post_treatment").get_data(as_text=True)
    assert ended.rems_id in post and urgent.rems_id not in post
    action = web.get("/prescriber/?needs_action=1").get_data(as_text=True)
    assert ready.rems_id not in action and urgent.rems_id in action and new.rems_id in action
    by_id = web.get(f"/prescriber/?q={new.rems_id}").get_data(as_text=True)
    assert new.rems_id in by_id and ready.rems_id not in by_id
    by_name = web.get(f"/prescriber/?q={ended.last_name.lower()}").get_data(as_text=True)
    assert ended.rems_id in by_name and new.rems_id not in by_name
    odd = web.get("/prescriber/?q=%25_\\&status=nonsense&category=x")
    assert odd.status_code == 200 and "No patient matches" in text(odd)


def _count_statements(fn) -> int:
    count = 0

    def on_execute(*_args):
        nonlocal count
        count += 1

    engine = db.engine
    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
    return count


def test_worklist_shows_who_has_not_activated_r_pat_3(web, factory):
    pres = factory.prescriber()
    factory.patient(pres)
    pending = factory.patient(pres, activated=False)
    web.sign_in(pres.user)
    html = web.get("/prescriber/").get_data(as_text=True)
    assert html.count("account not activated") == 1
    row = html[html.index(pending.rems_id):]
    assert row.index("account not activated") < row.index("</td>")  # in the pending patient's row


def test_worklist_sql_statements_do_not_grow_with_patients(web, factory):
    pres = factory.prescriber()
    for _ in range(2):
        _eligible_ccgp(factory, pres)
    web.sign_in(pres.user)
    web.get("/prescriber/")
    few = _count_statements(lambda: web.get("/prescriber/"))
    for _ in range(6):
        _eligible_ccgp(factory, pres)
    _window_open_missing_counseling(factory, pres)
    many = _count_statements(lambda: web.get("/prescriber/"))
    assert many == few and many <= 10, (few, many)


# ----- enrollment -------------------------------------------------------------------------------
ENROLL = {
    "first_name": "Nora",
    "last_name": "Quinn",
    "date_of_birth": "2001-04-05",
    "email": "nora.quinn@example.org",
    "category": "can_get_pregnant",
}


def test_enroll_shows_rems_id_and_code_once_r_pat_1(web, factory):
    pres = factory.prescriber()
    web.sign_in(pres.user)
    resp = web.post("/prescriber/patients/new", ENROLL)
    assert resp.status_code == 201
    patient = db.session.execute(select(Patient).where(Patient.email == ENROLL["email"])).scalar_one()
    page = text(resp)
    assert patient.rems_id in page and "Activation code" in page and "only once" in page
    assert "Activation code" not in text(web.get(f"/prescriber/patients/{patient.rems_id}"))


def test_enroll_errors_keep_typed_values(web, factory):
    web.sign_in(factory.prescriber().user)
    future = (today() + timedelta(days=3)).isoformat()
    resp = web.post("/prescriber/patients/new", dict(ENROLL, date_of_birth=future))
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert (
        "cannot be in the future" in html
        and 'value="Nora"' in html
        and 'value="nora.quinn@example.org"' in html
    )
    typo = web.post("/prescriber/patients/new", dict(ENROLL, date_of_birth="1890-01-01"))
    assert typo.status_code == 422 and "is more than 120 years ago: check the year" in text(typo)
    missing = web.post("/prescriber/patients/new", dict(ENROLL, first_name="", category=""))
    assert missing.status_code == 422 and "Choose the patient&#39;s risk category" in missing.get_data(
        as_text=True
    )


def test_duplicate_patient_offers_transfer(web, factory):
    first = factory.prescriber()
    web.sign_in(first.user)
    assert web.post("/prescriber/patients/new", ENROLL).status_code == 201
    second = factory.prescriber()
    web.sign_in(second.user)
    dup = web.post("/prescriber/patients/new", dict(ENROLL, email="other@example.org"))
    assert dup.status_code == 422
    assert "already enrolled" in text(dup) and 'name="transfer"' in dup.get_data(as_text=True)
    moved = web.post("/prescriber/patients/new", dict(ENROLL, email="other@example.org", transfer="y"))
    assert moved.status_code == 302
    patient = db.session.execute(select(Patient).where(Patient.email == ENROLL["email"])).scalar_one()
    assert patient.prescriber_id == second.id


def test_sending_the_enrollment_again_opens_the_patient_and_transfers_nothing(web, factory):
    """A reloaded confirmation page posts the form again: it used to answer 'duplicate, tick transfer'
    and then 'transferred to your care' (an audit entry moving the patient from you to you)."""
    pres = factory.prescriber()
    web.sign_in(pres.user)
    assert web.post("/prescriber/patients/new", ENROLL).status_code == 201
    patient = db.session.execute(select(Patient).where(Patient.email == ENROLL["email"])).scalar_one()
    again = web.post("/prescriber/patients/new", ENROLL)
    assert again.status_code == 302 and again.headers["Location"].endswith(f"/prescriber/patients/{patient.rems_id}")
    page = text(web.get(again.headers["Location"]))
    assert f"is already enrolled in your care (REMS ID {patient.rems_id})" in page
    web.post("/prescriber/patients/new", dict(ENROLL, transfer="y"))
    transfers = db.session.execute(select(AuditEntry).where(AuditEntry.action == "patient.transferred")).all()
    assert transfers == []


def test_uncertified_prescriber_cannot_enroll(web, factory):
    web.sign_in(factory.prescriber(certified=False).user)
    resp = web.post("/prescriber/patients/new", ENROLL)
    assert resp.status_code == 422 and "sign the program attestation first" in text(resp)


# ----- the patient page -------------------------------------------------------------------------
def test_patient_page_shows_status_and_audits_the_read_r_aud_1(web, factory):
    pres = factory.prescriber()
    patient = _window_open_missing_counseling(factory, pres)
    web.sign_in(pres.user)
    page = text(web.get(f"/prescriber/patients/{patient.rems_id}"))
    assert "Window open from" in page and "Counseling documented" in page
    assert "Counsel the patient and record the counseling." in page
    assert "Confirmation pregnancy test: negative" in page and "Iud" not in page
    reads = (
        db.session.execute(
            select(AuditEntry).where(AuditEntry.action == "patient.read", AuditEntry.patient_id == patient.id)
        )
        .scalars()
        .all()
    )
    assert len(reads) == 1 and reads[0].actor_id == pres.user_id


def test_record_visit_with_signature_r_sig_1(web, factory):
    pres = factory.prescriber()
    patient = factory.patient(pres)
    web.sign_in(pres.user)
    url = f"/prescriber/patients/{patient.rems_id}/visit"
    day = today().isoformat()
    wrong = web.post(
        url,
        {"visit-visit_date": day, "visit-counseled": "y", "visit-password": "wrong password!!"},
        prefix="visit",
    )
    assert wrong.status_code == 422
    html = wrong.get_data(as_text=True)
    assert "The password does not match" in html and f'value="{day}"' in html and "open" in html
    assert db.session.execute(select(Visit)).first() is None
    ok = web.post(
        url,
        {"visit-visit_date": day, "visit-counseled": "y", "visit-password": PASSWORD},
        prefix="visit",
        follow_redirects=True,
    )
    assert "Visit recorded and signed." in text(ok) and "Visit with counseling" in text(ok)
    assert "Signed by Dana" in text(ok)


def test_record_forms_put_service_errors_on_their_field(web, factory):
    pres = factory.prescriber()
    patient = factory.patient(pres)
    web.sign_in(pres.user)
    base = f"/prescriber/patients/{patient.rems_id}"
    start = (today() - timedelta(days=2)).isoformat()
    one_form = web.post(
        f"{base}/contraception",
        {"contraception-start_date": start, "contraception-method": "forms", "contraception-form_1": "iud"},
        prefix="contraception",
    )
    assert one_form.status_code == 422
    html = one_form.get_data(as_text=True)
    assert "Two different forms of contraception are required." in html and f'value="{start}"' in html
    assert 'id="contraception-form_1-error"' in html

    future = (today() + timedelta(days=1)).isoformat()
    test = web.post(
        f"{base}/test",
        {
            "test-kind": "screening",
            "test-specimen_date": future,
            "test-result": "negative",
            "test-setting": "medical",
        },
        prefix="test",
    )
    assert test.status_code == 422 and 'id="test-specimen_date-error"' in test.get_data(as_text=True)

    home = web.post(f"{base}/home_testing", {"home_testing-enabled": "y"}, prefix="home_testing")
    assert home.status_code == 422 and 'id="home_testing-procedure-error"' in home.get_data(as_text=True)
    bad_date = web.post(f"{base}/end", {"end-last_dose_date": "not a date"}, prefix="end")
    assert bad_date.status_code == 422
    assert web.post(f"{base}/nonsense", {}, prefix="nonsense").status_code == 404


def test_r_pat_3_a_new_activation_code_for_a_patient_who_lost_theirs(web, factory):
    from rems.services import accounts

    pres = factory.prescriber()
    patient = factory.patient(pres, activated=False)
    web.sign_in(pres.user)
    base = f"/prescriber/patients/{patient.rems_id}"
    page = text(web.get(base))
    assert "has not activated their account yet" in page and "Not activated yet" in page
    resp = web.post(f"{base}/activation-code", {})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "the earlier code no longer works" in html
    new_code = re.search(r"\b[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}\b", html).group(0)
    assert new_code != patient.activation_code
    with pytest.raises(Exception, match="activation code"):
        accounts.activate(patient.activation_code, PASSWORD, patient.date_of_birth)
    db.session.rollback()
    accounts.activate(new_code, PASSWORD, patient.date_of_birth)
    db.session.commit()
    # once activated: no card, and a stale form gets a message instead of a code
    assert "has not activated their account yet" not in text(web.get(base))
    again = web.post(f"{base}/activation-code", {}, follow_redirects=True)
    assert "has already activated their account" in text(again)


def test_home_testing_category_and_end_of_treatment(web, factory):
    pres = factory.prescriber()
    patient = factory.patient(pres)
    web.sign_in(pres.user)
    base = f"/prescriber/patients/{patient.rems_id}"
    procedure = "Photo of the test with the REMS ID next to it, sent the same day."
    home = web.post(
        f"{base}/home_testing",
        {"home_testing-enabled": "y", "home_testing-procedure": procedure},
        prefix="home_testing",
        follow_redirects=True,
    )
    assert "Home testing setting saved." in text(home) and procedure in home.get_data(as_text=True)
    # R-PT-3: the page says from which day home tests count
    db.session.expire_all()
    assert patient.home_testing_enabled_on == today()
    assert f"Allowed for tests collected from {long_date(today())}" in text(home)
    no_reason = web.post(f"{base}/category", {"category-category": "cannot_get_pregnant"}, prefix="category")
    assert no_reason.status_code == 422 and "Give the reason" in text(no_reason)
    cat = web.post(
        f"{base}/category",
        {"category-category": "cannot_get_pregnant", "category-reason": "Post-menopausal, confirmed."},
        prefix="category",
        follow_redirects=True,
    )
    assert "Risk category changed." in text(cat) and "Post-menopausal, confirmed." in text(cat)
    end = web.post(
        f"{base}/end",
        {"end-last_dose_date": today().isoformat(), "end-reason": "Clear skin"},
        prefix="end",
        follow_redirects=True,
    )
    assert "End of treatment recorded." in text(end) and "Completed" in text(end)
    db.session.expire_all()
    assert patient.category == "cannot_get_pregnant" and patient.courses[-1].last_dose_date == today()
