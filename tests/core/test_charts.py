"""core.templatetags.charts: the bar chart as a picture (SVG) and as data (a hidden table)."""

import re
from xml.etree import ElementTree

import pytest
from django.template import Context, Template

from core.templatetags.charts import VIEW_HEIGHT, ZERO_STUB, axis_ticks

SVG = "{http://www.w3.org/2000/svg}"


def render(data, **options) -> str:
    arguments = " ".join(f'{key}="{value}"' for key, value in options.items())
    template = Template("{% load charts %}{% bar_chart data title=title " + arguments + " %}")
    return template.render(Context({"data": data, "title": "Clicks per day"}))


def svg_of(html: str) -> ElementTree.Element:
    return ElementTree.fromstring(re.search(r"<svg.*</svg>", html, re.S).group(0))


def bars_of(html: str) -> list[dict]:
    return [
        {**rect.attrib, "title": rect.find(f"{SVG}title").text}
        for rect in svg_of(html).iter(f"{SVG}rect")
    ]


def days(*values: int) -> list[dict]:
    return [{"day": f"2026-11-{i + 1:02d}", "clicks": v} for i, v in enumerate(values)]


def test_bar_heights_scale_with_the_values_against_a_round_axis():
    html = render(days(2, 4, 8), label="day", value="clicks", label_format="date")

    bars = bars_of(html)
    heights = [float(bar["height"]) for bar in bars]
    assert heights == [25, 50, 100]  # axis 0..8: 8 fills the plot, 2 is a quarter
    for bar in bars:  # each bar stands on the baseline
        assert float(bar["y"]) + float(bar["height"]) == VIEW_HEIGHT
    assert [bar["title"] for bar in bars] == ["1 Nov: 2", "2 Nov: 4", "3 Nov: 8"]


def test_the_axis_ends_on_a_round_number_above_the_peak():
    html = render(days(3, 7), label="day", value="clicks")

    assert [float(bar["height"]) for bar in bars_of(html)] == [37.5, 87.5]  # axis 0..8
    labels = re.findall(r'class="chart-y-label" style="bottom: ([\d.]+)%">([\d,]+)<', html)
    assert labels == [("0", "0"), ("25", "2"), ("50", "4"), ("75", "6"), ("100", "8")]


@pytest.mark.parametrize(
    ("peak", "ticks"),
    [(0, [0, 1]), (1, [0, 1]), (3, [0, 1, 2, 3]), (7, [0, 2, 4, 6, 8]), (10, [0, 5, 10]),
     (99, [0, 50, 100]), (1234, [0, 500, 1000, 1500]), (0.3, [0, 0.1, 0.2, 0.3])],
)  # fmt: skip
def test_axis_ticks_are_round_and_cover_the_peak(peak, ticks):
    assert axis_ticks(peak) == ticks


def test_zero_values_are_hairline_stubs_and_all_zeros_do_not_divide_by_zero():
    html = render(days(0, 0, 0), label="day", value="clicks")

    bars = bars_of(html)
    assert len(bars) == 3
    assert all(bar["class"] == "chart-bar chart-bar-zero" for bar in bars)
    assert all(float(bar["height"]) == ZERO_STUB for bar in bars)
    assert 'aria-label="Clicks per day: none."' in html


def test_an_empty_series_says_so_instead_of_drawing_an_empty_frame():
    for data in ([], None):
        html = render(data)

        assert "<svg" not in html
        assert "No data yet." in html
        assert "Clicks per day" in html


def test_the_chart_is_labelled_and_its_data_is_a_table_for_screen_readers():
    html = render(
        days(1, 5, 0),
        label="day",
        value="clicks",
        label_name="Day",
        value_name="Clicks",
        label_format="date",
    )

    svg = svg_of(html)
    summary = "Clicks per day: 6 in total, most on 2 Nov (5)."
    assert svg.get("role") == "img"
    assert svg.get("aria-label") == summary
    assert svg.find(f"{SVG}title").text == summary
    assert 'class="chart-y" aria-hidden="true"' in html
    assert 'class="chart-x" aria-hidden="true"' in html
    table = re.search(r'<table class="chart-table">.*</table>', html).group(0)
    assert "<caption>Clicks per day</caption>" in table
    assert '<th scope="col">Day</th><th scope="col">Clicks</th>' in table
    rows = re.findall(r'<tr><th scope="row">([^<]+)</th><td>([^<]+)</td></tr>', table)
    assert rows == [("1 Nov", "1"), ("2 Nov", "5"), ("3 Nov", "0")]


def test_labels_and_titles_are_escaped():
    html = render([("<b>x</b>", 1)])

    assert "<b>x</b>" not in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html


def test_pairs_work_as_well_as_mappings_and_long_series_get_a_few_x_labels():
    html = render([(f"d{i}", i) for i in range(30)])

    assert len(bars_of(html)) == 30
    assert re.findall(r'class="chart-x-label"[^>]*>([^<]+)<', html) == [
        "d0", "d7", "d14", "d22", "d29",
    ]  # fmt: skip
    assert 'viewBox="0 0 300 100"' in html
