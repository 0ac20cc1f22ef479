"""The administrator's side against slips and races (R-ADMIN-1): destructive actions (suspend, revoke,
close a pregnancy case) ask for a confirmation that says what will happen; only the actions that
apply to an account are offered, and a forged one is refused; a closed case names who closed it;
account status and question edits are refused when the object changed since the page was opened."""

from __future__ import annotations

import html as html_lib
import re

from sqlalchemy import func, select

from rems.clock import today
from rems.extensions import db
from rems.models import AuditEntry, ComprehensionQuestion, PregnancyCase, User
from rems.services import accounts, admin, patients, practice
from tests.support.factories import PASSWORD
from tests.web.conftest import text

FORM_RE = re.compile(r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', re.S)
INPUT_RE = re.compile(r'<input[^>]*?name="([^"]+)"[^>]*?value="([^"]*)"', re.S)


def _confirm(web, page):
    """Post the confirmation page's own form (its hidden fields and CSRF token), as its button does."""
    html = page.get_data(as_text=True)
    action, body = next((a, b) for a, b in FORM_RE.findall(html) if "-confirm" in b)
    data = {name: html_lib.unescape(value) for name, value in INPUT_RE.findall(body)}
    return web.client.post(html_lib.unescape(action), data=data, follow_redirects=True)


def _other_admin():
    return accounts.create_admin("ada@example.org", PASSWORD, "Ada", "Lovelace")


def _status_changes(user_id: int) -> int:
    return db.session.execute(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "account.status_changed", AuditEntry.object_id == str(user_id))).scalar()


def _post_status(web, user, status, reason="Checked", *, revoke=False, confirm=False, version=None):
    prefix = f"u{user.id}"
    data = {f"{prefix}-status": status, f"{prefix}-reason": reason,
            f"{prefix}-version": practice.account_version(user) if version is None else version}
    if revoke:
        data["revoke"] = "1"
    if confirm:
        data[f"{prefix}-confirm"] = "1"
    return web.post(f"/admin/users/{user.id}/status", data, prefix=prefix, follow_redirects=True)


# ----- a second confirmation ---------------------------------------------------------------------
def test_suspending_asks_to_confirm_and_says_what_will_happen_r_admin_1_r_pres_1(web, factory):
    """R-ADMIN-1 / R-PRES-1 / R-LOOP-1: the first post shows who, what they will no longer do, the refusal
    code their patients' RMAs will get, and the reason; nothing changes until "Confirm"."""
    pres = factory.prescriber()
    factory.patient(pres), factory.patient(pres)
    web.sign_in(factory.admin())
    page = _post_status(web, pres.user, "suspended", "License under review")
    body = text(page)
    assert page.status_code == 200 and f"Suspend {pres.user.full_name}?" in body
    assert f"{pres.user.full_name} (prescriber, NPI {pres.npi}, {pres.user.email})" in body
    assert "Your reason License under review" in body
    assert (f"{pres.user.full_name} will be signed out everywhere (web pages and API tokens) and cannot sign in "
            "until an administrator reinstates the account.") in body
    assert f"{pres.user.full_name} will no longer be able to enroll patients or record their visits" in body
    assert ("Every new RMA request for their 2 patients in treatment will be refused with PRESCRIBER_NOT_CERTIFIED "
            "(R-LOOP-1)") in body
    assert "Reinstating the account restores the certification they hold now" in body
    assert "Confirm: suspend the account" in body and 'href="/admin/users">Cancel</a>' in page.get_data(as_text=True)
    db.session.expire_all()
    assert pres.user.status == "active" and pres.status == "certified" and _status_changes(pres.user_id) == 0

    done = _confirm(web, page)
    assert f"{pres.user.email} was suspended." in text(done)
    db.session.expire_all()
    assert pres.user.status == "suspended" and pres.status == "suspended" and _status_changes(pres.user_id) == 1
    entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "account.status_changed")).scalar_one()
    assert entry.after["reason"] == "License under review"


def test_revoking_asks_to_confirm_and_says_the_attestation_is_needed_again_r_pres_1(web, factory):
    pres = factory.prescriber()
    web.sign_in(factory.admin())
    page = _post_status(web, pres.user, "suspended", "Board revoked the license", revoke=True)
    body = text(page)
    until = pres.certified_until
    assert f"Revoke the certification of {pres.user.full_name}?" in body
    assert (f"Their certification (valid until {until:%b} {until.day}, {until.year}) is revoked. Reinstating the "
            "account later does not restore it: they must sign the program attestation again (R-PRES-1).") in body
    assert "Confirm: revoke the certification" in body
    db.session.expire_all()
    assert pres.status == "certified"
    assert "suspended and their certification revoked" in text(_confirm(web, page))
    db.session.expire_all()
    assert pres.status == "revoked" and pres.user.status == "suspended"


def test_suspending_a_pharmacist_or_a_patient_says_what_they_lose_r_phar_1_r_att_1(web, factory):
    ph, rsp = factory.pharmacy()
    patient = factory.patient(factory.prescriber())
    web.sign_in(factory.admin())
    body = text(_post_status(web, rsp, "suspended"))
    assert (f"{rsp.full_name} will no longer be able to check eligibility, obtain or reverse RMAs for {ph.name} "
            f"(NCPDP {ph.ncpdp_id}) (R-PHAR-1).") in body
    assert f"As Responsible Site Pharmacist of {ph.name}, they cannot invite staff" in body
    assert "The pharmacy stays certified: its other pharmacists can still obtain RMAs." in body
    body = text(_post_status(web, patient.user, "suspended"))
    assert f"{patient.user.full_name} gets no reminders and cannot sign a monthly attestation while suspended." in body
    assert "An RMA request for a cycle they have not attested will be refused with ATTESTATION_REQUIRED" in body
    ccgp = factory.patient(factory.prescriber(), category="cannot_get_pregnant", consent=False)
    body = text(_post_status(web, ccgp.user, "suspended"))  # R-PAT-4: no monthly attestation, consent to sign
    assert f"{ccgp.user.full_name} gets no reminders and cannot sign the consent while suspended." in body
    assert "ATTESTATION_REQUIRED" not in body
    db.session.expire_all()
    assert rsp.status == "active" and patient.user.status == "active" and ccgp.user.status == "active"


def test_reinstating_needs_no_confirmation_r_admin_1(web, factory):
    pres = factory.prescriber()
    admin_user = factory.admin()
    admin.set_status(admin_user, pres.user_id, {"status": "suspended", "reason": "x"})
    web.sign_in(admin_user)
    assert f"{pres.user.email} was reinstated." in text(_post_status(web, pres.user, "active", "Cleared"))
    db.session.expire_all()
    assert pres.user.status == "active" and pres.status == "certified"


def _positive_case(factory):
    pres = factory.prescriber()
    patient = factory.patient(pres)
    patients.record_test(pres.user, patient, {"kind": "screening", "specimen_date": today(), "result": "positive",
                                              "setting": "medical"})
    return pres, patient, db.session.execute(select(PregnancyCase)).scalar_one()


def test_closing_a_case_asks_to_confirm_and_then_names_who_closed_it_r_pt_4(web, factory):
    """R-PT-4: the confirmation says closing restarts nothing and cannot be undone; a closed case shows
    the administrator (name, role) and the time with its zone, on the cases page and the prescriber's
    patient timeline."""
    pres, patient, case = _positive_case(factory)
    closer = _other_admin()
    web.sign_in(closer)
    prefix = f"c{case.id}"
    page = web.post(f"/admin/pregnancy-cases/{case.id}/close", {f"{prefix}-reason": "Outcome recorded"},
                    prefix=prefix)
    body = text(page)
    assert page.status_code == 200 and f"Close pregnancy case #{case.id}?" in body
    assert (f"Case #{case.id} of {patient.first_name} {patient.last_name} (REMS ID {patient.rems_id}) will be "
            "closed with your reason") in body
    assert "Closing does not restart treatment" in body and "A closed case cannot be reopened." in body
    assert "Your reason Outcome recorded" in body and "Cancel" in body
    db.session.expire_all()
    assert case.closed_at is None
    assert f"Pregnancy case #{case.id} closed." in text(_confirm(web, page))
    db.session.expire_all()
    assert case.closed_at is not None and case.closed_by_id == closer.id
    closed = text(web.get("/admin/pregnancy-cases?show=closed"))
    assert re.search(r"Closed \w{3} \d{1,2}, \d{4} at \d{1,2}:\d\d [AP]M E[SD]T by Ada Lovelace \(administrator\)",
                     closed), closed
    web.sign_in(pres.user)
    timeline = text(web.get(f"/prescriber/patients/{patient.rems_id}"))
    assert f"Pregnancy registry case #{case.id} closed by Ada Lovelace (administrator)" in timeline
    assert re.search(r"Closed \w{3} \d{1,2}, \d{4} at \d{1,2}:\d\d [AP]M E[SD]T: Outcome recorded", timeline)


def test_a_case_closed_meanwhile_says_by_whom_r_pt_4(web, factory):
    _, _, case = _positive_case(factory)
    web.sign_in(factory.admin())
    prefix = f"c{case.id}"
    page = web.post(f"/admin/pregnancy-cases/{case.id}/close", {f"{prefix}-reason": "Mine"}, prefix=prefix)
    admin.close_case(_other_admin(), case.id, "Theirs")  # another administrator, while this page is open
    done = text(_confirm(web, page))
    assert "This case is already closed by Ada Lovelace (administrator) at" in done
    db.session.expire_all()
    assert case.close_reason == "Theirs"


# ----- only the actions that apply ---------------------------------------------------------------
def test_only_the_actions_that_apply_are_offered_r_admin_1_r_pres_1(web, factory):
    """R-PRES-1: "Revoke certification" only for a prescriber who holds one (not pending, not revoked);
    Suspend for an active account, Reinstate for a suspended one, nothing before activation."""
    admin_user = factory.admin()
    certified, pending, revoked, suspended = (factory.prescriber(), factory.prescriber(certified=False),
                                              factory.prescriber(), factory.prescriber())
    admin.set_status(admin_user, revoked.user_id, {"status": "revoked", "reason": "x"})
    admin.set_status(admin_user, suspended.user_id, {"status": "suspended", "reason": "x"})
    invited = factory.patient(certified, activated=False)
    web.sign_in(admin_user)
    html = web.get("/admin/users").get_data(as_text=True)

    def offered(user):
        name = user.full_name
        return {label for label, aria in (("suspend", f"Suspend {name}"), ("reinstate", f"Reinstate {name}"),
                                          ("revoke", f"Revoke certification of {name}"))
                if f'aria-label="{aria}"' in html}

    assert offered(certified.user) == {"suspend", "revoke"}
    assert offered(pending.user) == {"suspend"}
    assert offered(revoked.user) == {"reinstate"}
    assert offered(suspended.user) == {"reinstate", "revoke"}
    assert offered(invited.user) == set()


def test_a_forged_action_that_does_not_apply_changes_nothing_r_admin_1(web, factory, client):
    """R-ADMIN-1 / R-PRES-1: a hand-made post (or the API) for an action that is not offered is refused
    with a message (409 STATUS_CHANGE_NOT_ALLOWED on the API), before and after the confirmation step.
    Before, revoking a pending prescriber made them `revoked`, a second suspension wrote an entry, and
    an account not activated yet could be made active without its activation."""
    admin_user = factory.admin()
    pending = factory.prescriber(certified=False)
    suspended = factory.prescriber()
    admin.set_status(admin_user, suspended.user_id, {"status": "suspended", "reason": "x"})
    active = factory.prescriber()
    invited = factory.patient(active, activated=False)
    web.sign_in(admin_user)
    cases = [
        (pending.user, "suspended", True, f"{pending.user.full_name} holds no certification to revoke (pending"),
        (suspended.user, "suspended", False, f"{suspended.user.full_name}'s account is already suspended."),
        (active.user, "active", False, f"{active.user.full_name}'s account is already active."),
        (invited.user, "active", False, f"{invited.user.full_name} has not activated the account yet"),
        (invited.user, "suspended", False, f"{invited.user.full_name} has not activated the account yet"),
    ]
    before = {u.id: practice.account_version(u) for u, *_ in cases}
    entries = db.session.execute(select(func.count()).select_from(AuditEntry)
                                 .where(AuditEntry.action == "account.status_changed")).scalar()
    for user, status, revoke, message in cases:
        for confirm in (False, True):
            assert message in text(_post_status(web, user, status, revoke=revoke, confirm=confirm)), (user, status)
    token = client.post("/api/v1/auth/token", json={"email": admin_user.email, "password": PASSWORD}).get_json()
    resp = client.post(f"/api/v1/admin/users/{pending.user_id}/status", json={"status": "revoked", "reason": "x"},
                       headers={"Authorization": f"Bearer {token['token']}"})
    assert resp.status_code == 409 and resp.mimetype == "application/problem+json"
    assert resp.get_json()["code"] == "STATUS_CHANGE_NOT_ALLOWED"
    db.session.expire_all()
    assert {u.id: practice.account_version(db.session.get(User, u.id)) for u, *_ in cases} == before
    assert db.session.execute(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == "account.status_changed")).scalar() == entries


def test_a_reinstated_revocation_stays_pending_through_a_later_suspension_r_pres_1(factory):
    """R-PRES-1: revoked, reinstated (pending), suspended and reinstated again came back `certified`
    with no end date (certified for ever, without a new attestation): the reinstatement looked at when
    the prescriber had once certified, not at the certification they hold."""
    admin_user, pres = factory.admin(), factory.prescriber()
    for status in ("revoked", "active", "suspended", "active"):
        admin.set_status(admin_user, pres.user_id, {"status": status, "reason": "x"})
    assert pres.status == "pending" and pres.certified_until is None
    assert practice.effective_status(pres) == "pending"


# ----- optimistic concurrency --------------------------------------------------------------------
def test_a_status_change_on_an_account_changed_since_the_page_was_opened_is_refused(web, factory):
    """R-ADMIN-1: no last writer wins. The page's form carries the account's state; another administrator
    suspended it meanwhile: nothing is saved, and the page says who, when and what changed. The same
    when the change happens while the confirmation page is open."""
    pres = factory.prescriber()
    web.sign_in(factory.admin())
    opened = practice.account_version(pres.user)
    other = _other_admin()
    admin.set_status(other, pres.user_id, {"status": "suspended", "reason": "Theirs"})
    for confirm in (False, True):
        done = text(_post_status(web, pres.user, "active", "Mine", version=opened, confirm=confirm))
        assert re.search(re.escape(f"The account of {pres.user.full_name} ({pres.user.email}) was changed by Ada "
                                   "Lovelace (administrator) at ")
                         + r"\w{3} \d{1,2}, \d{4} at \d{1,2}:\d\d [AP]M E[SD]T since you opened this page: "
                         r"account active → suspended; certification certified → suspended\. Review and try again\.",
                         done), done
    db.session.expire_all()
    assert pres.user.status == "suspended" and _status_changes(pres.user_id) == 1
    # the confirmation page was opened on the state it describes; a change meanwhile refuses the confirm
    fresh = factory.prescriber()
    page = _post_status(web, fresh.user, "suspended", "Mine")
    admin.set_status(other, fresh.user_id, {"status": "revoked", "reason": "Theirs"})
    admin.set_status(other, fresh.user_id, {"status": "active", "reason": "Theirs again"})
    done = text(_confirm(web, page))
    assert "since you opened this page: certification certified → pending; certified until" in done
    db.session.expire_all()
    assert fresh.user.status == "active" and _status_changes(fresh.user_id) == 2


def test_the_prescribers_own_attestation_counts_as_a_change(web, factory):
    """A pending prescriber who certifies while the page is open: the revocation the page did not offer
    is decided again on what is true now."""
    pres = factory.prescriber(certified=False)
    web.sign_in(factory.admin())
    opened = practice.account_version(pres.user)
    practice.attest_prescriber(pres.user, PASSWORD)
    done = text(_post_status(web, pres.user, "suspended", version=opened, confirm=True))
    assert (f"The account of {pres.user.full_name} ({pres.user.email}) was changed by {pres.user.full_name} "
            "(prescriber) at" in done
            and "certification pending → certified" in done)
    db.session.expire_all()
    assert pres.user.status == "active"


def test_a_question_edited_since_the_editor_was_opened_is_not_overwritten_r_att_1(web, factory):
    """R-ATT-1 bank: the editor carries the version it was opened on. Another administrator saved the
    question meanwhile: 409, nothing saved, who/when/what said, the typed text kept and the saved
    question shown; saving again (now on the current version) replaces it knowingly."""
    web.sign_in(factory.admin())
    q = admin.list_questions()[0]
    page = web.get(f"/admin/questions/{q['id']}").get_data(as_text=True)
    opened = re.search(r'name="version" type="hidden" value="([^"]+)"', page).group(1)
    assert opened == q["version"]
    theirs = {k: q[k] for k in ("text", "explanation", "choices", "active")}
    admin.save_question(_other_admin(), q["id"], dict(theirs, text="Their wording of the question?"))
    mine = {"text": "My wording of the question?", "explanation": q["explanation"], "active": "y",
            "correct": str(next(i for i, c in enumerate(q["choices"], 1) if c["correct"])), "version": opened,
            **{f"choice_{i}": c["text"] for i, c in enumerate(q["choices"], 1)}}
    resp = web.post(f"/admin/questions/{q['id']}", mine)
    body = text(resp)
    assert resp.status_code == 409
    assert re.search(f"Question {q['id']} " + r"was changed by Ada Lovelace \(administrator\) at .+ E[SD]T since you "
                     r"opened this page: the question's text\. Review and try again\.", body), body
    assert "My wording of the question?" in resp.get_data(as_text=True)  # what was typed stays
    assert f"Question {q['id']} as saved now Their wording of the question?" in body
    db.session.expire_all()
    assert db.session.get(ComprehensionQuestion, int(q["id"])).text == "Their wording of the question?"
    current = re.search(r'name="version" type="hidden" value="([^"]+)"', resp.get_data(as_text=True)).group(1)
    assert web.post(f"/admin/questions/{q['id']}", dict(mine, version=current)).status_code == 302
    db.session.expire_all()
    assert db.session.get(ComprehensionQuestion, int(q["id"])).text == "My wording of the question?"


def test_deactivating_a_question_changed_since_the_list_was_opened_is_refused_r_att_1(web, factory):
    """The list's Deactivate button says which way and on which version: it flipped whatever the state
    was (two administrators deactivating at once reactivated it)."""
    web.sign_in(factory.admin())
    q = admin.list_questions()[0]
    other = _other_admin()
    admin.save_question(other, q["id"], {"text": q["text"], "explanation": q["explanation"],
                                         "choices": q["choices"], "active": False})
    done = text(web.post(f"/admin/questions/{q['id']}/active", {"active": "0", "version": q["version"]},
                         follow_redirects=True))
    assert f"Question {q['id']} was changed by Ada Lovelace (administrator)" in done and "it was deactivated" in done
    db.session.expire_all()
    assert db.session.get(ComprehensionQuestion, int(q["id"])).active is False
    forged = text(web.post(f"/admin/questions/{q['id']}/active", follow_redirects=True))
    assert f"Nothing was changed: reload the page and use the button of question {q['id']} again." in forged


def test_a_post_without_the_version_is_refused_on_the_web(web, factory):
    """A page's form always carries its version; a post without one (or with one this service never
    gave) cannot say what it was decided on: refused, nothing changed."""
    pres = factory.prescriber()
    web.sign_in(factory.admin())
    for version in ("", "garbage"):
        done = text(_post_status(web, pres.user, "suspended", version=version, confirm=True))
        assert (f"This page did not say which state of {pres.user.full_name}'s account ({pres.user.email}) it was "
                "opened on: it is now active, certification certified. Review and try again.") in done
    db.session.expire_all()
    assert pres.user.status == "active" and _status_changes(pres.user_id) == 0
