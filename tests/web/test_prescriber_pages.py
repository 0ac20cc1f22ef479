"""Prescriber pages: access matrix, certification, worklist (urgency, filters, bounded SQL),
enrollment (code shown once, duplicate -> transfer) and the patient page's record forms."""

from __future__ import annotations

import html as html_lib
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import event, select

from rems.clock import today
from rems.extensions import db
from rems.models import AuditEntry, Authorization, Notification, Patient, PregnancyCase, PregnancyTest, Visit
from rems.services import patients
from rems.web.helpers import long_date
from tests.support.factories import PASSWORD
from tests.web.conftest import text
from tests.worker import scenarios
from workflows.messages import short


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


CODE_RE = re.compile(r"\b[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}\b")


def _session_cookie(web, app) -> dict:
    """The Flask session as the browser holds it (signed, not encrypted: anyone holding it can read it)."""
    cookie = web.client.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session"))
    if cookie is None:
        return {}
    return app.session_interface.get_signing_serializer(app).loads(cookie.value)


def test_enroll_shows_rems_id_and_code_once_r_pat_1(web, factory, app):
    """Post/Redirect/Get: the enrollment answers a redirect to a confirmation page; its first GET
    shows the one-time code (R-PAT-3), a reload shows it no more, sends nothing again and says how
    to give the patient a new code. The code leaves the session cookie as soon as it is shown."""
    pres = factory.prescriber()
    web.sign_in(pres.user)
    resp = web.post("/prescriber/patients/new", ENROLL)
    patient = db.session.execute(select(Patient).where(Patient.email == ENROLL["email"])).scalar_one()
    confirmation = f"/prescriber/patients/{patient.rems_id}/enrolled"
    assert resp.status_code == 303 and resp.headers["Location"] == confirmation
    shown = web.get(confirmation)
    assert shown.status_code == 200 and shown.headers["Cache-Control"] == "no-store"
    page = text(shown)
    assert "Nora Quinn is enrolled" in page and patient.rems_id in page
    assert "Activation code" in page and "only once" in page
    code = CODE_RE.search(page).group(0)
    assert "handover_once" not in _session_cookie(web, app)  # popped by the GET that showed it
    reload = web.get(confirmation)
    again = text(reload)
    assert reload.status_code == 200 and reload.headers["Cache-Control"] == "no-store"
    assert code not in again and "Activation code" not in again and CODE_RE.search(again) is None
    assert "The activation code is not shown again" in again and patient.rems_id in again
    assert "If the patient does not have the code, give them a new one" in again
    assert f'action="/prescriber/patients/{patient.rems_id}/activation-code"' in reload.get_data(as_text=True)
    assert len(db.session.execute(select(Patient)).all()) == 1  # a reload enrolled nobody again
    enrolled = db.session.execute(select(AuditEntry).where(AuditEntry.action == "patient.enrolled")).all()
    assert len(enrolled) == 1
    assert "Activation code" not in text(web.get(f"/prescriber/patients/{patient.rems_id}"))
    # the code works, once: the patient activates with it
    from rems.services import accounts

    accounts.activate(code, PASSWORD, patient.date_of_birth)
    db.session.commit()
    after = text(web.get(confirmation))
    assert "has already activated their account" in after and "give them a new one" not in after
    web.sign_in(factory.prescriber().user)  # another prescriber: not theirs to see
    assert web.get(confirmation).status_code == 404
    assert web.get(f"/prescriber/patients/{patient.rems_id}/activation-code").status_code == 404


def test_an_activation_code_not_shown_at_once_is_never_shown(web, factory, app, monkeypatch):
    """The code rides in the session cookie for the redirect only, ENCRYPTED (rems.web.handover: the
    cookie is only signed, and a readable code with a date of birth opens the patient's account,
    QA 2026-11-26): the next other page drops it, and a hand-over older than TTL_SECONDS is not
    shown either."""
    import json

    from rems.web import handover

    pres = factory.prescriber()
    web.sign_in(pres.user)
    first = web.post("/prescriber/patients/new", ENROLL)
    cookie = _session_cookie(web, app)
    assert first.status_code == 303 and handover.KEY in cookie
    assert web.get("/prescriber/").status_code == 200  # the redirect not followed: another page first
    assert handover.KEY not in _session_cookie(web, app)
    late = text(web.get(first.headers["Location"]))
    assert "The activation code is not shown again" in late and CODE_RE.search(late) is None

    second = web.post("/prescriber/patients/new", dict(ENROLL, first_name="Ada", email="ada@example.org"))
    now = handover.wall_clock()
    monkeypatch.setattr(handover, "wall_clock", lambda: now + handover.TTL_SECONDS + 1)
    stale = text(web.get(second.headers["Location"]))
    assert "The activation code is not shown again" in stale and CODE_RE.search(stale) is None
    assert handover.KEY not in _session_cookie(web, app)
    # another patient's confirmation page never shows this patient's code
    monkeypatch.undo()
    third = web.post("/prescriber/patients/new", dict(ENROLL, first_name="Bea", email="bea@example.org"))
    other = text(web.get(second.headers["Location"]))
    assert "The activation code is not shown again" in other and CODE_RE.search(other) is None
    assert CODE_RE.search(text(web.get(third.headers["Location"]))) is None  # popped by the page above
    # the cookie a code crosses in does not contain it
    fourth = web.post("/prescriber/patients/new", dict(ENROLL, first_name="Cy", email="cy@example.org"))
    cookie = json.dumps(_session_cookie(web, app))
    shown = CODE_RE.search(text(web.get(fourth.headers["Location"]))).group(0)
    assert handover.KEY in cookie and shown not in cookie and shown.replace("-", "") not in cookie


def test_only_the_activation_code_is_set_in_the_large_code_style(web, factory):
    """.code-once (large, bold, monospace, letter-spaced) is for the code itself, as on the
    pharmacist's invitation: the card's heading, sentence and labels read as normal text."""
    web.sign_in(factory.prescriber().user)
    first = web.post("/prescriber/patients/new", ENROLL)
    html = web.get(first.headers["Location"]).get_data(as_text=True)
    code = CODE_RE.search(text_of := html_lib.unescape(html)).group(0)
    assert re.findall(r'class="[^"]*\bcode-once\b[^"]*">([^<]*)<', html) == [code]
    assert "Give these to the patient now" in text_of


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
    assert web.post("/prescriber/patients/new", ENROLL).status_code == 303
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
    assert web.post("/prescriber/patients/new", ENROLL).status_code == 303
    patient = db.session.execute(select(Patient).where(Patient.email == ENROLL["email"])).scalar_one()
    again = web.post("/prescriber/patients/new", ENROLL)  # the form sent again (the Back button)
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
    assert resp.status_code == 303 and resp.headers["Location"] == f"{base}/activation-code"
    shown = web.get(f"{base}/activation-code")
    html = shown.get_data(as_text=True)
    assert shown.status_code == 200 and "the earlier code no longer works" in html
    new_code = CODE_RE.search(html).group(0)
    assert new_code != patient.activation_code
    # a reload shows it no more and issues no other code (the one given out keeps working)
    reload = text(web.get(f"{base}/activation-code"))
    assert new_code not in reload and "An activation code is shown once" in reload
    replaced = db.session.execute(select(AuditEntry).where(
        AuditEntry.action == "patient.activation_code_replaced")).all()
    assert len(replaced) == 1
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
        {"end-last_dose_date": today().isoformat(), "end-reason": "Clear skin", "end-confirm": "y"},
        prefix="end",
        follow_redirects=True,
    )
    assert "End of treatment recorded." in text(end) and "Completed" in text(end)
    db.session.expire_all()
    assert patient.category == "cannot_get_pregnant" and patient.courses[-1].last_dose_date == today()


# ----- what the prescriber is told after a record ---------------------------------------------
FLASH_RE = re.compile(r'<div class="alert alert--(\w+)" role="\w+">\s*<p>(.*?)</p>', re.S)


def _flash(resp) -> tuple[str, str]:
    """The one outcome message of a page: (category, text)."""
    found = FLASH_RE.findall(resp.get_data(as_text=True))
    assert len(found) == 1, found
    category, message = found[0]
    return category, html_lib.unescape(message)


def _record_test(web, patient, kind, day, result="negative", follow_redirects=True, **extra):
    data = {"test-kind": kind, "test-specimen_date": day.isoformat(), "test-result": result,
            "test-setting": "medical", **extra}
    return web.post(f"/prescriber/patients/{patient.rems_id}/test", data, prefix="test",
                    follow_redirects=follow_redirects)


def _record_visit(web, patient, day, counseled):
    data = {"visit-visit_date": day.isoformat(), "visit-password": PASSWORD}
    if counseled:
        data["visit-counseled"] = "y"
    return web.post(f"/prescriber/patients/{patient.rems_id}/visit", data, prefix="visit", follow_redirects=True)


def _status(patient) -> dict:
    return patients.patient_status(patient, "prescriber", audit_read=False)


def _cgp_before_confirmation(factory, pres, contraception_days_ago, screening_days_ago):
    p = factory.patient(pres)
    d = today()
    patients.record_contraception(
        pres.user, p, {"start_date": d - timedelta(days=contraception_days_ago), "forms": ["iud", "male_condom"]}
    )
    patients.record_test(pres.user, p, {"kind": "screening", "specimen_date": d - timedelta(days=screening_days_ago),
                                        "result": "negative", "setting": "medical"})
    return p


def test_r_pat_4_a_visit_without_counseling_says_counseling_is_still_missing(web, factory):
    pres = factory.prescriber()
    cgp = factory.patient(pres)
    web.sign_in(pres.user)
    category, message = _flash(_record_visit(web, cgp, today(), counseled=False))
    assert category == "warning"
    assert message == (
        "Visit recorded and signed. Counseling was not documented: record it when you counsel the patient."
    )


def test_r_pat_4_no_counseling_note_when_counseling_is_not_required_any_more(web, factory):
    """CCGP: counseling at enrollment only (2026); a later visit without it is a plain success."""
    pres = factory.prescriber()
    ccgp = _eligible_ccgp(factory, pres)
    web.sign_in(pres.user)
    assert _flash(_record_visit(web, ccgp, today(), counseled=False)) == ("success", "Visit recorded and signed.")
    counseled = _record_visit(web, factory.patient(pres), today(), counseled=True)
    assert _flash(counseled) == ("success", "Visit recorded and signed.")


def test_r_con_2_a_confirmation_test_inside_the_lead_in_is_reported_as_not_counting(web, factory):
    """The QA case: a confirmation test 6 days after contraception started; the message carries
    the engine's own sentence (the checklist's), not a rule of the view."""
    pres = factory.prescriber()
    p = _cgp_before_confirmation(factory, pres, contraception_days_ago=6, screening_days_ago=25)
    web.sign_in(pres.user)
    category, message = _flash(_record_test(web, p, "confirmation", today()))
    lead_in = next(r for r in _status(p)["requirements"] if r["code"] == "CONTRACEPTION_LEAD_IN_INCOMPLETE")
    assert category == "warning" and not lead_in["met"]
    assert message == f"Pregnancy test recorded, but it does not count. {lead_in['detail']}"
    assert f"Confirmation test collected {short(today())} is too early" in message
    assert db.session.execute(select(PregnancyTest).where(PregnancyTest.kind == "confirmation")).first()


def test_r_pt_2_a_confirmation_test_too_soon_after_screening_names_the_reason(web, factory):
    pres = factory.prescriber()
    p = _cgp_before_confirmation(factory, pres, contraception_days_ago=40, screening_days_ago=10)
    web.sign_in(pres.user)
    category, message = _flash(_record_test(web, p, "confirmation", today()))
    reason = next(r for r in _status(p)["reasons"] if r["code"] == "CONFIRMATION_TEST_TOO_EARLY")
    assert category == "warning" and message == f"Pregnancy test recorded, but it does not count. {reason['message']}"


def test_r_cyc_2_a_test_that_opens_the_window_is_a_plain_success(web, factory):
    pres = factory.prescriber()
    p = _cgp_before_confirmation(factory, pres, contraception_days_ago=40, screening_days_ago=25)
    web.sign_in(pres.user)
    assert _flash(_record_test(web, p, "confirmation", today())) == ("success", "Pregnancy test recorded.")
    assert _status(p)["window"] is not None


def test_r_end_1_a_post_treatment_test_before_it_is_due_does_not_count(web, factory):
    pres = factory.prescriber()
    p = factory.patient(pres)
    patients.end_treatment(pres.user, p, {"last_dose_date": today()})
    web.sign_in(pres.user)
    category, message = _flash(_record_test(web, p, "post_treatment", today()))
    due = next(r for r in _status(p)["requirements"] if r["code"] == "POST_TREATMENT_TEST")
    assert category == "warning" and not due["met"]
    assert message == f"Pregnancy test recorded, but it does not count. {due['detail']}"


def test_r_cyc_3_a_visit_entered_after_its_window_closed_does_not_count(web, factory):
    """CCGP: a visit dated 40 days ago would have opened a 30-day window that closed before it was
    entered (R-CYC-1 [D]); the engine's reason says so."""
    pres = factory.prescriber()
    p = factory.patient(pres, category="cannot_get_pregnant")
    web.sign_in(pres.user)
    category, message = _flash(_record_visit(web, p, today() - timedelta(days=40), counseled=True))
    reason = next(r for r in _status(p)["reasons"] if "was entered" in r["message"])
    assert reason["code"] == "VISIT_REQUIRED"
    assert category == "warning"
    assert message == f"Visit recorded and signed, but it does not count. {reason['message']}"


def test_r_con_2_the_message_words_the_services_verdict_without_reading_the_status(web, factory, monkeypatch):
    """The view no longer evaluates the patient before and after the record (two extra engine
    passes, the first outside the record's transaction): the POST reads no patient status, and the
    only engine passes are the service's two, before and after the record, in its unit of work."""
    pres = factory.prescriber()
    p = _cgp_before_confirmation(factory, pres, contraception_days_ago=6, screening_days_ago=25)
    web.sign_in(pres.user)
    web.token()
    evaluations, reads = [], []
    real_evaluate, real_status = patients.evaluate_patient, patients.patient_status
    monkeypatch.setattr(patients, "evaluate_patient", lambda *a: evaluations.append(a) or real_evaluate(*a))
    monkeypatch.setattr(patients, "patient_status", lambda *a, **k: reads.append(a) or real_status(*a, **k))
    resp = _record_test(web, p, "confirmation", today(), follow_redirects=False)
    assert resp.status_code == 302
    assert reads == [] and len(evaluations) == 2
    monkeypatch.undo()
    category, message = _flash(web.get(resp.headers["Location"]))
    assert category == "warning"
    assert message.startswith(f"Pregnancy test recorded, but it does not count. Confirmation test collected "
                              f"{short(today())} is too early")


def _cgp_with_open_rma(factory, pres):
    p = scenarios.cgp_in_window(factory, pres, confirmation_days_ago=2)
    scenarios.attest(p)
    pharmacy, rsp = factory.pharmacy()
    scenarios.authorize(p, pharmacy, rsp)
    return p, rsp


def test_r_pt_4_a_positive_result_needs_its_confirmation_box_on_the_web_form(web, factory):
    pres = factory.prescriber()
    p, _ = _cgp_with_open_rma(factory, pres)
    web.sign_in(pres.user)
    resp = _record_test(web, p, "monthly", today(), result="positive")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and 'id="test-confirm-error"' in html
    assert "Tick the box to confirm the positive result, or choose Negative if it was negative" in text(resp)
    assert re.search(r'<input checked [^>]*name="test-result" [^>]*value="positive"', html)  # kept
    db.session.expire_all()
    assert db.session.execute(select(PregnancyTest).where(PregnancyTest.result == "positive")).first() is None
    assert db.session.execute(select(PregnancyCase)).first() is None
    assert p.courses[-1].status == "active"


def test_r_pt_4_a_positive_result_without_an_open_rma_or_an_administrator_says_so(web, factory):
    """The message says only what happened: no RMA sentence when no RMA was open, and when no active
    administrator account exists, that nobody was notified (the prescriber must tell them)."""
    pres = factory.prescriber()
    p = factory.patient(pres, category="can_get_pregnant")
    web.sign_in(pres.user)
    resp = _record_test(web, p, "screening", today(), result="positive", **{"test-confirm": "y"})
    category, message = _flash(resp)
    assert category == "warning" and "Treatment has stopped" in message
    assert "must not be dispensed" not in message
    assert "no active administrator account could be notified" in message


def test_r_pt_4_a_recorded_positive_result_says_treatment_stopped_not_success(web, factory):
    """The message claims what record_test does: course stopped, case open, the administrator and
    the pharmacy holding the open RMA notified."""
    pres = factory.prescriber()
    admin = factory.admin()
    p, rsp = _cgp_with_open_rma(factory, pres)
    web.sign_in(pres.user)
    rma = db.session.execute(select(Authorization.rma).where(Authorization.patient_id == p.id)).scalar_one()
    resp = _record_test(web, p, "monthly", today(), result="positive", **{"test-confirm": "y"})
    db.session.expire_all()
    case = db.session.execute(select(PregnancyCase).where(PregnancyCase.patient_id == p.id)).scalar_one()
    assert _flash(resp) == ("warning", (
        "Positive pregnancy test recorded. Treatment has stopped: no RMA will be issued. Pregnancy registry "
        f"case #{case.id} is open and the administrator has been notified. RMA {rma} must not be dispensed: "
        "its pharmacy has been notified."))
    assert p.courses[-1].status == "pregnancy_reported"
    kinds = {
        (n.user_id, n.kind) for n in db.session.execute(select(Notification)).scalars()
    }
    assert (admin.id, "pregnancy_reported") in kinds and (rsp.id, "rma_stopped") in kinds


def test_r_pt_4_a_negative_result_needs_no_confirmation(web, factory):
    pres = factory.prescriber()
    p = _cgp_before_confirmation(factory, pres, contraception_days_ago=40, screening_days_ago=25)
    web.sign_in(pres.user)
    resp = _record_test(web, p, "confirmation", today())
    assert resp.status_code == 200 and _flash(resp)[0] == "success"


def test_r_end_1_ending_treatment_needs_its_confirmation_box(web, factory):
    pres = factory.prescriber()
    p = factory.patient(pres)
    web.sign_in(pres.user)
    base = f"/prescriber/patients/{p.rems_id}"
    assert "Treatment has not started: this course has no RMA." in text(web.get(base))
    day = today().isoformat()
    refused = web.post(f"{base}/end", {"end-last_dose_date": day}, prefix="end")
    assert refused.status_code == 422 and "Tick the box to confirm the end of treatment" in text(refused)
    assert 'id="end-confirm-error"' in refused.get_data(as_text=True)
    db.session.expire_all()
    assert p.courses[-1].last_dose_date is None and p.courses[-1].status == "enrolled"
    done = web.post(f"{base}/end", {"end-last_dose_date": day, "end-confirm": "y"}, prefix="end",
                    follow_redirects=True)
    assert _flash(done) == ("success", "End of treatment recorded.")
    db.session.expire_all()
    assert p.courses[-1].last_dose_date == today()


def test_r_end_1_no_never_dispensed_note_once_treatment_started(web, factory):
    pres = factory.prescriber()
    p, _ = _cgp_with_open_rma(factory, pres)
    web.sign_in(pres.user)
    page = text(web.get(f"/prescriber/patients/{p.rems_id}"))
    assert "I confirm the last dose date; no RMA can be issued after this" in page
    assert "this course has no RMA" not in page
