"""Account pages. Sign-in uses the same message for unknown email and wrong password."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from rems.errors import ApiError
from rems.services import accounts, practice
from rems.web import sessions
from rems.web.auth import bp
from rems.web.auth.forms import (
    ActivateForm,
    PasswordForm,
    PharmacyRegisterForm,
    PrescriberRegisterForm,
    SignInForm,
)
from rems.web.helpers import apply_api_error, role_required, safe_next


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    form = SignInForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(form.email.data, form.password.data)
        except ApiError as err:
            if err.status not in (401, 403, 429):
                raise
            form.form_errors.append(err.detail)
            if err.status == 403:  # suspended (the password was right)
                status = 403
            if err.status == 429:  # locked out: a real 429 (rems.security.headers adds Retry-After)
                status = 429
        else:
            sessions.start(user)
            return redirect(safe_next(request.args.get("next")) or url_for("web.home"))
    if form.errors and status == 200:
        status = 400
    return render_template("auth/sign_in.html", form=form), status


@bp.post("/sign-out")
def sign_out():
    sessions.end()
    flash("You have signed out.", "success")
    return redirect(url_for("auth.sign_in"))


@bp.route("/activate", methods=["GET", "POST"])
def activate():
    form = ActivateForm()
    if request.method == "GET" and request.args.get("code"):
        form.activation_code.data = request.args["code"][:40]
    if form.validate_on_submit():
        try:
            user = accounts.activate(form.activation_code.data, form.password.data, form.date_of_birth.data)
        except ApiError as err:
            apply_api_error(form, err, {"password": "password"})
        else:
            flash(f"Your account is active. Sign in with {user.email} and your new password.", "success")
            return redirect(url_for("auth.sign_in"))
    return render_template("auth/activate.html", form=form), 200 if not form.errors else 400


@bp.route("/account/password", methods=["GET", "POST"])
@role_required("account.self")
def password():
    form = PasswordForm()
    if form.validate_on_submit():
        row = sessions.current()
        try:
            accounts.change_password(
                current_user._get_current_object(),
                form.current_password.data,
                form.new_password.data,
                keep_session_id=row.id if row else None,
            )
        except ApiError as err:
            apply_api_error(form, err)
        else:
            flash("Your password has been changed. Other devices have been signed out.", "success")
            return redirect(url_for("web.home"))
    return render_template("auth/password.html", form=form), 200 if not form.errors else 400


@bp.route("/register/prescriber", methods=["GET", "POST"])
def register_prescriber():
    form = PrescriberRegisterForm()
    if form.validate_on_submit():
        data = {
            k: form[k].data.strip()
            for k in ("first_name", "last_name", "email", "npi", "license_state", "license_number")
        }
        data["password"] = form.password.data
        try:
            practice.register_prescriber(data)
        except ApiError as err:
            apply_api_error(form, err)
        else:
            flash(
                "You are registered. Sign in, then sign the prescriber attestation to become certified.",
                "success",
            )
            return redirect(url_for("auth.sign_in"))
    return render_template("auth/register_prescriber.html", form=form), 200 if not form.errors else 400


PHARMACY_FIELDS = {
    "address.line1": "line1",
    "address.city": "city",
    "address.state": "state",
    "address.zip": "zip",
    "rsp.email": "rsp_email",
    "rsp.password": "password",
    "email": "rsp_email",
    "password": "password",
}


@bp.route("/register/pharmacy", methods=["GET", "POST"])
def register_pharmacy():
    form = PharmacyRegisterForm()
    if form.validate_on_submit():
        d = {
            k: (form[k].data or "").strip()
            for k in form.data
            if k not in ("csrf_token", "password", "confirm")
        }
        data = {
            "name": d["name"],
            "ncpdp_id": d["ncpdp_id"],
            "npi": d["npi"],
            "address": {"line1": d["line1"], "city": d["city"], "state": d["state"], "zip": d["zip"]},
            "rsp": {
                "email": d["rsp_email"],
                "first_name": d["rsp_first_name"],
                "last_name": d["rsp_last_name"],
                "license_number": d["rsp_license_number"],
                "password": form.password.data,
            },
        }
        try:
            practice.register_pharmacy(data)
        except ApiError as err:
            apply_api_error(form, err, PHARMACY_FIELDS)
        else:
            flash(
                "The pharmacy is registered. Sign in as the Responsible Site Pharmacist and sign the "
                "pharmacy attestation to certify it.",
                "success",
            )
            return redirect(url_for("auth.sign_in"))
    return render_template("auth/register_pharmacy.html", form=form), 200 if not form.errors else 400
