"""Pharmacist forms. Lengths mirror the API; the dispensing rules are the engine's (R-RMA-*)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from rems.ids import without_separators
from rems.services.practice import npi_valid
from rems.web.auth.forms import REQUIRED, email_field, name_field


class DispenseForm(FlaskForm):
    pharmacy = SelectField("Pharmacy", validators=[InputRequired("Choose the pharmacy")])
    rems_id = StringField(
        "Patient's REMS ID",
        filters=[without_separators],
        validators=[
            DataRequired("Enter the patient's REMS ID"),
            Regexp(r"^[0-9]{10}$", message="A REMS ID has 10 digits"),
        ],
    )
    date_of_birth = DateField(
        "Patient's date of birth", validators=[InputRequired("Enter the date of birth")]
    )
    prescriber_npi = StringField(
        "Prescriber's NPI",
        filters=[without_separators],  # "1900 000 013" as printed on a prescription
        validators=[
            DataRequired("Enter the prescriber's NPI"),
            Regexp(r"^[0-9]{10}$", message="An NPI has 10 digits"),
        ],
    )

    def validate_prescriber_npi(self, field):
        """R-PRES-1: a mistyped NPI fails its check digit; say so rather than 'not certified'."""
        value = (field.data or "").strip()
        if len(value) == 10 and value.isdigit() and not npi_valid(value):
            raise ValidationError("This NPI's check digit is wrong: check the number on the prescription")

    days_supply = IntegerField(
        "Days' supply",
        validators=[
            Optional(),
            NumberRange(min=1, max=10_000, message="Enter a whole number of days, 1 or more"),
        ],
    )
    quantity = IntegerField(
        "Quantity (capsules)",
        validators=[Optional(), NumberRange(min=1, max=10_000, message="Enter a whole number, 1 or more")],
    )
    request_key = HiddenField()


class ReverseForm(FlaskForm):
    reason = TextAreaField(
        "Reason for the reversal",
        validators=[DataRequired("Give the reason for the reversal"), Length(max=1000)],
    )


class AttestForm(FlaskForm):
    password = PasswordField(
        "Your password", validators=[DataRequired("Enter your password to sign"), Length(max=128)]
    )


class InviteForm(FlaskForm):
    first_name = name_field("First name")
    last_name = name_field("Last name")
    email = email_field("Email address")
    license_number = StringField(
        "Pharmacist license number", validators=[DataRequired(REQUIRED), Length(max=40)]
    )
