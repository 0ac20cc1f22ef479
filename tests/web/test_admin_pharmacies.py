"""The administrator's Pharmacies page (R-ADMIN-1, R-PHAR-1): suspending and revoking a pharmacy's
certification ask for a confirmation that says what will happen; reinstating restores it; only the
applicable changes are offered, a forged one changes nothing; a stale page is refused naming who
changed the certification."""

from __future__ import annotations

import html as html_lib
import re

from sqlalchemy import func, select

from rems.extensions import db
from rems.models import AuditEntry, Notification
from rems.services import accounts, pharmacy_admin
from tests.support.factories import PASSWORD
from tests.web.conftest import text

FORM_RE = re.compile(r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', re.S)
INPUT_RE = re.compile(r'<input[^>]*?name="([^"]+)"[^>]*?value="([^"]*)"', re.S)


def _post(web, ph, action, reason="Inspection findings", *, confirm=False, version=None):
    prefix = f"p{ph.ncpdp_id}"
    data = {f"{prefix}-action": action, f"{prefix}-reason": reason,
            f"{prefix}-version": pharmacy_admin.pharmacy_version(ph) if version is None else version}
    if confirm:
        data[f"{prefix}-confirm"] = "1"
    return web.post(f"/admin/pharmacies/{ph.ncpdp_id}/certification", data, prefix=prefix, follow_redirects=True)


def _confirm(web, page):
    html = page.get_data(as_text=True)
    action, body = next((a, b) for a, b in FORM_RE.findall(html) if "-confirm" in b)
    data = {name: html_lib.unescape(value) for name, value in INPUT_RE.findall(body)}
    return web.client.post(html_lib.unescape(action), data=data, follow_redirects=True)


def _changes() -> int:
    return db.session.execute(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "pharmacy.certification_changed")).scalar()


def _buttons(page, ph) -> set[str]:
    html = page.get_data(as_text=True)
    return set(re.findall(rf'name="p{ph.ncpdp_id}-action" value="(\w+)"', html))


def test_the_page_offers_only_what_applies_r_admin_1_r_phar_1(web, factory):
    certified, rsp = factory.pharmacy()
    staff = factory.pharmacist(certified, rsp)
    pending, _ = factory.pharmacy(certified=False)
    web.sign_in(factory.admin())
    page = web.get("/admin/pharmacies")
    body = text(page)
    assert page.status_code == 200 and certified.name in body and f"NCPDP {certified.ncpdp_id}" in body
    assert f"{rsp.full_name} (RSP)" in body and staff.full_name in body
    assert _buttons(page, certified) == {"suspend", "revoke"} and _buttons(page, pending) == {"suspend"}
    assert 'href="/admin/pharmacies"' in page.get_data(as_text=True)  # in the navigation
    found = web.get(f"/admin/pharmacies?q={pending.ncpdp_id}")
    assert pending.name in text(found) and certified.name not in text(found)


def test_suspending_asks_to_confirm_then_refuses_rmas_and_reinstating_restores_r_phar_1(web, factory):
    """R-ADMIN-1 / R-PHAR-1 / R-LOOP-1: the confirmation names the pharmacy and the refusal code, changes
    nothing; "Confirm" suspends (audited with the reason, its pharmacists told); "Reinstate" (no
    confirmation) restores the certification with its end date."""
    ph, rsp = factory.pharmacy()
    until = ph.certified_until
    web.sign_in(factory.admin())
    page = _post(web, ph, "suspend")
    body = text(page)
    assert page.status_code == 200 and f"Suspend the certification of {ph.name}?" in body
    assert f"{ph.name} (pharmacy, NCPDP {ph.ncpdp_id}, Albany, NY)" in body
    assert "Your reason Inspection findings" in body
    assert (f"Every RMA request and eligibility check naming NCPDP {ph.ncpdp_id} will be refused with "
            "PHARMACY_NOT_CERTIFIED") in body
    assert "It holds no RMA that can still be filled." in body
    assert f"Reinstating restores the certification it holds now (until {until:%b} {until.day}, {until.year})" in body
    assert "Confirm: suspend the certification" in body
    db.session.expire_all()
    assert ph.status == "certified" and _changes() == 0

    done = _confirm(web, page)
    assert f"The certification of {ph.name} (NCPDP {ph.ncpdp_id}) was suspended." in text(done)
    db.session.expire_all()
    assert ph.status == "suspended" and ph.certified_until == until and _changes() == 1
    assert _buttons(done, ph) == {"reinstate", "revoke"}
    note = db.session.execute(select(Notification).where(Notification.user_id == rsp.id)).scalar_one()
    assert note.kind == "pharmacy_certification" and "Inspection findings" in note.body

    back = _post(web, ph, "reinstate", "Resolved")
    assert f"The certification of {ph.name} (NCPDP {ph.ncpdp_id}) was reinstated." in text(back)
    db.session.expire_all()
    assert ph.status == "certified" and ph.certified_until == until and _changes() == 2


def test_revoking_says_the_attestation_is_needed_again_r_phar_1(web, factory):
    ph, _ = factory.pharmacy()
    web.sign_in(factory.admin())
    page = _post(web, ph, "revoke", "License lapsed")
    assert ("Reinstating it later does not restore it: the Responsible Site Pharmacist must sign the pharmacy "
            "attestation again (R-PHAR-1).") in text(page)
    assert "was revoked." in text(_confirm(web, page))
    back = text(_post(web, ph, "reinstate"))
    assert "reinstated; its Responsible Site Pharmacist must sign the pharmacy attestation again" in back
    db.session.expire_all()
    assert ph.status == "pending" and ph.certified_until is None


def test_a_forged_stale_or_empty_post_changes_nothing_r_admin_1(web, factory):
    ph, _ = factory.pharmacy()
    pending, _ = factory.pharmacy(certified=False)
    web.sign_in(factory.admin())
    for target, action, words in ((ph, "reinstate", "there is nothing to reinstate"),
                                  (pending, "revoke", "holds no certification to revoke (pending")):
        for confirm in (False, True):
            assert words in text(_post(web, target, action, confirm=confirm)), (action, confirm)
    empty = _post(web, ph, "suspend", "")
    assert empty.status_code == 422 and "Give a reason" in text(empty)
    unknown = _post(web, ph, "close")
    assert unknown.status_code == 422 and "Unknown action" in text(unknown)
    opened = pharmacy_admin.pharmacy_version(ph)
    other = accounts.create_admin("ada@example.org", PASSWORD, "Ada", "Lovelace")
    pharmacy_admin.change(other, ph.ncpdp_id, {"action": "suspend", "reason": "Theirs"})
    stale = text(_post(web, ph, "revoke", version=opened, confirm=True))
    assert re.search(re.escape(f"The certification of {ph.name} (NCPDP {ph.ncpdp_id}) was changed by Ada Lovelace "
                               "(administrator) at ") + r".+ since you opened this page: certification certified → "
                     r"suspended\. Review and try again\.", stale), stale
    assert web.post("/admin/pharmacies/9999999/certification", {"p9999999-action": "reinstate",
                                                                "p9999999-reason": "x"},
                    prefix="p9999999").status_code == 404
    db.session.expire_all()
    assert ph.status == "suspended" and pending.status == "pending" and _changes() == 1
