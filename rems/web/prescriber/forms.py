"""Forms of the prescriber pages. Lengths mirror the API schema (api.md field limits); every rule
(dates, contraception forms, home tests...) is checked by the service and the engine, not here.
The `confirm` boxes are the web form's own guard against a slip before an irreversible record
(a positive test, the end of treatment); the JSON API does not have them (api.md)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    PasswordField,
    RadioField,
    SelectField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from rems.clock import program
from rems.web.auth.forms import email_field, name_field
from rems.web.patient.forms import form_label


def choices(*pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


CATEGORY_CHOICES = choices(
    ("can_get_pregnant", "Can get pregnant"), ("cannot_get_pregnant", "Cannot get pregnant")
)
TEST_KIND_CHOICES = choices(
    ("screening", "Screening (at enrollment)"),
    ("confirmation", "Confirmation (opens the first window)"),
    ("monthly", "Monthly"),
    ("post_treatment", "Post-treatment"),
)


def _password(label="Your password (signs this record)"):
    return PasswordField(label, validators=[DataRequired("Enter your password to sign"), Length(max=128)])


def _clinical_date(label):
    return DateField(label, validators=[InputRequired("Enter a date like 2026-03-02")])


def contraception_choices() -> list[SelectChoice]:
    """Primary forms first, then secondary, from the program definition (R-CON-1)."""
    prog = program()
    return (
        [SelectChoice("", "Choose a form")]
        + [SelectChoice(c, form_label(c), optgroup="Primary forms") for c in sorted(prog.primary_forms)]
        + [SelectChoice(c, form_label(c), optgroup="Secondary forms") for c in sorted(prog.secondary_forms)]
    )


class AttestationForm(FlaskForm):
    agree = BooleanField(
        "I have read the attestation above and agree to it",
        validators=[DataRequired("Tick the box to agree to the attestation")],
    )
    password = _password("Your password (signs the attestation)")


class EnrollForm(FlaskForm):
    first_name = name_field("First name")
    last_name = name_field("Last name")
    date_of_birth = DateField("Date of birth", validators=[InputRequired("Enter a date like 2004-05-17")])
    email = email_field("Patient's email address")
    category = RadioField(
        "Risk category",
        choices=CATEGORY_CHOICES,
        validators=[InputRequired("Choose the patient's risk category")],
    )
    transfer = BooleanField("This patient is moving to my care (transfer)")


class VisitForm(FlaskForm):
    visit_date = _clinical_date("Visit date")
    counseled = BooleanField("I counseled the patient about the risks and the program's requirements")
    password = _password()


class ContraceptionForm(FlaskForm):
    start_date = _clinical_date("Start date")
    method = RadioField(
        "Method",
        choices=choices(("forms", "Two forms of contraception"), ("abstinence", "Commitment to abstinence")),
        validators=[InputRequired("Choose two forms or abstinence")],
        default="forms",
    )
    form_1 = SelectField("First form", validators=[Optional()])
    form_2 = SelectField("Second form", validators=[Optional()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.form_1.choices = self.form_2.choices = contraception_choices()

    def payload(self) -> dict:
        if self.method.data == "abstinence":
            return {"start_date": self.start_date.data, "abstinence": True, "forms": []}
        return {
            "start_date": self.start_date.data,
            "abstinence": False,
            "forms": [f for f in (self.form_1.data, self.form_2.data) if f],
        }


class PregnancyTestForm(FlaskForm):
    kind = SelectField(
        "Kind of test", choices=TEST_KIND_CHOICES, validators=[InputRequired("Choose the kind")]
    )
    specimen_date = _clinical_date("Specimen collection date")
    result = RadioField(
        "Result",
        choices=choices(("negative", "Negative"), ("positive", "Positive")),
        validators=[InputRequired("Choose the result")],
    )
    setting = RadioField(
        "Setting",
        choices=choices(("medical", "Medical setting (office or lab)"), ("home", "Home test")),
        validators=[InputRequired("Choose where the test was done")],
        default="medical",
    )
    confirm = BooleanField(
        "I confirm this result is positive: treatment stops now and a pregnancy case is opened"
    )

    def validate_confirm(self, field):
        """R-PT-4: a positive result cannot be undone (the course stops, a registry case opens and
        the administrator is told), so on the web form a slip on the radio button must not record
        it: a positive result needs this box too. A negative one does not (nothing irreversible)."""
        if self.result.data == "positive" and not field.data:
            raise ValidationError(
                "Tick the box to confirm the positive result, or choose Negative if it was negative"
            )


class HomeTestingForm(FlaskForm):
    enabled = BooleanField("Allow home pregnancy tests (monthly and post-treatment only)")
    procedure = TextAreaField("Anti-falsification procedure", validators=[Length(max=4000)])


class CategoryForm(FlaskForm):
    category = RadioField(
        "New risk category", choices=CATEGORY_CHOICES, validators=[InputRequired("Choose the new category")]
    )
    reason = TextAreaField(
        "Reason for the change", validators=[DataRequired("Give the reason"), Length(max=1000)]
    )


class EndTreatmentForm(FlaskForm):
    last_dose_date = _clinical_date("Date of the last dose")
    reason = TextAreaField("Reason (optional)", validators=[Length(max=1000)])
    # R-END-1: no RMA after this, and it cannot be taken back: one click must not end a course
    confirm = BooleanField(
        "I confirm the last dose date; no RMA can be issued after this",
        validators=[DataRequired("Tick the box to confirm the end of treatment")],
    )
