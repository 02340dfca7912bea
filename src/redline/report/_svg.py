"""Inline SVG charts for the HTML pages (no JavaScript, no external assets)."""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

LINE_COLOURS = {"rule-out": "#c62828", "max": "#c62828", "alert": "#f9a825", "rule-in": "#6a1b9a"}
SERIES_COLOURS = {"bare": "#9e9e9e", "guarded": "#1565c0", "value": "#1565c0"}
FONT = 'font-family="system-ui,sans-serif" font-size="11"'


@dataclass
class IntervalRow:
    """One horizontal bar: a point estimate and its interval (missing means not measured)."""

    label: str
    value: float | None
    lower: float | None
    upper: float | None
    series: str = "value"


@dataclass
class Line:
    """A vertical reference line (rule-out, alert, rule-in) at `value`."""

    kind: str
    value: float


@dataclass
class Series:
    """Points (with optional intervals) and whether to draw them as a dashed line."""

    name: str
    points: list[tuple[float, float, float | None, float | None]] = field(default_factory=list)
    dashed: bool = False
    colour: str = "#1565c0"
    markers: bool = True


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def interval_chart(
    rows: Sequence[IntervalRow], lines: Sequence[Line], title: str, width: int = 640
) -> str:
    """Interval bars on a shared axis, with the reference lines drawn across every row."""
    left, right, row_h, top = 190, 20, 22, 38
    height = top + row_h * len(rows) + 28
    values = [v for r in rows for v in (r.upper, r.value) if v is not None]
    values += [ln.value for ln in lines]
    hi = max([1.0, *values]) if all(0 <= v <= 1 for v in values) else max(values or [1.0]) * 1.15
    lo = 0.0

    def x(v: float) -> float:
        return left + (width - left - right) * (v - lo) / (hi - lo or 1)

    out = [
        f'<svg class="chart" role="img" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" {FONT}>',
        f"<title>{escape(title)}</title>",
    ]
    axis_y = top + row_h * len(rows)
    for i in range(6):
        v = lo + (hi - lo) * i / 5
        out.append(
            f'<line x1="{x(v):.1f}" y1="{top - 6}" x2="{x(v):.1f}" y2="{axis_y}" stroke="#eee"/>'
            f'<text x="{x(v):.1f}" y="{axis_y + 14}" text-anchor="middle" fill="#555">'
            f"{_fmt(v)}</text>"
        )
    for j, ln in enumerate(sorted(lines, key=lambda ln: ln.value)):
        colour = LINE_COLOURS.get(ln.kind, "#000")
        label_y = top - 12 - 12 * (j % 2)  # neighbouring labels on alternate rows
        out.append(
            f'<line x1="{x(ln.value):.1f}" y1="{label_y + 3}" x2="{x(ln.value):.1f}" '
            f'y2="{axis_y}" stroke="{colour}" stroke-width="2" stroke-dasharray="4 3"/>'
            f'<text x="{x(ln.value):.1f}" y="{label_y}" text-anchor="middle" fill="{colour}">'
            f"{escape(ln.kind)} {_fmt(ln.value)}</text>"
        )
    for i, r in enumerate(rows):
        y = top + row_h * i + row_h / 2
        colour = SERIES_COLOURS.get(r.series, "#1565c0")
        out.append(
            f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" fill="#222">'
            f"{escape(r.label)}</text>"
        )
        if r.value is None or r.lower is None or r.upper is None:
            out.append(f'<text x="{left + 6}" y="{y + 4:.1f}" fill="#8e24aa">not measured</text>')
            continue
        out.append(
            f'<line x1="{x(r.lower):.1f}" y1="{y:.1f}" x2="{x(r.upper):.1f}" y2="{y:.1f}" '
            f'stroke="{colour}" stroke-width="6" stroke-linecap="round" opacity="0.45"/>'
            f'<circle cx="{x(r.value):.1f}" cy="{y:.1f}" r="4.5" fill="{colour}"/>'
        )
    out.append("</svg>")
    return "".join(out)


def xy_chart(
    series: Sequence[Series],
    title: str,
    x_label: str,
    y_label: str,
    log_x: bool = False,
    hlines: Sequence[Line] = (),
    y_max: float | None = None,
    width: int = 640,
    height: int = 300,
) -> str:
    """Points and lines on x/y axes (x optionally log10), with horizontal reference lines."""
    left, right, top, bottom = 56, 20, 20, 44
    xs = [p[0] for s in series for p in s.points]
    ys = [v for s in series for p in s.points for v in (p[1], p[3]) if v is not None]
    ys += [ln.value for ln in hlines]
    if not xs:
        xs = [1.0, 10.0]

    def tx(v: float) -> float:
        return math.log10(v) if log_x else v

    x_lo, x_hi = min(tx(v) for v in xs), max(tx(v) for v in xs)
    if x_hi == x_lo:
        x_lo, x_hi = x_lo - 1, x_hi + 1
    y_hi = y_max if y_max is not None else max([*ys, 1e-9]) * 1.1
    y_lo = 0.0

    def px(v: float) -> float:
        return left + (width - left - right) * (tx(v) - x_lo) / (x_hi - x_lo)

    def py(v: float) -> float:
        return top + (height - top - bottom) * (1 - (v - y_lo) / (y_hi - y_lo or 1))

    out = [
        f'<svg class="chart" role="img" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" {FONT}>',
        f"<title>{escape(title)}</title>",
        f'<rect x="{left}" y="{top}" width="{width - left - right}" '
        f'height="{height - top - bottom}" fill="none" stroke="#ccc"/>',
    ]
    for i in range(5):
        yv = y_lo + (y_hi - y_lo) * i / 4
        out.append(
            f'<text x="{left - 6}" y="{py(yv) + 4:.1f}" text-anchor="end" fill="#555">'
            f"{_fmt(yv)}</text>"
        )
        xv = x_lo + (x_hi - x_lo) * i / 4
        label = _fmt(10**xv) if log_x else _fmt(xv)
        xpix = left + (width - left - right) * i / 4
        out.append(
            f'<text x="{xpix:.1f}" y="{height - bottom + 14}" text-anchor="middle" fill="#555">'
            f"{label}</text>"
        )
    out.append(
        f'<text x="{(left + width - right) / 2:.1f}" y="{height - 8}" text-anchor="middle" '
        f'fill="#222">{escape(x_label)}</text>'
        f'<text x="14" y="{(top + height - bottom) / 2:.1f}" text-anchor="middle" fill="#222" '
        f'transform="rotate(-90 14 {(top + height - bottom) / 2:.1f})">{escape(y_label)}</text>'
    )
    for ln in hlines:
        colour = LINE_COLOURS.get(ln.kind, "#000")
        out.append(
            f'<line x1="{left}" y1="{py(ln.value):.1f}" x2="{width - right}" '
            f'y2="{py(ln.value):.1f}" stroke="{colour}" stroke-width="1.5" '
            f'stroke-dasharray="4 3"/><text x="{width - right - 4}" y="{py(ln.value) - 4:.1f}" '
            f'text-anchor="end" fill="{colour}">{escape(ln.kind)} {_fmt(ln.value)}</text>'
        )
    legend_y = top + 12
    for s in series:
        pts = sorted(s.points)
        if len(pts) > 1:
            path = " ".join(f"{px(p[0]):.1f},{py(p[1]):.1f}" for p in pts)
            dash = ' stroke-dasharray="6 4"' if s.dashed else ""
            out.append(
                f'<polyline points="{path}" fill="none" stroke="{s.colour}" '
                f'stroke-width="2"{dash}/>'
            )
        for xv, yv, lo, hi in pts if s.markers else []:
            if lo is not None and hi is not None:
                out.append(
                    f'<line x1="{px(xv):.1f}" y1="{py(lo):.1f}" x2="{px(xv):.1f}" '
                    f'y2="{py(hi):.1f}" stroke="{s.colour}" opacity="0.5" stroke-width="2"/>'
                )
            out.append(f'<circle cx="{px(xv):.1f}" cy="{py(yv):.1f}" r="3.5" fill="{s.colour}"/>')
        out.append(
            f'<rect x="{left + 10}" y="{legend_y - 8}" width="10" height="10" fill="{s.colour}"/>'
            f'<text x="{left + 24}" y="{legend_y + 1}" fill="#222">{escape(s.name)}</text>'
        )
        legend_y += 14
    out.append("</svg>")
    return "".join(out)
