"""Administrator pages (R-ADMIN-1): access matrix, suspension, question bank round trip, audit
log viewer and chain check, reports with CSV downloads, pregnancy cases (R-PT-4)."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy import text as sql

from rems.clock import today
from rems.errors import ApiError
from rems.extensions import db
from rems.models import AuditEntry, ComprehensionQuestion, PregnancyCase, User
from rems.services import admin, dispensing, patients, practice
from tests.support.factories import PASSWORD
from tests.web.conftest import text

PAGES = [
    "/admin/",
    "/admin/users",
    "/admin/questions",
    "/admin/questions/new",
    "/admin/audit",
    "/admin/reports",
    "/admin/reports/authorizations.csv",
    "/admin/pregnancy-cases",
]


def test_admin_gets_every_page(web_as, web):
    web_as("admin")
    for url in PAGES:
        assert web.get(url).status_code == 200, url


@pytest.mark.parametrize("role", ["prescriber", "pharmacist", "patient"])
def test_other_roles_are_refused(web_as, web, role):
    user = web_as(role)
    for url in PAGES:
        assert web.get(url).status_code == 403, url
    assert (
        web.post(
            f"/admin/users/{user.id}/status",
            {"u1-status": "suspended", "u1-reason": "x"},
            prefix=f"u{user.id}",
        ).status_code
        == 403
    )
    assert web.post("/admin/audit/verify").status_code == 403
    assert web.post("/admin/audit/anchor").status_code == 403


def test_anonymous_is_sent_to_sign_in(web):
    for url in PAGES:
        resp = web.get(url)
        assert resp.status_code == 302 and "/sign-in" in resp.headers["Location"], url


# ----- users ------------------------------------------------------------------------------------
def test_suspend_and_reinstate_with_reason_r_pres_1(web, factory):
    admin_user = factory.admin()
    pres = factory.prescriber()
    web.sign_in(admin_user)
    page = web.get("/admin/users?role=prescriber").get_data(as_text=True)
    assert pres.user.email in page and admin_user.email not in page
    url, prefix = f"/admin/users/{pres.user_id}/status", f"u{pres.user_id}"
    no_reason = web.post(url, {f"{prefix}-status": "suspended", f"{prefix}-reason": ""}, prefix=prefix)
    assert no_reason.status_code == 422 and "Give a reason" in text(no_reason)
    opened = practice.account_version(pres.user)  # the page's form carries it (optimistic concurrency)
    done = web.post(
        url,
        {f"{prefix}-status": "suspended", f"{prefix}-reason": "License under review", f"{prefix}-version": opened,
         f"{prefix}-confirm": "1"},
        prefix=prefix,
        follow_redirects=True,
    )
    assert f"{pres.user.email} was suspended." in text(done)
    db.session.expire_all()
    assert pres.user.status == "suspended" and pres.status == "suspended"
    entry = db.session.execute(
        select(AuditEntry).where(AuditEntry.action == "account.status_changed")
    ).scalar_one()
    assert entry.after == {"status": "suspended", "reason": "License under review", "prescriber_status": "suspended"}
    assert entry.before == {"status": "active", "prescriber_status": "certified"}
    assert "Reinstate" in text(web.get("/admin/users?status=suspended"))
    web.post(url, {f"{prefix}-status": "active", f"{prefix}-reason": "Review closed",
                   f"{prefix}-version": practice.account_version(pres.user)}, prefix=prefix)
    db.session.expire_all()
    assert pres.user.status == "active" and pres.status == "certified"


def test_revoke_a_prescribers_certification_r_pres_1(web, factory, client):
    """R-PRES-1: an administrator can suspend or revoke. Revoked, the prescriber cannot sign in or
    re-certify; reinstated, they are pending until they sign the program attestation again."""
    from rems.services import practice

    admin_user = factory.admin()
    pres = factory.prescriber()
    web.sign_in(admin_user)
    page = text(web.get("/admin/users?role=prescriber"))
    assert "Revoke certification" in page
    url, prefix = f"/admin/users/{pres.user_id}/status", f"u{pres.user_id}"
    done = web.post(url, {f"{prefix}-status": "suspended", f"{prefix}-reason": "License revoked by the board",
                          "revoke": "1", f"{prefix}-confirm": "1",
                          f"{prefix}-version": practice.account_version(pres.user)},
                    prefix=prefix, follow_redirects=True)
    assert f"{pres.user.email} was suspended and their certification revoked." in text(done)
    db.session.expire_all()
    assert pres.user.status == "suspended" and pres.status == "revoked"
    assert "Revoke certification" not in text(web.get("/admin/users?status=suspended"))
    # a suspension on top does not apply (R-ADMIN-1); reinstating asks for a new attestation
    with pytest.raises(ApiError) as refused:
        admin.set_status(admin_user, pres.user_id, {"status": "suspended", "reason": "again"})
    assert refused.value.status == 409 and refused.value.code == "STATUS_CHANGE_NOT_ALLOWED"
    assert pres.status == "revoked"
    done = web.post(url, {f"{prefix}-status": "active", f"{prefix}-reason": "Board decision reversed",
                          f"{prefix}-version": practice.account_version(pres.user)},
                    prefix=prefix, follow_redirects=True)
    assert "reinstated; they must sign the prescriber attestation again" in text(done)
    db.session.expire_all()
    assert pres.user.status == "active" and pres.status == "pending" and pres.certified_until is None
    practice.attest_prescriber(pres.user, PASSWORD)
    db.session.expire_all()
    assert pres.status == "certified"
    # only a prescriber has a certification to revoke (API, problem+json)
    token = client.post("/api/v1/auth/token", json={"email": admin_user.email, "password": PASSWORD}).get_json()
    other = factory.user("patient")
    resp = client.post(f"/api/v1/admin/users/{other.id}/status", headers={"Authorization": f"Bearer {token['token']}"},
                       json={"status": "revoked", "reason": "x"})
    assert resp.status_code == 422 and resp.get_json()["errors"][0]["field"] == "status"


def test_a_refused_status_change_says_why_r_pres_1(web, factory):
    """R-PRES-1 / R-ADMIN-1: revoking a non-prescriber's 'certification' or an unknown status (a
    hand-made post) answered 422 with no message at all: the error sat on the hidden status field."""
    web.sign_in(factory.admin())
    patient = factory.patient(factory.prescriber())
    url, prefix = f"/admin/users/{patient.user_id}/status", f"u{patient.user_id}"
    resp = web.post(url, {f"{prefix}-status": "suspended", f"{prefix}-reason": "x", "revoke": "1"}, prefix=prefix)
    assert resp.status_code == 422 and "Only a prescriber's certification can be revoked (R-PRES-1)." in text(resp)
    resp = web.post(url, {f"{prefix}-status": "deleted", f"{prefix}-reason": "x"}, prefix=prefix)
    assert resp.status_code == 422 and "Unknown status" in text(resp)
    db.session.expire_all()
    assert db.session.get(User, patient.user_id).status == "active"


def test_admin_pages_say_what_their_actions_do_r_admin_1(web, factory):
    """R-ADMIN-1 / R-PRES-1 / R-PT-4 / R-ATT-1: the buttons' consequences are on the page (the users
    page did not say what a suspension or a revocation does, the cases page not that a close is
    final and restarts nothing, the question bank 'a few' questions for a set number)."""
    web.sign_in(factory.admin())
    users = text(web.get("/admin/users"))
    assert "Suspending an account signs it out everywhere (web pages and API tokens)" in users
    assert "the prescriber must sign the program attestation again" in users
    cases = text(web.get("/admin/pregnancy-cases"))
    assert "it does not restart treatment, and it cannot be undone" in cases
    assert "answer 3 of the active questions each cycle" in text(web.get("/admin/questions"))


def test_own_account_cannot_be_suspended(web, factory):
    admin_user = factory.admin()
    web.sign_in(admin_user)
    prefix = f"u{admin_user.id}"
    resp = web.post(
        f"/admin/users/{admin_user.id}/status",
        {f"{prefix}-status": "suspended", f"{prefix}-reason": "oops"},
        prefix=prefix,
        follow_redirects=True,
    )
    assert "You cannot change your own account" in text(resp)
    assert (
        web.post(
            "/admin/users/999999/status",
            {"u999999-status": "suspended", "u999999-reason": "x"},
            prefix="u999999",
        ).status_code
        == 404
    )


# ----- question bank ----------------------------------------------------------------------------
def test_question_editor_round_trip(web, factory):
    web.sign_in(factory.admin())
    before = len(admin.list_questions())
    form = {
        "text": "When must you stop donating blood?",
        "explanation": "Not during treatment or 30 days after.",
        "choice_1": "Never",
        "choice_2": "During treatment and for 30 days after",
        "choice_3": "",
        "correct": "2",
        "active": "y",
    }
    assert web.post("/admin/questions/new", form).status_code == 302
    bank = admin.list_questions()
    assert len(bank) == before + 1
    q = bank[-1]
    assert q["text"] == form["text"] and q["active"] is True
    assert [(c["text"], c["correct"]) for c in q["choices"]] == [
        ("Never", False),
        ("During treatment and for 30 days after", True),
    ]
    listing = text(web.get("/admin/questions"))
    assert form["text"] in listing

    edit_page = web.get(f"/admin/questions/{q['id']}").get_data(as_text=True)
    assert 'value="Never"' in edit_page
    edited = dict(form, text="When may you donate blood again?", choice_3="Any time", version=q["version"])
    assert web.post(f"/admin/questions/{q['id']}", edited).status_code == 302
    again = next(x for x in admin.list_questions() if x["id"] == q["id"])
    assert again["text"] == edited["text"] and len(again["choices"]) == 3
    assert [c["id"] for c in again["choices"][:2]] == [c["id"] for c in q["choices"]]  # ids kept by position

    again = next(x for x in admin.list_questions() if x["id"] == q["id"])
    assert web.post(f"/admin/questions/{q['id']}/active", {"active": "0", "version": again["version"]}
                    ).status_code == 302
    db.session.expire_all()
    assert db.session.get(ComprehensionQuestion, int(q["id"])).active is False
    assert "Reactivate" in text(web.get("/admin/questions"))


def test_the_bank_keeps_enough_active_questions_r_att_1(web, factory):
    """R-ATT-1: every monthly attestation asks the cycle's questions; deactivating the bank below
    that many is refused (it left a patient's monthly page with no question at all)."""
    web.sign_in(factory.admin())
    needed = 3
    active = [q for q in admin.list_questions() if q["active"]]
    for q in active[:-needed]:
        assert web.post(f"/admin/questions/{q['id']}/active", {"active": "0", "version": q["version"]}
                        ).status_code == 302
    last = active[-needed]
    page = text(web.post(f"/admin/questions/{last['id']}/active", {"active": "0", "version": last["version"]},
                         follow_redirects=True))
    assert f"Question {last['id']} stays active: at least {needed} questions must stay active" in page
    db.session.expire_all()
    assert db.session.get(ComprehensionQuestion, int(last["id"])).active is True
    assert sum(q["active"] for q in admin.list_questions()) == needed


def test_a_made_up_correct_answer_is_a_form_error_not_a_500(web, factory):
    """R-ATT-1 editor: a 'correct' value that is not one of the radio's (a hand-made or tampered
    post) raised ValueError in int() and answered 500; it is the radio's own error, nothing saved."""
    web.sign_in(factory.admin())
    before = len(admin.list_questions())
    form = {"text": "Which value?", "explanation": "E.", "choice_1": "A", "choice_2": "B", "active": "y"}
    for bogus in ("x", "0001-01-01", "\u00b2", "7"):
        resp = web.post("/admin/questions/new", dict(form, correct=bogus))
        assert resp.status_code == 422, bogus
    assert len(admin.list_questions()) == before


def test_question_editor_errors_keep_typed_values(web, factory):
    web.sign_in(factory.admin())
    typed = {
        "text": "A question with one answer",
        "explanation": "Explained",
        "choice_1": "Only one",
        "correct": "2",
        "active": "y",
    }
    resp = web.post("/admin/questions/new", typed)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert (
        "Give at least two answers" in html
        and "The correct answer must be one of the filled-in choices" in html
    )
    assert "A question with one answer" in html and 'value="Only one"' in html
    assert web.get("/admin/questions/999999").status_code == 404
    # R-ATT-1: two answers a patient could not tell apart (same text up to case and spaces)
    before = len(admin.list_questions())
    twins = dict(typed, choice_2="only  ONE", correct="1")
    resp = web.post("/admin/questions/new", twins)
    assert resp.status_code == 422 and "two choices have the same text" in text(resp)
    assert len(admin.list_questions()) == before


def test_a_question_sent_twice_is_not_saved_twice_r_att_1(web, factory, client):
    """R-ATT-1: the new-question form sent twice (a double click, a reload after the POST) saved two
    identical questions, and one cycle could then ask the same question twice. The same text (up to
    case and spaces) as another question is refused, on the page and by the API; an existing
    question keeps being editable."""
    web.sign_in(factory.admin())
    form = {"text": "Can you share isotretinoin with a friend?", "explanation": "Never.",
            "choice_1": "Yes", "choice_2": "No", "correct": "2", "active": "y"}
    before = len(admin.list_questions())
    assert web.post("/admin/questions/new", form).status_code == 302
    saved = admin.list_questions()[-1]
    again = web.post("/admin/questions/new", dict(form, text="can you share  isotretinoin with a friend?"))
    assert again.status_code == 422
    assert f"Question {saved['id']} already asks this: edit or reactivate it instead." in text(again)
    assert len(admin.list_questions()) == before + 1
    # an edit that keeps the text is fine; an edit into another question's text is refused
    assert web.post(f"/admin/questions/{saved['id']}", dict(form, explanation="Never: it is yours only.",
                                                             version=saved["version"])).status_code == 302
    other = admin.list_questions()[0]
    saved = admin.list_questions()[-1]
    resp = web.post(f"/admin/questions/{saved['id']}", dict(form, text=other["text"], version=saved["version"]))
    assert resp.status_code == 422 and f"Question {other['id']} already asks this" in text(resp)
    token = client.post("/api/v1/auth/token", json={"email": factory.admin().email, "password": PASSWORD}
                        ).get_json()["token"]
    resp = client.post("/api/v1/admin/comprehension-questions", headers={"Authorization": f"Bearer {token}"},
                       json={"text": form["text"], "explanation": "x", "choices": [
                           {"id": "a", "text": "Yes", "correct": False}, {"id": "b", "text": "No", "correct": True}]})
    assert resp.status_code == 409 and resp.get_json()["errors"][0]["field"] == "text"
    assert len(admin.list_questions()) == before + 1


# ----- audit log --------------------------------------------------------------------------------
def test_audit_log_filters_pages_and_verifies_r_aud_1(web, factory):
    pres = factory.prescriber()
    patient = factory.patient(pres)
    admin_user = factory.admin()
    web.sign_in(admin_user)
    only_enroll = web.get("/admin/audit?action=patient.enrolled").get_data(as_text=True)
    assert "patient.enrolled" in only_enroll and "prescriber.registered</code>" not in only_enroll
    # times name their zone (the program's: EST or EDT)
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d E[SD]T</td>", only_enroll)
    by_patient = web.get(f"/admin/audit?patient={patient.rems_id}").get_data(as_text=True)
    assert (
        "<code>patient.enrolled</code>" in by_patient
        and "<code>prescriber.certified</code>" not in by_patient
    )
    by_actor = web.get(f"/admin/audit?actor={pres.user.email}").get_data(as_text=True)
    assert "<code>prescriber.certified</code>" in by_actor and "<code>auth.signed_in</code>" not in by_actor
    tomorrow = (today() + timedelta(days=1)).isoformat()
    assert "No entry matches." in text(web.get(f"/admin/audit?from={tomorrow}"))
    bad = text(web.get(f"/admin/audit?from={today().isoformat()}&to=bad&page=x"))
    assert "No entry matches." not in bad
    assert "To: not a date (use YYYY-MM-DD), so it was left out of the filter." in bad
    page2 = web.get("/admin/audit?page=2")
    assert page2.status_code == 200
    # past the end: the last page (it said "Page 99999 of 5" over an empty table)
    last = text(web.get("/admin/audit?page=99999"))
    pages = re.search(r"Page (\d+) of (\d+)", last)
    assert "No entry matches." not in last and (pages is None or pages.group(1) == pages.group(2))

    ok = web.post("/admin/audit/verify")
    assert ok.status_code == 200 and "The chain is intact" in text(ok)


def test_audit_filter_by_the_calendars_first_and_last_days_r_aud_1(web, factory):
    """From 0001-01-01 or to 9999-12-31 answered 500 (a day outside the calendar: OverflowError);
    they bound nothing, so every entry is listed."""
    web.sign_in(factory.admin())
    everything = text(web.get("/admin/audit"))
    for query in ("from=0001-01-01", "to=9999-12-31", "from=0001-01-01&to=9999-12-31"):
        resp = web.get(f"/admin/audit?{query}")
        assert resp.status_code == 200, query
        assert re.search(r"\d+ entries", text(resp)).group(0) == re.search(r"\d+ entries", everything).group(0)
    assert "No entry matches." in text(web.get("/admin/audit?from=9999-12-31"))


def test_audit_verify_reports_a_broken_chain(web, factory, backend):
    admin_user = factory.admin()
    factory.prescriber()
    web.sign_in(admin_user)
    with db.engine.begin() as conn:  # tamper behind the service's back (triggers off for the test)
        if backend == "sqlite":  # each SQLite test runs on its own copy of the database
            conn.exec_driver_sql("DROP TRIGGER audit_entries_no_update")
        else:
            conn.exec_driver_sql("ALTER TABLE audit_entries DISABLE TRIGGER USER")
        conn.execute(sql("UPDATE audit_entries SET action = 'tampered' WHERE id = 2"))
        if backend != "sqlite":
            conn.exec_driver_sql("ALTER TABLE audit_entries ENABLE TRIGGER USER")
    resp = web.post("/admin/audit/verify")
    assert "The chain is broken at entry #2" in text(resp)


def test_admin_copies_the_head_outside_the_database_and_verify_holds_the_chain_to_it(web, factory, app):
    """R-AUD-1: the button appends the head to AUDIT_ANCHOR_FILE (once per head); verify then says
    how many copies the chain matched, and says when there is none."""
    from pathlib import Path

    admin_user = factory.admin()
    web.sign_in(admin_user)
    assert "No copy of its head is kept outside the database yet" in text(web.post("/admin/audit/verify"))
    resp = web.post("/admin/audit/anchor", follow_redirects=True)
    assert resp.status_code == 200 and "is copied outside the database" in text(resp)
    lines = Path(app.config["AUDIT_ANCHOR_FILE"]).read_text().splitlines()
    assert len(lines) == 1
    again = web.post("/admin/audit/anchor", follow_redirects=True)  # no entry since: nothing new
    assert "already shows the head of the chain" in text(again)
    assert len(Path(app.config["AUDIT_ANCHOR_FILE"]).read_text().splitlines()) == 1
    checked = text(web.post("/admin/audit/verify"))
    assert "The chain is intact" in checked and "matches the 1 copy of its head" in checked


def test_an_anchor_file_that_cannot_be_written_is_a_message_not_a_500(web, factory, app, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    app.config["AUDIT_ANCHOR_FILE"] = str(blocker / "anchors.jsonl")  # its folder is a file
    web.sign_in(factory.admin())
    resp = web.post("/admin/audit/anchor", follow_redirects=True)
    assert resp.status_code == 200 and "The anchor file cannot be written" in text(resp)



def test_another_databases_anchor_file_is_a_message_and_verify_says_why(web, factory, app, tmp_path):
    """R-AUD-1: the button does not mix this chain into a file of another database's copies; the
    verify result names the cause instead of blaming a deletion."""
    import json
    from pathlib import Path

    path = Path(app.config["AUDIT_ANCHOR_FILE"])
    path.parent.mkdir(parents=True, exist_ok=True)
    other = json.dumps({"at": "2026-11-01T09:00:00+00:00", "id": 7, "entry_hash": "d" * 64, "chain": "c" * 64})
    path.write_text(other + "\n")
    web.sign_in(factory.admin())
    resp = web.post("/admin/audit/anchor", follow_redirects=True)
    assert resp.status_code == 200 and "Nothing was copied" in text(resp)
    assert path.read_text() == other + "\n"
    checked = text(web.post("/admin/audit/verify"))
    assert "were taken of another audit log" in checked and "give each database its own anchor file" in checked

# ----- reports ----------------------------------------------------------------------------------
def _dispensed_ccgp(factory):
    pres = factory.prescriber()
    patient = factory.patient(pres, category="cannot_get_pregnant")
    patients.record_visit(
        pres.user, patient, {"visit_date": today(), "counseled": True, "signature": {"password": PASSWORD}}
    )
    pharmacy, rsp = factory.pharmacy()
    status, body = dispensing.authorize(
        rsp,
        {
            "rems_id": patient.rems_id,
            "date_of_birth": patient.date_of_birth,
            "prescriber_npi": pres.npi,
            "pharmacy_ncpdp_id": pharmacy.ncpdp_id,
            "days_supply": 30,
            "quantity": 60,
        },
    )
    assert status == 201, body
    return pres, patient


def _csv(resp):
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    return list(csv.reader(io.StringIO(resp.get_data(as_text=True))))


def test_reports_page_and_csv_downloads(web, factory):
    _dispensed_ccgp(factory)
    factory.prescriber()
    web.sign_in(factory.admin())
    page = web.get("/admin/reports")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and html.count("<svg") == 2 and "style=" not in html
    assert (
        html.count("Nothing to chart in this period.") == 3
    )  # no window closed, no pregnancy, none expiring
    for title in (
        "Authorizations per week",
        "Missed-window rate",
        "Time from enrollment to first dispense",
        "Pregnancies reported",
        "Certifications expiring",
    ):
        assert title in html

    auth = _csv(web.get("/admin/reports/authorizations.csv"))
    assert auth[0] == ["week_starting", "issued", "reversed"] and sum(int(r[1]) for r in auth[1:]) == 1
    first = _csv(web.get("/admin/reports/first_dispense.csv"))
    assert first[0] == ["days", "courses"] and first[1] == ["0-30 days", "1"]
    missed = _csv(web.get("/admin/reports/missed_windows.csv"))
    assert missed[0][:3] == ["week_starting", "windows_closed", "missed"]
    preg = _csv(web.get("/admin/reports/pregnancies.csv"))
    assert preg[0] == ["month", "reported", "still_open"]
    certs = _csv(web.get("/admin/reports/certifications.csv"))
    assert certs[0][0] == "kind" and len(certs) == 1  # every certification was just signed
    assert web.get("/admin/reports/nope.csv").status_code == 404


def test_missed_window_and_expiring_certifications_are_counted(web, factory, travel):
    pres = factory.prescriber()
    patient = factory.patient(pres, category="cannot_get_pregnant")
    patients.record_visit(
        pres.user, patient, {"visit_date": today(), "counseled": True, "signature": {"password": PASSWORD}}
    )
    travel(340)  # the CCGP window (30 days) closed unused; certifications end within 90 days
    web.sign_in(factory.admin())
    missed = _csv(web.get("/admin/reports/missed_windows.csv"))
    assert sum(int(r[1]) for r in missed[1:]) == 0  # closed more than 12 weeks ago: outside the horizon
    travel(-340 + 35)
    missed = _csv(web.get("/admin/reports/missed_windows.csv"))
    assert sum(int(r[1]) for r in missed[1:]) == 1 and sum(int(r[2]) for r in missed[1:]) == 1
    travel(300)
    certs = _csv(web.get("/admin/reports/certifications.csv"))
    assert any(r[0] == "prescriber" and r[2] == pres.npi for r in certs[1:])


# ----- pregnancy cases --------------------------------------------------------------------------
def test_close_pregnancy_case_with_reason_r_pt_4(web, factory):
    pres = factory.prescriber()
    patient = factory.patient(pres)
    patients.record_test(
        pres.user,
        patient,
        {"kind": "screening", "specimen_date": today(), "result": "positive", "setting": "medical"},
    )
    case = db.session.execute(select(PregnancyCase)).scalar_one()
    web.sign_in(factory.admin())
    assert patient.rems_id in text(web.get("/admin/pregnancy-cases"))
    prefix = f"c{case.id}"
    empty = web.post(f"/admin/pregnancy-cases/{case.id}/close", {f"{prefix}-reason": ""}, prefix=prefix)
    assert empty.status_code == 422 and "Give a reason" in text(empty)
    done = web.post(
        f"/admin/pregnancy-cases/{case.id}/close",
        {f"{prefix}-reason": "Registry follow-up complete", f"{prefix}-confirm": "1"},
        prefix=prefix,
        follow_redirects=True,
    )
    assert f"Pregnancy case #{case.id} closed." in text(done)
    db.session.expire_all()
    assert case.closed_at is not None and case.close_reason == "Registry follow-up complete"
    assert "Registry follow-up complete" in text(web.get("/admin/pregnancy-cases?show=closed"))
    again = web.post(
        f"/admin/pregnancy-cases/{case.id}/close",
        {f"{prefix}-reason": "twice"},
        prefix=prefix,
        follow_redirects=True,
    )
    assert "already closed" in text(again)


def test_overview_counts(web, factory):
    factory.prescriber()
    admin_user = factory.admin()
    web.sign_in(admin_user)
    page = text(web.get("/admin/"))
    assert "Prescribers" in page and "Open pregnancy cases" in page
    assert db.session.execute(select(User).where(User.role == "admin")).scalars().all()
