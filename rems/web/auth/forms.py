"""Forms for the account pages (lengths mirror the API schema and the columns)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional, Regexp, ValidationError

REQUIRED = "Enter this"


def _password(label="Password", name_hint=None):
    return PasswordField(label, validators=[DataRequired(REQUIRED), Length(max=128)])


def _new_password(label="New password"):
    return PasswordField(
        label,
        validators=[
            DataRequired("Choose a password"),
            Length(min=12, max=128, message="Use 12 to 128 characters"),
        ],
    )


def _confirm(target):
    return PasswordField(
        "Type the new password again",
        validators=[
            DataRequired("Type the password again"),
            EqualTo(target, message="The two passwords are not the same"),
        ],
    )


def name_field(label):
    """A required name of up to 100 characters: a person's, or a pharmacy's."""
    return StringField(label, validators=[DataRequired(REQUIRED), Length(max=100)])


def email_field(label="Email address"):
    """An email address (shared by the account, prescriber and pharmacist forms)."""
    return EmailField(
        label,
        validators=[
            DataRequired("Enter an email address"),
            Length(max=254),
            Email("Enter an email address like name@example.com"),
        ],
    )


def _us_state(form, field):
    from rems.services.practice import US_STATES

    if (field.data or "").strip().upper() not in US_STATES:
        raise ValidationError("Use a US state or territory code, like NY")


STATE = [DataRequired("Enter the 2-letter state"), Regexp(r"^\s*[A-Za-z]{2}\s*$", message="Use 2 letters, like NY"),
         _us_state]
NPI = [DataRequired("Enter the 10-digit NPI"), Regexp(r"^[0-9]{10}$", message="An NPI has 10 digits")]


class SignInForm(FlaskForm):
    email = EmailField(
        "Email address", validators=[DataRequired("Enter your email address"), Length(max=254)]
    )
    password = PasswordField("Password", validators=[DataRequired("Enter your password"), Length(max=128)])


class ActivateForm(FlaskForm):
    activation_code = StringField(
        "Activation code", validators=[DataRequired("Enter the code you were given"), Length(max=40)]
    )
    date_of_birth = DateField("Date of birth", validators=[Optional()])
    password = _new_password("Choose a password")
    confirm = _confirm("password")


class PasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password", validators=[DataRequired("Enter your current password"), Length(max=128)]
    )
    new_password = _new_password()
    confirm = _confirm("new_password")


class PrescriberRegisterForm(FlaskForm):
    first_name = name_field("First name")
    last_name = name_field("Last name")
    email = email_field()
    npi = StringField("NPI", validators=NPI)
    license_state = StringField("License state", validators=STATE)
    license_number = StringField("License number", validators=[DataRequired(REQUIRED), Length(max=40)])
    password = _new_password("Choose a password")
    confirm = _confirm("password")


class PharmacyRegisterForm(FlaskForm):
    name = name_field("Pharmacy name")
    ncpdp_id = StringField(
        "NCPDP ID",
        validators=[
            DataRequired("Enter the 7-digit NCPDP ID"),
            Regexp(r"^[0-9]{7}$", message="An NCPDP ID has 7 digits"),
        ],
    )
    npi = StringField("Pharmacy NPI", validators=NPI)
    line1 = name_field("Street address")
    city = name_field("City")
    state = StringField("State", validators=STATE)
    zip = StringField(
        "ZIP code",
        validators=[
            DataRequired("Enter the ZIP code"),
            Regexp(r"^[0-9]{5}(-[0-9]{4})?$", message="Use 5 digits, like 10001"),
        ],
    )
    rsp_first_name = name_field("First name")
    rsp_last_name = name_field("Last name")
    rsp_email = email_field()
    rsp_license_number = StringField(
        "Pharmacist license number", validators=[DataRequired(REQUIRED), Length(max=40)]
    )
    password = _new_password("Choose a password")
    confirm = _confirm("password")
