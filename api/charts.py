"""Server-rendered SVG charts (no script), each drawn from figures already rounded for display.

Colours are from the NHS palette and safe for colour-blind readers; every mark also differs by shape,
so a chart still reads when printed in black and white. A data table is always shown beside a chart.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

from markupsafe import Markup

NHS_BLUE = "#005eb8"
NHS_DARK = "#212b32"
NHS_GREY = "#768692"
NHS_PALE = "#d8dde0"
NHS_ORANGE = "#ed8b00"

MAX_SCORE = 4.0


@dataclass(frozen=True)
class BenchmarkRow:
    label: str
    own: float | None
    q1: float | None
    median: float | None
    q3: float | None


def _fmt(value: float) -> str:
    # Coordinates are whole or half pixels: they carry no more precision than the figures shown.
    return f"{round(value * 2) / 2:g}"


def _svg_start(width: int, height: int, title: str, title_id: str) -> list[str]:
    """A chart's opening tag and its title, which screen readers announce as the image's name."""
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-labelledby="{title_id}" class="app-chart">',
        f'<title id="{title_id}">{escape(title)}</title>',
    ]


def benchmark_chart(rows: list[BenchmarkRow], title: str, *, width: int = 640) -> str:
    """One row per section: the peers' middle half as a bar, their median as a line, the board as a diamond."""
    label_width, right_pad, row_height, top, bottom = 250, 20, 38, 30, 40
    plot_width = width - label_width - right_pad
    height = top + row_height * len(rows) + bottom

    def x(score: float) -> float:
        return label_width + score / MAX_SCORE * plot_width

    parts = _svg_start(width, height, title, "chart-title")
    for level in range(5):
        gx = _fmt(x(level))
        parts.append(
            f'<line x1="{gx}" y1="{top - 8}" x2="{gx}" y2="{height - bottom + 4}" stroke="{NHS_PALE}" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{gx}" y="{height - bottom + 20}" font-size="13" text-anchor="middle" fill="{NHS_DARK}">{level}</text>'
        )
    parts.append(
        f'<text x="{_fmt(label_width + plot_width / 2)}" y="{height - 6}" font-size="13" text-anchor="middle" '
        f'fill="{NHS_DARK}">Score (0 not started to 4 embedded)</text>'
    )
    for index, row in enumerate(rows):
        cy = top + index * row_height + row_height / 2
        lines = _wrapped(row.label)
        first_y = cy + 4 - 8 * (len(lines) - 1)
        parts.append(
            f'<text x="{label_width - 8}" y="{_fmt(first_y)}" font-size="13" text-anchor="end" fill="{NHS_DARK}">'
            + "".join(
                f'<tspan x="{label_width - 8}" dy="{0 if i == 0 else 16}">{escape(line)}</tspan>'
                for i, line in enumerate(lines)
            )
            + "</text>"
        )
        if row.q1 is not None and row.q3 is not None:
            parts.append(
                f'<rect x="{_fmt(x(row.q1))}" y="{_fmt(cy - 7)}" width="{_fmt(max(x(row.q3) - x(row.q1), 2))}" height="14" '
                f'fill="{NHS_PALE}" stroke="{NHS_GREY}" stroke-width="1"/>'
            )
        if row.median is not None:
            mx = _fmt(x(row.median))
            parts.append(
                f'<line x1="{mx}" y1="{_fmt(cy - 10)}" x2="{mx}" y2="{_fmt(cy + 10)}" stroke="{NHS_DARK}" stroke-width="3"/>'
            )
        if row.own is not None:
            ox, oy = x(row.own), cy
            parts.append(
                f'<path d="M {_fmt(ox)} {_fmt(oy - 8)} L {_fmt(ox + 8)} {_fmt(oy)} L {_fmt(ox)} {_fmt(oy + 8)} '
                f'L {_fmt(ox - 8)} {_fmt(oy)} Z" fill="{NHS_BLUE}" stroke="#ffffff" stroke-width="1.5"/>'
            )
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class TrendPoint:
    label: str
    own: float | None
    peer_median: float | None


def trend_chart(points: list[TrendPoint], title: str, *, width: int = 640, height: int = 260) -> str:
    """The board's score by year (solid line, circles) beside the peer median (dashed line, squares)."""
    # Right margin: the last year's label ("2026/27", about 50 px at 13 px) is centred on the last
    # point, so half of it must fit outside the plot.
    left, right, top, bottom = 50, 40, 20, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    count = max(len(points), 1)

    def x(i: int) -> float:
        return left + (plot_w / 2 if count == 1 else i * plot_w / (count - 1))

    def y(score: float) -> float:
        return top + plot_h - score / MAX_SCORE * plot_h

    parts = _svg_start(width, height, title, "trend-title")
    for level in range(5):
        gy = _fmt(y(level))
        parts.append(f'<line x1="{left}" y1="{gy}" x2="{width - right}" y2="{gy}" stroke="{NHS_PALE}"/>')
        parts.append(
            f'<text x="{left - 10}" y="{_fmt(y(level) + 4)}" font-size="13" text-anchor="end" fill="{NHS_DARK}">{level}</text>'
        )
    for i, point in enumerate(points):
        parts.append(
            f'<text x="{_fmt(x(i))}" y="{height - 12}" font-size="13" text-anchor="middle" fill="{NHS_DARK}">{escape(point.label)}</text>'
        )
    for attr, colour, dash, marker in (
        ("peer_median", NHS_GREY, ' stroke-dasharray="6 4"', "square"),
        ("own", NHS_BLUE, "", "circle"),
    ):
        coords = [(x(i), y(getattr(p, attr))) for i, p in enumerate(points) if getattr(p, attr) is not None]
        if len(coords) > 1:
            path = " ".join(
                f"{'M' if n == 0 else 'L'} {_fmt(cx)} {_fmt(cy)}" for n, (cx, cy) in enumerate(coords)
            )
            parts.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="3"{dash}/>')
        for cx, cy in coords:
            if marker == "circle":
                parts.append(
                    f'<circle cx="{_fmt(cx)}" cy="{_fmt(cy)}" r="6" fill="{colour}" stroke="#ffffff" stroke-width="1.5"/>'
                )
            else:
                parts.append(
                    f'<rect x="{_fmt(cx - 5)}" y="{_fmt(cy - 5)}" width="10" height="10" fill="{colour}" stroke="#ffffff" stroke-width="1.5"/>'
                )
    parts.append("</svg>")
    return "".join(parts)


def spread_chart(counts: list[tuple[str, int]], title: str, *, width: int = 720) -> str:
    """How many members chose each level, as large horizontal bars for a projector: one row per
    level (its name beside it), the count written at the end of each bar."""
    label_width, right_pad, row_height, top, bottom = 260, 60, 44, 10, 10
    plot_width = width - label_width - right_pad
    height = top + row_height * len(counts) + bottom
    most = max([count for _label, count in counts] + [1])
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-labelledby="spread-chart-title" class="app-chart app-chart--spread">',
        f'<title id="spread-chart-title">{escape(title)}</title>',
    ]
    for index, (label, count) in enumerate(counts):
        cy = top + index * row_height + row_height / 2
        bar = count / most * plot_width
        parts.append(
            f'<text x="{label_width - 12}" y="{_fmt(cy + 7)}" font-size="20" text-anchor="end" fill="{NHS_DARK}">'
            f"{escape(_short(label, 24))}</text>"
        )
        parts.append(
            f'<rect x="{label_width}" y="{_fmt(cy - 14)}" width="{_fmt(max(bar, 2))}" height="28" '
            f'fill="{NHS_BLUE if count else NHS_PALE}"/>'
        )
        parts.append(
            f'<text x="{_fmt(label_width + max(bar, 2) + 10)}" y="{_fmt(cy + 7)}" font-size="20" '
            f'font-weight="bold" fill="{NHS_DARK}">{count}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _wrapped(label: str, limit: int = 34) -> list[str]:
    """A label on one line, or two broken at a space (a third line would crowd the next row): the
    whole title is read, not cut off as "Focus on personal values and beha…"."""
    if len(label) <= limit:
        return [label]
    cut = label.rfind(" ", 0, limit + 1)
    if cut <= 0:
        return [_short(label, limit)]
    return [label[:cut], _short(label[cut + 1 :], limit)]


def _short(label: str, limit: int = 34) -> str:
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "…"


def peer_chart(result: Any) -> Markup | None:
    """The board beside a peer group, section by section (a Benchmark); None when the group is
    too small to show."""
    if result.suppressed:
        return None
    rows = [BenchmarkRow(s.title, s.own, s.stats.q1, s.stats.median, s.stats.q3) for s in result.sections]
    return Markup(benchmark_chart(rows, f"Your board compared with {result.group_label.lower()}"))
