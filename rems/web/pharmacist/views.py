"""Pharmacist pages: one dispense form (authorize or check only), recent RMAs with reversal,
and the Responsible Site Pharmacist's certification and staff invitations."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from rems.errors import ApiError
from rems.services import dispensing, keyset, practice, rma_search
from rems.services.signatures import meaning as signature_meaning
from rems.web import handover, messages
from rems.web.helpers import apply_api_error, long_date, require, role_required
from rems.web.pharmacist import bp
from rems.web.pharmacist.forms import AttestForm, DispenseForm, InviteForm, ReverseForm


def _me():
    return current_user._get_current_object()


def _memberships(user, rsp_only=False):
    return [m for m in user.memberships if m.active and (m.is_rsp or not rsp_only)]


def _status(pharmacy) -> str:
    return practice.effective_status(pharmacy)


@bp.route("/pharmacy", methods=["GET", "POST"])
@role_required("dispense.check")
def index():
    user = _me()
    members = _memberships(user)
    form = DispenseForm()
    form.pharmacy.choices = [
        SelectChoice(m.pharmacy.ncpdp_id, f"{m.pharmacy.name} (NCPDP {m.pharmacy.ncpdp_id})") for m in members
    ]
    result = None
    if form.validate_on_submit():
        mode = "check" if request.form.get("mode") == "check" else "authorize"
        data = {
            "rems_id": form.rems_id.data.strip(),
            "date_of_birth": form.date_of_birth.data,
            "prescriber_npi": form.prescriber_npi.data.strip(),
            "pharmacy_ncpdp_id": form.pharmacy.data,
        }
        if mode == "authorize":
            for f in (form.days_supply, form.quantity):
                if f.data is None:
                    f.errors = list(f.errors) + [f"Enter the {f.label.text.lower()} to get an authorization"]
        if not form.errors:
            result = _decide(user, form, data, mode)
    # A fresh key for each rendered form: a double click resends the same key (one answer),
    # a later submission of the re-rendered form is a new request.
    form.request_key.data = secrets.token_urlsafe(16)
    return render_template(
        "pharmacist/index.html", form=form, result=result, members=members, new_messages=messages.newest_unread()
    ), 200 if not form.errors else 400


def _decide(user, form, data: dict, mode: str) -> dict | None:
    """Ask the service; answer with a verdict to read aloud, or put its error on the form."""
    try:
        if mode == "check":
            data["days_supply"] = form.days_supply.data
            answer = dispensing.eligibility(user, data)
            return {
                "mode": mode,
                "eligible": answer["eligible"],
                "reasons": answer["reasons"],
                "window": answer["window"],
                "do_not_dispense_after": answer["do_not_dispense_after"],
            }
        data.update(days_supply=form.days_supply.data, quantity=form.quantity.data)
        key = (form.request_key.data or "")[:200] or None
        status, body = dispensing.authorize(user, data, f"web:{key}" if key else None)
    except ApiError as err:
        apply_api_error(form, err)
        return None
    if status == 201:
        return {
            "mode": mode,
            "eligible": True,
            "issued": True,
            "rma": body["rma"],
            "do_not_dispense_after": body["do_not_dispense_after"],
            "days_supply": body["days_supply"],
            "quantity": body["quantity"],
            "reasons": [],
        }
    return {"mode": mode, "eligible": False, "reasons": body.get("reasons", []), "window": body.get("window")}


def _recent(user, find: str | None = None, before=None, after=None, last_name=None,
            date_of_birth=None) -> tuple[keyset.Page, ApiError | None]:
    """A page of the RMAs of the user's pharmacies: the latest, or those the search names, from the
    page link's position on (dispensing.pharmacy_rmas); a search refused (too short, a name
    without a date of birth) is an empty page with its message."""
    try:
        return dispensing.pharmacy_rmas(user, [m.pharmacy_id for m in _memberships(user)], find, before, after,
                                        last_name=last_name, date_of_birth=date_of_birth), None
    except ApiError as err:
        if err.status >= 500:
            raise
        return keyset.Page([]), err


BAD_PAGE_LINK = ("This page link is not valid (it may have been cut short), so the latest "
                 "authorizations are shown.")


@dataclass(frozen=True)
class ListRequest:
    """The RMA list's search and page link of this request, read once: `before` (Older RMAs) or
    `after` (Newer); a made-up or cut link is the first page, with a message (never an error page)."""
    find: str = ""
    before: keyset.Position | None = None
    after: keyset.Position | None = None
    bad_link: bool = False
    last_name: str = ""
    date_of_birth: str = ""

    @classmethod
    def of_request(cls) -> ListRequest:
        search = {"find": (request.args.get("find") or "")[:40],
                  "last_name": (request.args.get("last_name") or "")[:100],
                  "date_of_birth": (request.args.get("date_of_birth") or "")[:40]}
        try:
            before = keyset.parse(request.args.get("before", type=str))
            after = keyset.parse(request.args.get("after", type=str))
        except keyset.BadToken:
            return cls(bad_link=True, **search)
        if before is not None and after is not None:
            return cls(bad_link=True, **search)
        return cls(before=before, after=after, **search)

    def search_args(self) -> dict:
        """The search's query arguments, for the page links (those typed only)."""
        return {k: v for k, v in (("find", self.find), ("last_name", self.last_name),
                                  ("date_of_birth", self.date_of_birth)) if v}

    def args(self) -> dict:
        """The query arguments that bring the pharmacist back to this search and page (the
        reversal form carries them, so a reversal returns to the page it was made on, QA 2026-11-26)."""
        args = self.search_args()
        if self.before is not None:
            args["before"] = self.before.token
        elif self.after is not None:
            args["after"] = self.after.token
        return args


@bp.get("/pharmacy/rmas")
@role_required("dispense.check")  # the pharmacist's own pharmacies' RMAs
def rmas():
    q = ListRequest.of_request()
    page, refused = _recent(_me(), q.find, q.before, q.after, q.last_name, q.date_of_birth)
    return _rmas_page(page, q, refused=refused, status=400 if refused else 200)


# The badge of an RMA in the list names why it may not be filled (dispensing.dispense_stop); any other
# stop (treatment stopped while it could be filled: R-PT-4, R-END-1) is "Do not dispense" with the
# service's sentence in an alert. "Authorized" only when the service says it may be filled.
STOP_BADGES = {None: ("authorized", "Authorized"), "REVERSED": ("reversed", "Reversed"),
               "EXPIRED": ("expired", "Expired")}
STOPPED = ("not_eligible", "Do not dispense")


def _rma_state(a) -> dict:
    """Badge (status, label) and alert sentence for one RMA, from the service's answer."""
    stop = dispensing.dispense_stop(a)
    code = stop[0] if stop else None
    status, label = STOP_BADGES.get(code, STOPPED)
    return {"status": status, "label": label, "alert": None if code in STOP_BADGES else stop[1]}


def _not_reversed(form) -> str:
    """'RMA0123456789 was not reversed. Give the reason for the reversal.': each message a sentence."""
    messages = [*form.form_errors, *form.reason.errors]
    return " ".join([f"{form.rma_prefix} was not reversed.", *(m if m.endswith(".") else f"{m}." for m in messages)])


def _rmas_page(page: keyset.Page, q: ListRequest, failed=None, status=200, find: str | None = None,
               refused: ApiError | None = None):
    """One reversal form per unreversed RMA (an expired one too: one never picked up can be reversed
    after its window), each with its own prefix (unique ids and labels) and the list's search and
    page of `q`; "Older RMAs" / "Newer" links keep the search. `find`: the search shown, when it is
    not the request's. `refused`: the search's error, shown on its field."""
    rows = page.rows
    forms = {a.rma: ReverseForm(prefix=a.rma, formdata=None) for a in rows if a.status != "reversed"}
    if failed is not None:
        forms[failed.rma_prefix] = failed
    states = {a.rma: _rma_state(a) for a in rows}
    return render_template("pharmacist/rmas.html", rows=rows, page=page, forms=forms, states=states,
                           failed=failed, not_reversed=_not_reversed(failed) if failed is not None else None,
                           find=q.find if find is None else find, recent=dispensing.RECENT_RMAS,
                           search=q if find is None else ListRequest(find), refused=_search_errors(refused),
                           described=rma_search.described(q.find, q.last_name, q.date_of_birth)
                           if find is None else find,
                           list_args=q.args(), bad_link=BAD_PAGE_LINK if q.bad_link else None), status


def _search_errors(err: ApiError | None) -> dict[str, str]:
    """The refused search's message by field (find, last_name, date_of_birth)."""
    if err is None:
        return {}
    return {item["field"]: item["message"] for item in err.errors} or {"find": err.detail}


@bp.post("/pharmacy/rmas/<rma>/reversal")
@role_required("authorization.reverse")
def reverse(rma):
    user, q = _me(), ListRequest.of_request()
    form = ReverseForm(prefix=rma[:20])
    form.rma_prefix = rma[:20]
    if form.validate_on_submit():
        try:
            row = dispensing.reverse(user, rma, form.reason.data.strip())
        except ApiError as err:
            if err.status >= 500 or err.status == 404:
                raise
            apply_api_error(form, err)
        else:
            flash(f"{row.rma} was reversed. {_AFTER_REVERSAL[dispensing.after_reversal(row)](row)}", "success")
            # back to the list's page the form was on, where the RMA now reads "reversed" (positions do
            # not move); a form posted from nowhere in particular shows the reversed RMA by its number
            back = q.args() or {"find": row.rma}
            return redirect(url_for("pharmacist.rmas", **back))
    # the RMA with its form and error, even when it is older than the latest ones (found by a search)
    page, _refused = _recent(user, find=rma[:20])  # a made-up number finds nothing
    return _rmas_page(page, q, failed=form, status=400, find=rma[:20])


# what a reversal means for the next RMA (dispensing.after_reversal), in the pharmacist's words
_AFTER_REVERSAL = {
    "stopped": lambda rma: "Treatment has stopped for this patient: no new RMA can be issued.",
    "reopened": lambda rma: ("The patient's cycle is open again: a corrected RMA can be issued until "
                             f"{long_date(rma.do_not_dispense_after)}."),
    "missed": lambda rma: (f"Its window closed on {long_date(rma.do_not_dispense_after)}, so the patient "
                           "must complete a new cycle before another RMA can be issued."),
}


def _pharmacy_page(invite_forms=None, attest_forms=None, issued=None, status=200):
    """Each pharmacy's forms get their own prefix, so ids stay unique with several pharmacies."""
    members = _memberships(_me())
    for m in members:
        require("pharmacy.view", m.pharmacy)
    attest_forms = {
        m.pharmacy_id: AttestForm(prefix=f"a{m.pharmacy_id}", formdata=None) for m in members if m.is_rsp
    } | (attest_forms or {})
    invite_forms = {
        m.pharmacy_id: InviteForm(prefix=f"i{m.pharmacy_id}", formdata=None) for m in members if m.is_rsp
    } | (invite_forms or {})
    return render_template(
        "pharmacist/pharmacy.html",
        members=members,
        status_of=_status,
        attest_forms=attest_forms,
        invite_forms=invite_forms,
        issued=issued,
        attestation=signature_meaning("pharmacy_attestation"),
    ), status


# An invited pharmacist's activation code is shown once, on the page the invitation's POST
# redirects to (a reload sends nothing again), crossing there encrypted (rems.web.handover).
INVITE_PURPOSE = "pharmacist_invitation"


@bp.get("/pharmacy/manage")
@handover.shown_here
@role_required("dispense.check")  # the pharmacist's own memberships (pharmacy.view checks each one)
def pharmacy():
    issued = handover.take(INVITE_PURPOSE, str(_me().id))
    return _pharmacy_page(issued=json.loads(issued) if issued else None)


def _own_pharmacy(action: str, ncpdp_id: str):
    ph = practice.pharmacy_by_ncpdp(ncpdp_id) if len(ncpdp_id) <= 7 else None
    require(action, ph)
    return ph


@bp.post("/pharmacy/<ncpdp_id>/attestation")
@role_required("pharmacy.attest")
def attest(ncpdp_id):
    ph = _own_pharmacy("pharmacy.attest", ncpdp_id)
    form = AttestForm(prefix=f"a{ph.id}")
    if form.validate_on_submit():
        try:
            practice.attest_pharmacy(_me(), ph, form.password.data)
        except ApiError as err:
            apply_api_error(form, err)
        else:
            flash(
                f"{ph.name} is certified until {ph.certified_until:%B} {ph.certified_until.day}, "
                f"{ph.certified_until.year}.",
                "success",
            )
            return redirect(url_for("pharmacist.pharmacy"))
    return _pharmacy_page(attest_forms={ph.id: form}, status=400)


@bp.post("/pharmacy/<ncpdp_id>/invitations")
@role_required("pharmacy.invite")
def invite(ncpdp_id):
    ph = _own_pharmacy("pharmacy.invite", ncpdp_id)
    form = InviteForm(prefix=f"i{ph.id}")
    if form.validate_on_submit():
        data = {k: form[k].data.strip() for k in ("first_name", "last_name", "email", "license_number")}
        try:
            staff, code = practice.invite_pharmacist(_me(), ph, data)
        except ApiError as err:
            apply_api_error(form, err)
        else:
            issued = {"pharmacy_id": ph.id, "name": staff.full_name, "email": staff.email, "code": code}
            handover.give(INVITE_PURPOSE, str(_me().id), json.dumps(issued))
            return redirect(url_for("pharmacist.pharmacy"), 303)
    return _pharmacy_page(invite_forms={ph.id: form}, status=400)
