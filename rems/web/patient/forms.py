"""Patient forms: the consent signature and the monthly attestation (built per cycle)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, RadioField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

FORM_LABELS = {
    "tubal_sterilization": "Tubal sterilization",
    "partner_vasectomy": "Partner's vasectomy",
    "iud": "IUD (intrauterine device)",
    "hormonal_implant": "Hormonal implant",
    "hormonal_injection": "Hormonal injection",
    "combined_pill": "Combined birth control pill",
    "patch": "Birth control patch",
    "vaginal_ring": "Vaginal ring",
    "male_condom": "Male condom",
    "diaphragm_spermicide": "Diaphragm with spermicide",
    "cervical_cap_spermicide": "Cervical cap with spermicide",
    "vaginal_sponge": "Vaginal sponge",
}


def form_label(code: str) -> str:
    return FORM_LABELS.get(code, code.replace("_", " ").capitalize())


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


PASSWORD = PasswordField(
    "Your password", validators=[DataRequired("Enter your password to sign"), Length(max=128)]
)


class ConsentForm(FlaskForm):
    guardian_name = StringField("Parent or guardian's full name", validators=[Optional(), Length(max=100)])
    understood = BooleanField(
        "I have read and understood the information above",
        validators=[DataRequired("Tick the box to confirm you have read the information")],
    )
    password = PASSWORD


def attestation_form(questions, primary, secondary, formdata=None):
    """A form with one radio group per question of this cycle, then contraception and signature."""

    class AttestationForm(FlaskForm):
        pass

    for q in questions:
        setattr(
            AttestationForm,
            f"q{q.id}",
            RadioField(
                q.text,
                choices=[SelectChoice(c["id"], c["text"]) for c in q.choices],
                validators=[InputRequired("Choose an answer")],
            ),
        )
    AttestationForm.primary_forms = MultiCheckboxField(
        "Main methods you use", choices=[SelectChoice(c, form_label(c)) for c in sorted(primary)]
    )
    AttestationForm.secondary_forms = MultiCheckboxField(
        "Barrier methods you use", choices=[SelectChoice(c, form_label(c)) for c in sorted(secondary)]
    )
    AttestationForm.abstinence = BooleanField(
        "I am committed to not having sex with a male partner (abstinence)"
    )
    AttestationForm.password = PasswordField(
        "Your password", validators=[DataRequired("Enter your password to sign"), Length(max=128)]
    )
    form = AttestationForm() if formdata is None else AttestationForm(formdata=formdata)
    form.question_fields = [getattr(form, f"q{q.id}") for q in questions]
    return form
