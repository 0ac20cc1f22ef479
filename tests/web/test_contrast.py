"""Colour contrast of the stylesheet's colour pairs (WCAG 2.1 AA 1.4.3 and 1.4.11).

The colours are read from rems/static/css/app.css and roles.css, so a changed colour is checked as
it is. Text needs 4.5:1 against its background (all text here is normal size or small bold);
the bars and borders that show a state (worklist urgency, timeline kind, checklist state, form
fields, focus ring) need 3:1 against what is next to them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS_DIR = Path(__file__).resolve().parents[2] / "rems" / "static" / "css"
CSS = (CSS_DIR / "app.css").read_text() + "\n" + (CSS_DIR / "roles.css").read_text()
VARS = dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{3,6})\s*;", CSS))


def hex_rgb(colour: str) -> tuple[float, float, float]:
    colour = colour.lstrip("#")
    if len(colour) == 3:
        colour = "".join(c * 2 for c in colour)
    return tuple(int(colour[i:i + 2], 16) / 255 for i in (0, 2, 4))


def luminance(colour: str) -> float:
    def channel(c):
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in hex_rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def ratio(a: str, b: str) -> float:
    hi, lo = sorted((luminance(resolve(a)), luminance(resolve(b))), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def resolve(value: str) -> str:
    value = value.strip()
    if value in ("#fff", "white"):
        return "#ffffff"
    m = re.fullmatch(r"var\(--([\w-]+)\)", value)
    if m:
        assert m.group(1) in VARS, f"--{m.group(1)} is not defined in app.css"
        return VARS[m.group(1)]
    assert re.fullmatch(r"#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}", value), value
    return value


def rules():
    """(selector, {property: value}) of every rule, media queries flattened."""
    body = re.sub(r"/\*.*?\*/", "", CSS, flags=re.S)
    for selector, block in re.findall(r"([^{}]+)\{([^{}]*)\}", body):
        props = dict((k.strip(), v.strip()) for k, v in re.findall(r"([\w-]+)\s*:\s*([^;]+)", block))
        yield selector.strip(), props


BACKGROUNDS = ["bg", "surface", "info-bg", "ok-bg", "warn-bg", "bad-bg"]

# Text on the backgrounds it is shown on (inherited colours, so not in one rule)
TEXT_PAIRS = (
    [("var(--ink)", f"var(--{bg})") for bg in BACKGROUNDS]
    + [("var(--muted)", f"var(--{bg})") for bg in BACKGROUNDS]  # hints, details, timeline dates
    + [("var(--brand)", f"var(--{bg})") for bg in BACKGROUNDS]  # links inside cards and alerts
    + [("var(--bad)", "var(--surface)"), ("var(--bad)", "var(--bg)")]  # error messages, error summary links
    + [("#ffffff", "var(--brand)"), ("#ffffff", "var(--brand-dark)")]  # header links, buttons
    + [("var(--ink)", "var(--focus)")]  # the skip link
)


@pytest.mark.parametrize("fg, bg", TEXT_PAIRS)
def test_text_on_its_backgrounds_is_at_least_4_5(fg, bg):
    assert ratio(fg, bg) >= 4.5, f"{fg} on {bg}: {ratio(fg, bg):.2f}:1"


def test_every_rule_with_its_own_text_and_background_is_at_least_4_5():
    checked = 0
    for selector, props in rules():
        colour = props.get("color")
        background = props.get("background") or props.get("background-color")
        if not colour or not background or "currentColor" in colour:
            continue
        if not re.fullmatch(r"var\(--[\w-]+\)|#[0-9a-fA-F]{3,6}|#fff", background):
            continue
        checked += 1
        found = ratio(colour, background)
        assert found >= 4.5, f"{selector}: {colour} on {background}: {found:.2f}:1"
    assert checked >= 8  # badges, buttons, checklist icons, skip link...


def test_state_bars_and_borders_are_at_least_3_to_1():
    """Worklist urgency bars, timeline kinds and checklist states: a colour that marks a state must
    be seen (1.4.11), even though the same state is always in the text too (1.4.1)."""
    checked = 0
    for selector, props in rules():
        if not re.search(r"worklist__row--b|timeline__item--|checklist__item--(met|unmet)", selector):
            continue
        for prop in ("border-left-color", "box-shadow"):
            if prop not in props:
                continue
            colour = props[prop].split()[-1]
            if colour == "var(--line)":  # "nothing to do" rows: a neutral rule, no state to see
                continue
            for bg in ("var(--surface)", "var(--bg)"):
                checked += 1
                assert ratio(colour, bg) >= 3, f"{selector} {prop} {colour} on {bg}: {ratio(colour, bg):.2f}:1"
    assert checked >= 10


def test_form_fields_and_focus_ring_are_at_least_3_to_1():
    field_border = next(props["border"] for sel, props in rules() if sel.startswith('input[type="text"]'))
    assert ratio(field_border.split()[-1], "var(--surface)") >= 3
    # the focus ring is yellow with a dark halo: one of the two stands out on every background
    for bg in BACKGROUNDS + ["brand"]:
        assert max(ratio("var(--focus)", f"var(--{bg})"), ratio("var(--ink)", f"var(--{bg})")) >= 3, bg
