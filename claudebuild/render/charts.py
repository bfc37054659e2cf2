"""Inline SVG bar charts for the HTML report.

Plain SVG markup drawn here keeps the report a single file with no script and no
chart library to fetch. Colours come from CSS classes, so the page's stylesheet
(and its dark mode) styles the charts too. Labels may be model-chosen paths: they
are made inert (`untrusted_text.html_text`), and shortened from the left so the file name
stays visible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from claudebuild.untrusted_text import html_text

ROW_HEIGHT = 28
BAR_HEIGHT = 18
WIDTH = 520
VALUE_WIDTH = 80


@dataclass(frozen=True)
class Bar:
    """One bar: its label, its length, the text shown after it, its CSS class and optional in-page link."""

    label: str
    value: float
    shown: str
    css_class: str = ""
    href: str = ""


def shorten(label: str, limit: int) -> str:
    """`label` cut from the left to `limit` characters, marked with an ellipsis."""
    return label if len(label) <= limit else "…" + label[-(limit - 1):]


def _row(bar: Bar, index: int, label_width: int, width: int, scale: float) -> str:
    top = index * ROW_HEIGHT
    middle = top + ROW_HEIGHT / 2
    length = max(bar.value * scale, 2.0 if bar.value > 0 else 0.0)
    label = html_text(shorten(bar.label, label_width // 7))
    row = (
        f'<g class="row"><title>{html_text(bar.label)}: {html_text(bar.shown)}</title>'
        f'<text class="label" x="{label_width - 8}" y="{middle:.1f}" text-anchor="end" dominant-baseline="central">{label}</text>'
        f'<rect class="track" x="{label_width}" y="{top + (ROW_HEIGHT - BAR_HEIGHT) / 2:.1f}" '
        f'width="{width - label_width - VALUE_WIDTH}" height="{BAR_HEIGHT}" rx="3"/>'
        f'<rect class="bar {html_text(bar.css_class)}" x="{label_width}" '
        f'y="{top + (ROW_HEIGHT - BAR_HEIGHT) / 2:.1f}" width="{length:.1f}" height="{BAR_HEIGHT}" rx="3"/>'
        f'<text class="value" x="{label_width + length + 6:.1f}" y="{middle:.1f}" dominant-baseline="central">'
        f"{html_text(bar.shown)}</text></g>"
    )
    if bar.href:
        row = f'<a href="{html_text(bar.href)}">{row}</a>'
    return row


def bar_chart(caption: str, bars: Sequence[Bar], *, label_width: int = 90, width: int = WIDTH) -> str:
    """A horizontal bar chart as an `<svg>` element `width` user units wide, bars scaled to the largest value."""
    height = max(len(bars), 1) * ROW_HEIGHT
    largest = max((bar.value for bar in bars), default=0.0)
    scale = (width - label_width - VALUE_WIDTH) / largest if largest > 0 else 0.0
    rows = "".join(_row(bar, index, label_width, width, scale) for index, bar in enumerate(bars))
    if not bars:
        rows = (f'<text class="empty" x="{width / 2}" y="{ROW_HEIGHT / 2}" text-anchor="middle" '
                'dominant-baseline="central">none</text>')
    label = html_text(caption)
    return (
        f'<svg class="chart" role="img" aria-label="{label}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}"><title>{label}</title>{rows}</svg>'
    )
