"""Request schemas: one declaration validates the body and generates the OpenAPI document.

Validation errors name the field; nothing is written when validation fails.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from rems.errors import ApiError

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


@dataclass(frozen=True)
class F:
    """A field: `type` is string|integer|boolean|date|email|object|array."""

    type: str
    required: bool = True
    max_len: int | None = None
    min_len: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    enum: tuple[str, ...] | None = None
    pattern: str | None = None
    props: dict | None = None  # object fields
    items: F | None = None  # array items
    min_items: int | None = None
    max_items: int | None = None
    description: str = ""
    extra: dict = field(default_factory=dict)
    ignore: str | None = None  # strings: a regex of what is dropped before the checks (typed separators)


def _err(path: str, message: str) -> dict:
    return {"field": path, "message": message}


def _check(spec: F, value, path: str, errors: list) -> object:
    t = spec.type
    if t in ("string", "email", "date"):
        if not isinstance(value, str):
            errors.append(_err(path, "must be a string" if t == "string" else f"must be a {t} string"))
            return None
        if spec.ignore is not None:
            value = re.sub(spec.ignore, "", value)
        if spec.min_len is not None and len(value.strip()) < spec.min_len:
            message = "is required" if spec.min_len == 1 else f"needs at least {spec.min_len} characters"
            errors.append(_err(path, message))
            return None
        if spec.max_len is not None and len(value) > spec.max_len:
            errors.append(_err(path, f"must be at most {spec.max_len} characters"))
            return None
        if "\x00" in value:
            errors.append(_err(path, "contains a forbidden character"))
            return None
        if t == "email":
            value = value.strip().lower()
            if len(value) > 254 or not EMAIL_RE.match(value):
                errors.append(_err(path, "must be an email address"))
                return None
        if t == "date":
            try:
                if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
                    raise ValueError
                parsed = date.fromisoformat(value)
            except ValueError:
                errors.append(_err(path, "must be a date YYYY-MM-DD"))
                return None
            if parsed.year < 1900:
                errors.append(_err(path, "is not a plausible date"))
                return None
            return parsed
        if spec.enum is not None and value not in spec.enum:
            errors.append(_err(path, f"must be one of: {', '.join(spec.enum)}"))
            return None
        if spec.pattern is not None and not re.fullmatch(spec.pattern, value):
            errors.append(_err(path, "has the wrong format"))
            return None
        return value.strip() if t == "string" else value
    if t == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            errors.append(_err(path, "must be a whole number"))
            return None
        if spec.minimum is not None and value < spec.minimum:
            errors.append(_err(path, f"must be at least {spec.minimum}"))
            return None
        if spec.maximum is not None and value > spec.maximum:
            errors.append(_err(path, f"must be at most {spec.maximum}"))
            return None
        return value
    if t == "boolean":
        if not isinstance(value, bool):
            errors.append(_err(path, "must be true or false"))
            return None
        return value
    if t == "object":
        if not isinstance(value, dict):
            errors.append(_err(path, "must be an object"))
            return None
        if spec.props is None:  # free-form map of strings to strings / integers
            if len(value) > 50 or not all(isinstance(k, str) and len(k) <= 40 and isinstance(v, (str, int))
                                           and not isinstance(v, bool) for k, v in value.items()):
                errors.append(_err(path, "must map question ids to choice ids"))
                return None
            return value
        return _object(spec.props, value, path + ".", errors)
    if t == "array":
        if not isinstance(value, list):
            errors.append(_err(path, "must be a list"))
            return None
        if spec.min_items is not None and len(value) < spec.min_items:
            errors.append(_err(path, f"needs at least {spec.min_items} items"))
            return None
        if spec.max_items is not None and len(value) > spec.max_items:
            errors.append(_err(path, f"takes at most {spec.max_items} items"))
            return None
        return [_check(spec.items, v, f"{path}[{i}]", errors) for i, v in enumerate(value)]
    raise ValueError(t)


def _object(props: dict[str, F], data: dict, prefix: str, errors: list) -> dict:
    out = {}
    for name, spec in props.items():
        path = prefix + name
        if name not in data or data[name] is None:
            if spec.required:
                errors.append(_err(path, "is required"))
            continue
        out[name] = _check(spec, data[name], path, errors)
    return out


def validate(props: dict[str, F], data) -> dict:
    """Validated, normalised copy of `data`; ApiError 400/422 naming every bad field."""
    if not isinstance(data, dict):
        raise ApiError(400, "BAD_REQUEST", "The body must be a JSON object.")
    errors: list = []
    out = _object(props, data, "", errors)
    if errors:
        raise ApiError(422, "VALIDATION_ERROR", "Some fields are missing or invalid.", errors=errors)
    return out


def json_schema(spec: F | dict) -> dict:
    """The JSON Schema (OpenAPI 3.1 dialect) of a field or of an object's properties."""
    if isinstance(spec, dict):
        return {"type": "object", "properties": {k: json_schema(v) for k, v in spec.items()},
                "required": [k for k, v in spec.items() if v.required]}
    t = spec.type
    out: dict = {}
    if t in ("string", "email", "date"):
        out["type"] = "string"
        if t == "email":
            out["format"] = "email"
        if t == "date":
            out["format"] = "date"
        # lengths are checked once `ignore` has removed its characters (typed separators), so the
        # raw text may be longer: the contract states no maxLength then (the description says it)
        if spec.max_len is not None and spec.ignore is None:
            out["maxLength"] = spec.max_len
        if spec.min_len is not None:
            out["minLength"] = spec.min_len
        if spec.enum:
            out["enum"] = list(spec.enum)
        if spec.pattern:
            out["pattern"] = f"^{spec.pattern}$"
    elif t == "integer":
        out["type"] = "integer"
        if spec.minimum is not None:
            out["minimum"] = spec.minimum
        if spec.maximum is not None:
            out["maximum"] = spec.maximum
    elif t == "boolean":
        out["type"] = "boolean"
    elif t == "object":
        out = json_schema(spec.props) if spec.props is not None else {
            "type": "object", "additionalProperties": {"type": ["string", "integer"]}}
    elif t == "array":
        out = {"type": "array", "items": json_schema(spec.items)}
        if spec.min_items is not None:
            out["minItems"] = spec.min_items
        if spec.max_items is not None:
            out["maxItems"] = spec.max_items
    if spec.description:
        out["description"] = spec.description
    out.update(spec.extra)
    return out


# Shared field shapes
NAME = F("string", max_len=100, min_len=1)
REASON = F("string", max_len=1000, min_len=1)
PASSWORD = F("string", max_len=128, min_len=1)
SIGNATURE = F("object", props={"password": PASSWORD}, description="The signer's own password (R-SIG-1).")

# Response bodies the OpenAPI document declares (JSON Schema, OpenAPI 3.1 dialect).
REASON_ITEM = {"type": "object", "required": ["code", "message"],
               "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}
RECORDED = {
    "type": "object",
    "required": ["id", "counts", "not_counted_reasons"],
    "properties": {
        "id": {"type": "integer"},
        "counts": {"type": "boolean", "description": (
            "Whether the record counts: once recorded, the requirement(s) it is entered for are met. A negative "
            "test fills its kind's row (R-PT-1), a visit counseling (R-PAT-4) and, for patients who cannot get "
            "pregnant, the visit confirmation (R-CYC-3), contraception its documentation (R-CON-1); a row that "
            "does not apply to the patient is not checked. A positive test always counts: treatment stops "
            "(R-PT-4).")},
        "not_counted_reasons": {"type": "array", "items": REASON_ITEM, "description": (
            "Empty when the record counts; else the engine's reasons, with dates (a confirmation test "
            "collected before the contraception lead-in ended, R-CON-2).")},
    },
}
