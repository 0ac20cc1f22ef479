"""R-AUD-1: a page that lists patients is a read of each patient it shows. It is ONE audit entry
(a 500-patient worklist is one entry, not 500) whose hashed content names exactly the patients the
page showed, in its order (`after["patient_ids"]`), indexed in audit_entry_patients so that the audit
log's filter by patient ("who saw this patient") finds the list views too; `rems audit verify`
holds that index to the hashed content.
"""
from __future__ import annotations

import html as html_lib
import json
import re

import pytest
import sqlalchemy as sa

from rems.clock import now, today
from rems.extensions import db
from rems.models import AuditEntry, AuditEntryPatient, Authorization, Patient, PregnancyCase
from tests.perf.builders import bulk_patients
from tests.security.test_audit import _cli, _superuser_sql
from tests.web.conftest import Web


@pytest.fixture
def web(client):
    return Web(client)


def _listed(action: str) -> list[AuditEntry]:
    db.session.expire_all()
    return db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == action)
                              .order_by(AuditEntry.id)).scalars().all()


def _indexed(entry: AuditEntry) -> list[int]:
    return sorted(db.session.execute(sa.select(AuditEntryPatient.patient_id)
                                     .where(AuditEntryPatient.entry_id == entry.id)).scalars())


def _ids(rems_ids: list[str]) -> list[int]:
    by_rems_id = dict(db.session.execute(sa.select(Patient.rems_id, Patient.id)
                                         .where(Patient.rems_id.in_(rems_ids))).all())
    return list(dict.fromkeys(by_rems_id[r] for r in rems_ids))


def _names_exactly(entry: AuditEntry, reader, shown: list[int]) -> None:
    """The entry is the reader's, names these patients in this order (and no other), is indexed by
    each of them, and names the one patient in its patient column when there is one."""
    assert entry.actor_id == reader.id and entry.actor_role == reader.role
    assert entry.after["patient_ids"] == shown
    assert _indexed(entry) == sorted(shown)
    assert entry.patient_id == (shown[0] if len(shown) == 1 else None)


def _in_page_order(resp, patients, key=lambda p: p.rems_id) -> list[int]:
    """The ids of these patients in the order the page shows their REMS IDs (or `key`), those it shows."""
    page = resp.get_data(as_text=True)
    shown = sorted((page.index(key(p)), p.id) for p in patients if key(p) in page)
    return [patient_id for _, patient_id in shown]


def test_r_aud_1_the_worklist_is_one_entry_naming_the_patients_it_shows(web, factory):
    pres = factory.prescriber()
    pharmacy, rsp = factory.pharmacy()
    mine = (bulk_patients(pres, pharmacy, rsp, 3, cycles=1)
            + bulk_patients(pres, pharmacy, rsp, 2, eligible=False, category="cannot_get_pregnant"))
    bulk_patients(factory.prescriber(), pharmacy, rsp, 1)  # another prescriber's patient
    web.sign_in(pres.user)

    page = web.get("/prescriber/")
    shown = re.findall(r'href="/prescriber/patients/([0-9]{10})"', page.get_data(as_text=True))
    assert sorted(shown) == sorted(p["rems_id"] for p in mine)
    [entry] = _listed("patients.listed")
    _names_exactly(entry, pres.user, _ids(shown))
    assert entry.after["list"] == "worklist" and entry.after["filters"]["q"] == ""

    # a search that shows one patient: that one alone, in the entry's patient column too
    one = mine[3]
    page = web.get("/prescriber/", query_string={"q": one["rems_id"]})
    assert re.findall(r'href="/prescriber/patients/([0-9]{10})"', page.get_data(as_text=True)) == [one["rems_id"]]
    entry = _listed("patients.listed")[-1]
    _names_exactly(entry, pres.user, [one["id"]])
    assert entry.after["filters"]["q"] == one["rems_id"]

    # a list that shows no patient read none: no entry
    nobody = web.get("/prescriber/", query_string={"q": "nobody"})
    assert nobody.status_code == 200
    assert not re.search(r'href="/prescriber/patients/[0-9]', nobody.get_data(as_text=True))
    assert len(_listed("patients.listed")) == 2


def test_r_aud_1_each_page_of_the_rma_list_names_the_patients_of_its_rmas(web, factory, monkeypatch):
    """The pharmacist's RMA list (unsearched): one entry per page naming the patients of the RMAs that
    page shows, in order and each once, with the RMAs and the page's position; a patient whose RMAs
    are on another page, or at another pharmacy, is not named."""
    from rems.services import dispensing

    pres = factory.prescriber()
    pharmacy, rsp = factory.pharmacy()
    bulk_patients(pres, pharmacy, rsp, 3, cycles=2)  # 6 RMAs, two per patient
    other_pharmacy, other_rsp = factory.pharmacy()
    elsewhere = bulk_patients(pres, other_pharmacy, other_rsp, 1, cycles=1)[0]
    monkeypatch.setattr(dispensing, "RECENT_RMAS", 4)
    web.sign_in(rsp)

    first = web.get("/pharmacy/rmas").get_data(as_text=True)
    nav = re.search(r'<nav class="pagination"[^>]*>(.*?)</nav>', first, re.S).group(1)
    older = html_lib.unescape(re.search(r'<a href="([^"]+)"[^>]*>[^<]*Older RMAs', nav).group(1))
    second = web.get(older).get_data(as_text=True)
    entries = _listed("authorizations.listed")
    assert len(entries) == 2
    for page, entry in zip((first, second), entries, strict=True):
        rmas = re.findall(r'<h2 class="h3">(RMA[0-9]{10})', page)
        patient_of = dict(db.session.execute(sa.select(Authorization.rma, Authorization.patient_id)
                                             .where(Authorization.rma.in_(rmas))).all())
        _names_exactly(entry, rsp, list(dict.fromkeys(patient_of[r] for r in rmas)))
        assert entry.after["rmas"] == rmas and elsewhere["id"] not in entry.after["patient_ids"]
    assert len(entries[0].after["rmas"]) == 4 and len(entries[1].after["rmas"]) == 2
    assert "before" not in entries[0].after and entries[1].after["before"] == older.split("before=")[1]

    # a search is audited per patient, as before (authorization.searched), not as a list page
    found = entries[1].after["rmas"][0]
    assert found in web.get("/pharmacy/rmas", query_string={"find": found}).get_data(as_text=True)
    assert len(_listed("authorizations.listed")) == 2 and len(_listed("authorization.searched")) == 1


def _positive_test(pres, patient):
    from rems.services import patients

    patients.record_test(pres.user, patient, {"kind": "screening", "specimen_date": today(), "result": "positive",
                                              "setting": "medical"})


def test_r_aud_1_the_pregnancy_cases_page_names_the_patients_of_the_cases_it_shows(web, factory):
    pres = factory.prescriber()
    open_one, closed_one, bystander = factory.patient(pres), factory.patient(pres), factory.patient(pres)
    for p in (open_one, closed_one):
        _positive_test(pres, p)
    case = db.session.execute(sa.select(PregnancyCase).where(PregnancyCase.patient_id == closed_one.id)).scalar_one()
    case.closed_at, case.close_reason = now(), "Registry follow-up complete"
    db.session.commit()
    admin_user = factory.admin()
    web.sign_in(admin_user)
    everyone = (open_one, closed_one, bystander)

    for show, expected in (("open", {open_one.id}), ("closed", {closed_one.id}),
                           ("all", {open_one.id, closed_one.id})):
        resp = web.get("/admin/pregnancy-cases", query_string={"show": show})
        shown = _in_page_order(resp, everyone)  # the bystander has no case: never shown
        assert set(shown) == expected
        entry = _listed("pregnancy_cases.listed")[-1]
        _names_exactly(entry, admin_user, shown)
        assert entry.after["show"] == show


def _rows(resp) -> list[int]:
    """The audit entries (ids) a page of the audit log shows."""
    return [int(i) for i in re.findall(r"<tr>\s*<td>(\d+)</td>", resp.get_data(as_text=True))]


def test_r_aud_1_the_audit_log_filtered_by_a_patient_finds_the_lists_that_showed_them(web, factory):
    """An administrator asking "who saw patient X" gets the list views that showed X (one list entry
    names several patients: it has no patient column, its index rows find it) and not those that
    did not; each page of the audit log is itself a read of the patients it shows."""
    pres = factory.prescriber()
    a, b = factory.patient(pres), factory.patient(pres)
    outsider = factory.patient(factory.prescriber())
    web.sign_in(pres.user)
    web.get("/prescriber/")
    [worklist] = _listed("patients.listed")
    assert sorted(worklist.after["patient_ids"]) == sorted([a.id, b.id]) and worklist.patient_id is None
    admin_user = factory.admin()
    web.sign_in(admin_user)

    about_a = web.get("/admin/audit", query_string={"patient": a.rems_id})
    assert worklist.id in _rows(about_a)
    about_outsider = web.get("/admin/audit", query_string={"patient": outsider.rems_id})
    assert worklist.id not in _rows(about_outsider) and _rows(about_outsider)
    first, second = _listed("audit.listed")
    _names_exactly(first, admin_user, [a.id])
    _names_exactly(second, admin_user, [outsider.id])
    assert first.after["filters"]["patient"] == a.rems_id and first.after["page"] == 1
    # the administrator's own look at A's entries is now among them (a list of one patient)
    assert first.id in _rows(web.get("/admin/audit", query_string={"patient": a.rems_id}))
    assert first.id not in _rows(web.get("/admin/audit", query_string={"patient": b.rems_id}))

    # unfiltered: the patients of the page's Patient column, in order
    page = web.get("/admin/audit")
    column = re.findall(r'href="/admin/audit\?patient=([0-9]{10})"', page.get_data(as_text=True))
    entry = _listed("audit.listed")[-1]
    _names_exactly(entry, admin_user, _ids(column))
    assert set(entry.after["patient_ids"]) == {a.id, b.id, outsider.id}


def test_r_aud_1_the_users_page_names_the_patients_whose_accounts_it_shows(web, factory):
    """The administrators' Users page shows patients' names and emails among the accounts: a read of
    those patients, page by page (50 accounts a page); the accounts of other roles are not patients."""
    pres = factory.prescriber()
    pharmacy, rsp = factory.pharmacy()
    ids = [p["id"] for p in bulk_patients(pres, pharmacy, rsp, 52)]
    everyone = db.session.execute(sa.select(Patient).where(Patient.id.in_(ids))).scalars().all()
    admin_user = factory.admin()
    web.sign_in(admin_user)
    seen = []
    for number in (1, 2):
        resp = web.get("/admin/users", query_string={"role": "patient", "page": number})
        shown = _in_page_order(resp, everyone, key=lambda p: f">{p.email}<")
        assert len(shown) == (50 if number == 1 else 2)
        entry = _listed("users.listed")[-1]
        _names_exactly(entry, admin_user, shown)
        assert entry.after["page"] == number and entry.after["filters"]["role"] == "patient"
        seen += shown
    assert sorted(seen) == sorted(ids)
    # a page of other accounts shows no patient: no entry
    assert web.get("/admin/users", query_string={"role": "admin"}).status_code == 200
    assert len(_listed("users.listed")) == 2


def test_r_aud_1_the_api_list_of_accounts_names_every_patient_account(client, factory, token_for):
    """GET /api/v1/admin/users answers every account, the patients' with their names and emails: one
    entry naming each of those patients, and no other account."""
    pres = factory.prescriber()
    everyone = [factory.patient(pres) for _ in range(2)]
    admin_user = factory.admin()
    resp = client.get("/api/v1/admin/users", headers=token_for(admin_user))
    assert resp.status_code == 200
    answered = [u["email"] for u in resp.get_json()["users"] if u["role"] == "patient"]
    assert answered == [p.email for p in everyone]
    [entry] = _listed("users.listed")
    _names_exactly(entry, admin_user, [p.id for p in everyone])


# ----- verify holds the index to the hashed content ----------------------------------------------
def _two_entries(app):
    """A list entry naming patients 11 and 12, then an ordinary entry; returns their ids."""
    from rems.services import audit
    from rems.tasks import unit_of_work

    with app.test_request_context(), unit_of_work():
        listed = audit.record_list("test.listed", [12, 11], {"list": "test"})
        plain = audit.record("test.plain")
    return listed["id"], plain["id"]


def test_r_aud_1_verify_passes_with_list_entries(app, runner, factory):
    from rems.services import audit

    factory.prescriber()
    _two_entries(app)
    assert audit.verify()["ok"] is True
    assert _cli(runner, "audit", "verify").exit_code == 0


@pytest.mark.parametrize("tamper", ["row_deleted", "row_added", "row_on_an_ordinary_entry", "row_of_no_entry"])
def test_r_aud_1_verify_fails_when_the_patient_index_differs_from_the_entries(app, runner, backend, factory,
                                                                             tamper):
    """A superuser who removes a list entry's index row (hiding who saw a patient from the filter by
    patient) or adds one (blaming a list for a patient it did not show) is reported."""
    factory.prescriber()
    listed, plain = _two_entries(app)
    statement, broken_at = {
        "row_deleted": (f"DELETE FROM audit_entry_patients WHERE entry_id = {listed} AND patient_id = 12", listed),
        "row_added": (f"INSERT INTO audit_entry_patients (entry_id, patient_id) VALUES ({listed}, 13)", listed),
        "row_on_an_ordinary_entry": (
            f"INSERT INTO audit_entry_patients (entry_id, patient_id) VALUES ({plain}, 11)", plain),
        "row_of_no_entry": (
            f"INSERT INTO audit_entry_patients (entry_id, patient_id) VALUES ({plain + 1}, 11)", plain + 1),
    }[tamper]
    # PostgreSQL checks the foreign key of a row of no entry: a superuser can switch that off too
    replica = ["SET LOCAL session_replication_role = replica"] if backend == "postgres" else []
    _superuser_sql(app, backend, *replica, statement)
    result = _cli(runner, "audit", "verify")
    assert result.exit_code == 1, result.output
    out = json.loads(result.output.strip().splitlines()[-1])
    assert out["ok"] is False and out["broken_at"] == broken_at and "audit_entry_patients" in out["reason"]


def test_r_aud_1_the_patient_index_is_append_only(app, factory):
    factory.prescriber()
    listed, _ = _two_entries(app)
    db.session.commit()
    for statement in (f"UPDATE audit_entry_patients SET patient_id = 13 WHERE entry_id = {listed}",
                      f"DELETE FROM audit_entry_patients WHERE entry_id = {listed}"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), db.engine.begin() as conn:
            conn.exec_driver_sql(statement)
    assert _indexed(db.session.get(AuditEntry, listed)) == [11, 12]

