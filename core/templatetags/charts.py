"""Charts drawn on the server: inline SVG, no JavaScript, no chart library, readable without
the picture.

    {% load charts %}
    {% bar_chart stats.by_day label="day" value="clicks" title="Clicks per day, last 30 days" %}

`bar_chart` takes a sequence of mappings (or of `(label, value)` pairs) and returns a <figure>:

- the bars, as an SVG whose viewBox is stretched to the box that holds it
  (`preserveAspectRatio="none"`): one drawing fills a phone or a desktop without resampling;
- the axis labels as HTML around the SVG, not SVG <text>: text inside a stretched SVG would be
  stretched too, and at 390 px a 720-unit-wide drawing would shrink 11 px labels to 5 px;
- for assistive technology: `role="img"` with a <title> and an aria-label that sum the data up,
  plus a visually hidden <table> of every value (the picture's labels are aria-hidden).

The y axis starts at 0 and ends at a round number (at most 4 steps of 1, 2 or 5 times a power of
ten), so bar heights compare honestly. Zero values get a faint stub so each slot stays visible;
an empty sequence is a short "No data" note instead of an empty frame.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from django import template
from django.utils.dateformat import format as format_date
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import slugify

register = template.Library()

# The drawing's own coordinate system (stretched by CSS to the real box).
VIEW_HEIGHT = 100.0
SLOT_WIDTH = 10.0  # per bar, in view units
BAR_RATIO = 0.72  # bar width / slot width: the rest is the gap
ZERO_STUB = 0.8  # view units: a zero bar is a hairline, not nothing
MAX_TICKS = 4  # gridlines above the baseline
MAX_X_LABELS = 5


@dataclass(frozen=True)
class Bar:
    label: str  # as the caller gave it (e.g. "2026-11-25")
    text: str  # as shown (e.g. "25 Nov")
    value: float
    x: float
    y: float
    width: float
    height: float

    @property
    def is_zero(self) -> bool:
        return self.value == 0


@dataclass(frozen=True)
class Tick:
    value: float
    y: float  # view units from the top
    percent: float  # from the bottom, for the HTML label


def axis_ticks(maximum: float) -> list[float]:
    """0 up to the smallest round number ≥ `maximum`, in at most MAX_TICKS equal steps of 1, 2
    or 5 times a power of ten: 7 → [0, 2, 4, 6, 8], 10 → [0, 5, 10], 0 → [0, 1]. Integer data
    gets integer steps."""
    if maximum <= 0:
        return [0, 1]
    rough = maximum / MAX_TICKS
    magnitude = 10 ** math.floor(math.log10(rough))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= rough)
    if maximum == int(maximum):
        step = max(step, 1)
    count = math.ceil(maximum / step - 1e-9)
    return [_clean(step * i) for i in range(count + 1)]


def bar_geometry(
    points: Sequence[tuple[str, float]], *, label_format: str | None = None
) -> tuple[list[Bar], list[Tick]]:
    """The bars and gridlines of `points` in view units (0..len*SLOT_WIDTH by 0..VIEW_HEIGHT)."""
    ticks = axis_ticks(max((value for _, value in points), default=0))
    top = ticks[-1]
    gap = SLOT_WIDTH * (1 - BAR_RATIO) / 2
    bars = []
    for index, (label, value) in enumerate(points):
        height = VIEW_HEIGHT * value / top if value > 0 else ZERO_STUB
        bars.append(
            Bar(
                label=label,
                text=_label_text(label, label_format),
                value=value,
                x=_clean(index * SLOT_WIDTH + gap),
                y=_clean(VIEW_HEIGHT - height),
                width=_clean(SLOT_WIDTH * BAR_RATIO),
                height=_clean(height),
            )
        )
    return bars, [
        Tick(value=t, y=_clean(VIEW_HEIGHT * (1 - t / top)), percent=_clean(100 * t / top))
        for t in ticks
    ]


@register.simple_tag
def bar_chart(
    data: Iterable[Mapping[str, Any] | Sequence[Any]] | None,
    *,
    title: str,
    label: str = "label",
    value: str = "value",
    label_name: str = "",
    value_name: str = "",
    label_format: str | None = None,
    chart_id: str = "",
    show_title: bool = True,
) -> SafeString:
    """A bar chart of `data` (see the module docstring). `label`/`value` name the keys of each
    mapping; `label_name`/`value_name` head the hidden table's columns (default: the keys,
    capitalised); `label_format="date"` shows ISO dates as "25 Nov" (None: labels as given);
    `show_title=False` leaves the visible caption out, for a page whose heading already says it
    (the SVG and the table keep the title)."""
    points = _points(data, label, value)
    chart_id = chart_id or slugify(title)[:40] or "chart"
    caption = (
        format_html('<figcaption class="chart-title">{}</figcaption>', title) if show_title else ""
    )
    if not points:
        return format_html(
            '<figure class="chart chart-empty" id="{}">{}'
            '<p class="chart-empty-note">No data yet.</p></figure>',
            chart_id,
            caption,
        )
    bars, ticks = bar_geometry(points, label_format=label_format)
    width = _clean(len(bars) * SLOT_WIDTH)
    summary = _summary(title, bars)
    return format_html(
        '<figure class="chart" id="{id}">{caption}'
        '<div class="chart-frame">'
        '<div class="chart-y" aria-hidden="true">{y_labels}</div>'
        '<div class="chart-plot">'
        '<svg class="chart-svg" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}"'
        ' preserveAspectRatio="none" role="img" aria-label="{summary}" focusable="false">'
        "<title>{summary}</title>"
        '<g class="chart-grid">{grid}</g>'
        '<g class="chart-bars">{rects}</g>'
        "</svg>"
        '<div class="chart-x" aria-hidden="true">{x_labels}</div>'
        "</div></div>"
        '<div class="chart-data"><table class="chart-table"><caption>{title}</caption>'
        '<thead><tr><th scope="col">{label_name}</th><th scope="col">{value_name}</th></tr>'
        "</thead><tbody>{rows}</tbody></table></div>"
        "</figure>",
        id=chart_id,
        caption=caption,
        title=title,
        summary=summary,
        width=width,
        height=_clean(VIEW_HEIGHT),
        y_labels=format_html_join(
            "",
            '<span class="chart-y-label" style="bottom: {}%">{}</span>',
            ((tick.percent, _number(tick.value)) for tick in ticks),
        ),
        grid=format_html_join(
            "",
            '<line class="chart-gridline{}" x1="0" x2="{}" y1="{}" y2="{}"'
            ' vector-effect="non-scaling-stroke"/>',
            ((" chart-baseline" if t.value == 0 else "", width, t.y, t.y) for t in ticks),
        ),
        rects=format_html_join(
            "",
            '<rect class="chart-bar{}" x="{}" y="{}" width="{}" height="{}">'
            "<title>{}: {}</title></rect>",
            (
                (
                    " chart-bar-zero" if b.is_zero else "",
                    b.x,
                    b.y,
                    b.width,
                    b.height,
                    b.text,
                    _number(b.value),
                )
                for b in bars
            ),
        ),
        x_labels=format_html_join(
            "",
            '<span class="chart-x-label" style="left: {}%">{}</span>',
            (
                (_clean(100 * (i + 0.5) / len(bars)), bars[i].text)
                for i in _x_label_indexes(len(bars))
            ),
        ),
        label_name=label_name or label.replace("_", " ").capitalize(),
        value_name=value_name or value.replace("_", " ").capitalize(),
        rows=format_html_join(
            "",
            '<tr><th scope="row">{}</th><td>{}</td></tr>',
            ((b.text, _number(b.value)) for b in bars),
        ),
    )


def _points(
    data: Iterable[Mapping[str, Any] | Sequence[Any]] | None, label: str, value: str
) -> list[tuple[str, float]]:
    points = []
    for item in data or ():
        if isinstance(item, Mapping):
            raw_label, raw_value = item[label], item[value]
        else:
            raw_label, raw_value = item
        points.append((str(raw_label), max(float(raw_value or 0), 0.0)))
    return points


def _summary(title: str, bars: list[Bar]) -> str:
    total = sum(bar.value for bar in bars)
    if total == 0:
        return f"{title}: none."
    peak = max(bars, key=lambda bar: bar.value)
    return f"{title}: {_number(total)} in total, most on {peak.text} ({_number(peak.value)})."


def _x_label_indexes(count: int) -> list[int]:
    """First, last, and evenly spaced ones between: at most MAX_X_LABELS, never crowded."""
    if count <= MAX_X_LABELS:
        return list(range(count))
    step = (count - 1) / (MAX_X_LABELS - 1)
    return sorted({round(i * step) for i in range(MAX_X_LABELS)})


def _label_text(label: str, label_format: str | None) -> str:
    if label_format == "date":
        try:
            return format_date(date.fromisoformat(label), "j M")
        except ValueError:
            return label
    return label


def _number(value: float) -> str:
    return f"{int(value):,}" if value == int(value) else f"{value:,.2f}"


def _clean(number: float) -> float | int:
    """Short attribute values: 12 rather than 12.000000000000002."""
    rounded = round(number, 3)
    return int(rounded) if rounded == int(rounded) else rounded
