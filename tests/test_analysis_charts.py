"""SVG charts: well-formed, accessible (role, title, desc with the figures) and safe with odd labels."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from usabtest.analysis.charts import ChartRow, completion_chart, nice_ticks, sus_chart, time_chart

SVG = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    return root


def test_completion_chart_states_rates_and_intervals():
    root = _parse(completion_chart([ChartRow("Find <a> & buy", 0.7, 0.39, 0.9), ChartRow("Pay", None)]))
    desc = root.find(f"{SVG}desc").text
    assert "Find <a> & buy: 70% (95% CI 39%–90%)" in desc and "Pay: no finished attempts" in desc
    assert len(root.findall(f"{SVG}rect")) == 1
    # A whisker and its two end caps, plus grid lines and the axis.
    assert len(root.findall(f"{SVG}line")) >= 3 + 5 + 1


def test_time_chart_scales_to_the_longest_interval():
    root = _parse(time_chart([ChartRow("Search", 95, 60, 150), ChartRow("Checkout", 30, 20, 45)]))
    labels = [t.text for t in root.findall(f"{SVG}text")]
    assert "2:30" in labels or "3:20" in labels  # the axis reaches past the 150 s whisker
    assert "Search: 1:35 (95% CI 1:00–2:30)" in root.find(f"{SVG}desc").text


def test_sus_chart_bins_scores_and_marks_the_mean():
    root = _parse(sus_chart([50, 52.5, 75, 100], mean=69.4))
    desc = root.find(f"{SVG}desc").text
    assert desc == "4 scores, mean 69.4; 50-59: 2, 70-79: 1, 90-100: 1."
    assert len(root.findall(f"{SVG}rect")) == 3


def test_empty_charts_still_render():
    assert "No data yet." in completion_chart([])
    assert "no scores yet" in sus_chart([])


def test_nice_ticks():
    assert nice_ticks(150) == [0, 50, 100, 150]
    assert nice_ticks(7, 4) == [0, 2, 4, 6, 8]
    assert nice_ticks(0) == [0.0, 1.0]
