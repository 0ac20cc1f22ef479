"""Forms of the administrator pages (lengths mirror the API schema)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, Optional

MAX_CHOICES = 6
CHOICE_IDS = "abcdef"


class StatusForm(FlaskForm):
    status = HiddenField(validators=[AnyOf(("active", "suspended"), message="Unknown status")])
    reason = StringField("Reason", validators=[DataRequired("Give a reason"), Length(max=1000)])
    version = HiddenField()  # the account's state the page showed (optimistic concurrency)
    confirm = HiddenField()  # "1" once the confirmation page was read


class CertificationForm(FlaskForm):
    """A pharmacy's certification (R-PHAR-1): the button posts the action; the rest as StatusForm."""

    action = HiddenField(validators=[AnyOf(("suspend", "revoke", "reinstate"), message="Unknown action")])
    reason = StringField("Reason", validators=[DataRequired("Give a reason"), Length(max=1000)])
    version = HiddenField()  # the certification's state the page showed (optimistic concurrency)
    confirm = HiddenField()  # "1" once the confirmation page was read


class ReasonForm(FlaskForm):
    reason = TextAreaField("Reason for closing", validators=[DataRequired("Give a reason"), Length(max=1000)])
    confirm = HiddenField()


class ActionForm(FlaskForm):
    """A button that only needs the CSRF token (verify the chain, copy the chain's head)."""


class ToggleForm(FlaskForm):
    """Deactivate or reactivate a question: the state asked for and the version the list showed."""

    active = HiddenField(validators=[AnyOf(("0", "1"))])
    version = HiddenField()


class QuestionForm(FlaskForm):
    text = TextAreaField("Question", validators=[DataRequired("Enter the question"), Length(max=500)])
    explanation = TextAreaField(
        "Explanation shown after answering",
        validators=[DataRequired("Enter the explanation"), Length(max=1000)],
    )
    correct = RadioField(
        "Correct answer",
        choices=[SelectChoice(str(i), f"Choice {i}") for i in range(1, MAX_CHOICES + 1)],
        validators=[InputRequired("Choose which answer is correct")],
    )
    active = BooleanField("Active (asked to patients)", default=True)
    version = HiddenField()  # the question as the editor was opened (optimistic concurrency)

    def choice_fields(self):
        return [self[f"choice_{i}"] for i in range(1, MAX_CHOICES + 1)]

    def load(self, question: dict) -> None:
        """Fill the form from a saved question (admin.list_questions shape)."""
        self.text.data, self.explanation.data = question["text"], question["explanation"]
        self.active.data, self.version.data = question["active"], question["version"]
        for i, choice in enumerate(question["choices"][:MAX_CHOICES], start=1):
            self[f"choice_{i}"].data = choice["text"]
            if choice["correct"]:
                self.correct.data = str(i)

    def payload(self, existing: dict | None) -> dict:
        """The service body; choice ids are kept by position for an edited question."""
        old_ids = [c["id"] for c in (existing or {}).get("choices", [])]
        choices, used = [], set()
        for i, f in enumerate(self.choice_fields(), start=1):
            text = (f.data or "").strip()
            if not text:
                continue
            cid = (
                old_ids[i - 1]
                if i - 1 < len(old_ids)
                else next(c for c in CHOICE_IDS + "ghijkl" if c not in set(old_ids) | used)
            )
            used.add(cid)
            choices.append({"id": cid, "text": text, "correct": self.correct.data == str(i)})
        return {
            "text": self.text.data.strip(),
            "explanation": self.explanation.data.strip(),
            "choices": choices,
            "active": bool(self.active.data),
        }

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        filled = [i for i, f in enumerate(self.choice_fields(), start=1) if (f.data or "").strip()]
        if len(filled) < 2:
            self.choice_1.errors = [*self.choice_1.errors, "Give at least two answers"]
            ok = False
        # not one of the radio's values (a hand-made post): the radio has said so; int() would raise (500)
        if self.correct.data in {str(i) for i in range(1, MAX_CHOICES + 1)} and int(self.correct.data) not in filled:
            self.correct.errors = [
                *self.correct.errors,
                "The correct answer must be one of the filled-in choices",
            ]
            ok = False
        return ok


for _i in range(1, MAX_CHOICES + 1):
    setattr(
        QuestionForm, f"choice_{_i}", StringField(f"Choice {_i}", validators=[Optional(), Length(max=300)])
    )
