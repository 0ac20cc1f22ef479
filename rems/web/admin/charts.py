"""Server-rendered bar charts: geometry for inline SVG (no script, no style attributes: CSP)."""

from __future__ import annotations

from dataclasses import dataclass

WIDTH, HEIGHT = 560, 200
TOP, BOTTOM, LEFT, RIGHT = 18, 34, 8, 8


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: str
    label_x: float
    zero: bool


def bar_chart(series: list[tuple[str, float]], unit: str = "") -> dict:
    """Bars scaled to the largest value; labels under every bar (every other one when crowded)."""
    n = max(1, len(series))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / n
    top = max((v for _, v in series), default=0) or 1
    step = 1 if n <= 12 else 2
    bars = []
    for i, (label, value) in enumerate(series):
        h = plot_h * value / top
        x = LEFT + i * slot + slot * 0.15
        shown = f"{value:g}{unit}"
        bars.append(
            Bar(
                x=round(x, 1),
                y=round(TOP + plot_h - h, 1),
                width=round(slot * 0.7, 1),
                height=round(h, 1),
                label=label if i % step == 0 else "",
                value=shown,
                label_x=round(x + slot * 0.35, 1),
                zero=value == 0,
            )
        )
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "bars": bars,
        "baseline": TOP + plot_h,
        "label_y": TOP + plot_h + 16,
        "left": LEFT,
        "right": WIDTH - RIGHT,
    }
