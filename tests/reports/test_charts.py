"""The server-rendered SVG charts: what a reader sees must fit inside the picture."""

from __future__ import annotations

import re

from api.charts import TrendPoint, trend_chart

# Digits and "/" in the charts' 13 px sans-serif are about 0.56 em wide: 7.3 px.
CHARACTER_WIDTH = 13 * 0.56


def test_every_year_label_of_the_trend_chart_fits_inside_it() -> None:
    points = [TrendPoint(f"20{y}/{y + 1}", 2.0, 2.1) for y in range(22, 27)]
    svg = trend_chart(points, "Overall score by year", width=640)
    width = float(re.search(r'viewBox="0 0 ([\d.]+) ', svg)[1])  # type: ignore[index]
    labels = re.findall(r'<text x="([\d.]+)"[^>]*text-anchor="middle"[^>]*>(20\d\d/\d\d)</text>', svg)
    assert [label for _x, label in labels] == [p.label for p in points]
    for x, label in labels:
        half = len(label) * CHARACTER_WIDTH / 2
        assert float(x) - half >= 0 and float(x) + half <= width, f"{label} at x={x} is cut off"
