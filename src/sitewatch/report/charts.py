"""Indicator charts as inline SVG: daily values, the trailing baseline, unobserved days.

Contract: :func:`series_svg` draws one :class:`~sitewatch.fusion.indicators.Series` as an
SVG bar chart: a bar per observed day (a zero is a visible tick, not a gap), grey hatching
for days not observed, orange hatching for days the imagery could not resolve, the
baseline median as a line with a band of ± one robust standard deviation, and change
points as dashed vertical lines. Pure text, no scripts, no external references.
"""

from __future__ import annotations

from html import escape

from sitewatch.fusion.indicators import Series, robust_scale

WIDTH, HEIGHT = 620, 130
PAD_L, PAD_R, PAD_T, PAD_B = 34, 8, 8, 20


def series_svg(s: Series, chart_id: str, width: int = WIDTH, height: int = HEIGHT) -> str:
    days = s.days
    n = max(1, len(days))
    iw, ih = width - PAD_L - PAD_R, height - PAD_T - PAD_B
    bw = iw / n
    vmax = max([d.value or 0.0 for d in days] + [(d.baseline_median or 0.0) + robust_scale(
        d.baseline_median or 0.0, d.baseline_mad or 0.0) for d in days if d.baseline_median is not None] + [1.0])

    def y(v: float) -> float:
        return PAD_T + ih - ih * v / vmax

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{escape(chart_id)}" '
           f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
           f'aria-label="{escape(s.label)}">',
           '<defs><pattern id="hatch-' + escape(chart_id) + '" width="4" height="4" patternUnits="userSpaceOnUse" '
           'patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="4" stroke="#bbb" stroke-width="1.5"/>'
           '</pattern><pattern id="hatchr-' + escape(chart_id) + '" width="4" height="4" '
           'patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="4" '
           'stroke="#e6a23c" stroke-width="1.5"/></pattern></defs>',
           f'<rect x="{PAD_L}" y="{PAD_T}" width="{iw}" height="{ih}" fill="#fff" stroke="#ccc"/>']
    # baseline band and line
    band_top, band_bot, line = [], [], []
    for i, d in enumerate(days):
        if d.baseline_median is None:
            continue
        x = PAD_L + (i + 0.5) * bw
        sc = robust_scale(d.baseline_median, d.baseline_mad or 0.0)
        band_top.append(f"{x:.1f},{y(d.baseline_median + sc):.1f}")
        band_bot.append(f"{x:.1f},{y(max(0.0, d.baseline_median - sc)):.1f}")
        line.append(f"{x:.1f},{y(d.baseline_median):.1f}")
    if len(line) >= 2:
        out.append(f'<polygon class="baseline-band" points="{" ".join(band_top + band_bot[::-1])}" '
                   'fill="#7aa6d6" fill-opacity="0.25"/>')
        out.append(f'<polyline class="baseline" points="{" ".join(line)}" fill="none" stroke="#1f5fbf" '
                   'stroke-width="1.5"/>')
    for i, d in enumerate(days):
        x = PAD_L + i * bw
        label = f"{d.day}: {d.status}" + ("" if d.value is None else f", {d.value:g}")
        if d.baseline_median is not None:
            label += f" (baseline median {d.baseline_median:g})"
        if d.value is None:
            fill = f"url(#hatch{'r' if d.status == 'not resolvable' else ''}-{escape(chart_id)})"
            out.append(f'<rect class="not-observed" x="{x:.1f}" y="{PAD_T}" width="{bw:.2f}" height="{ih}" '
                       f'fill="{fill}"><title>{escape(label)}</title></rect>')
            continue
        top = y(d.value)
        hgt = max(1.0, PAD_T + ih - top)
        color = "#c0392b" if (d.score or 0.0) >= 3 else "#2c3e50"
        out.append(f'<rect class="bar" x="{x + bw * 0.1:.1f}" y="{PAD_T + ih - hgt:.1f}" width="{max(0.8, bw * 0.8):.2f}" '
                   f'height="{hgt:.1f}" fill="{color}"><title>{escape(label)}</title></rect>')
    for cp in s.change_points:
        idx = next((i for i, d in enumerate(days) if d.day == cp["day"]), None)
        if idx is None:
            continue
        x = PAD_L + idx * bw
        out.append(f'<line class="change-point" x1="{x:.1f}" x2="{x:.1f}" y1="{PAD_T}" y2="{PAD_T + ih}" '
                   f'stroke="#8e44ad" stroke-dasharray="4,3"><title>level shift on {cp["day"]}</title></line>')
    top_label = f"{vmax:.0f}" if vmax >= 10 else f"{vmax:.2g}"
    out.append(f'<text x="{PAD_L - 4}" y="{PAD_T + 9}" font-size="10" text-anchor="end">{top_label}</text>')
    out.append(f'<text x="{PAD_L - 4}" y="{PAD_T + ih}" font-size="10" text-anchor="end">0</text>')
    if days:
        out.append(f'<text x="{PAD_L}" y="{height - 5}" font-size="10">{days[0].day}</text>')
        out.append(f'<text x="{width - PAD_R}" y="{height - 5}" font-size="10" text-anchor="end">{days[-1].day}</text>')
    out.append("</svg>")
    return "".join(out)
