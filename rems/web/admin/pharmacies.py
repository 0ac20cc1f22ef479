"""Pharmacies' certification (R-ADMIN-1, R-PHAR-1): thin views over rems.services.pharmacy_admin."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from rems.errors import ApiError
from rems.services import pharmacy_admin, practice
from rems.web.admin import bp
from rems.web.admin.forms import CertificationForm
from rems.web.helpers import apply_api_error, role_required

BUTTONS = {"suspend": "Suspend the certification", "revoke": "Revoke the certification"}
DONE = {"suspend": "suspended", "revoke": "revoked"}


def _render(failed=None, failed_form=None):
    page, filters = pharmacy_admin.search(request.args)
    forms = {}
    for ph in page.items:
        form = failed_form if ph.ncpdp_id == failed else CertificationForm(prefix=f"p{ph.ncpdp_id}", formdata=None)
        form.version.data = pharmacy_admin.pharmacy_version(ph)  # what the page shows (optimistic concurrency)
        forms[ph.ncpdp_id] = form
    status = 422 if failed_form is not None and (failed_form.errors or failed_form.form_errors) else 200
    return render_template("admin/pharmacies.html", page=page, filters=filters, forms=forms,
                           changes={ph.ncpdp_id: pharmacy_admin.certification_changes(ph) for ph in page.items},
                           status_of=practice.effective_status, page_title="Pharmacies"), status


@bp.get("/pharmacies")
@role_required("admin.manage")
def pharmacies():
    return _render()


@bp.post("/pharmacies/<ncpdp_id>/certification")
@role_required("admin.manage")
def pharmacy_certification(ncpdp_id):
    """Suspend, revoke or reinstate. Suspending and revoking show a confirmation page first, which
    posts here again with `confirm`; only that post changes anything."""
    form = CertificationForm(prefix=f"p{ncpdp_id}")
    back = url_for(".pharmacies", **request.args)
    if form.validate_on_submit():
        me = current_user._get_current_object()
        change = {"action": form.action.data, "reason": form.reason.data.strip(), "version": form.version.data or ""}
        try:
            if change["action"] != "reinstate" and form.confirm.data != "1":
                return _confirm(form, pharmacy_admin.preview(me, ncpdp_id, change), change)
            ph = pharmacy_admin.change(me, ncpdp_id, change)
        except ApiError as err:
            if err.status == 404:
                raise
            if err.status == 409:  # not applicable, or changed since the page was opened
                flash(err.detail, "error")
                return redirect(back)
            apply_api_error(form, err)
        else:
            if change["action"] in DONE:
                done = DONE[change["action"]]
            elif ph["status"] == "pending":
                done = "reinstated; its Responsible Site Pharmacist must sign the pharmacy attestation again"
            else:
                done = "reinstated"
            flash(f"The certification of {ph['name']} (NCPDP {ph['ncpdp_id']}) was {done}.", "success")
            return redirect(back)
    elif form.csrf_token.errors:
        flash("The form expired; try again.", "error")
        return redirect(back)
    return _render(ncpdp_id, form)


def _confirm(form, preview, change):
    ph, action = preview["pharmacy"], change["action"]
    hidden = [(form.action.name, action), (form.reason.name, change["reason"]),
              (form.version.name, change["version"]), (form.confirm.name, "1")]
    verb = "Suspend" if action == "suspend" else "Revoke"
    return render_template(
        "admin/confirm.html", form=form, hidden=hidden, consequences=preview["consequences"],
        reason=change["reason"], title=f"{verb} the certification of {ph.name}?",
        subject=f"{ph.name} (pharmacy, NCPDP {ph.ncpdp_id}, {ph.city}, {ph.state})",
        action=url_for(".pharmacy_certification", ncpdp_id=ph.ncpdp_id, **request.args),
        cancel=url_for(".pharmacies", **request.args), button=BUTTONS[action],
        page_title=f"Confirm: {verb.lower()} pharmacy certification",
    )
