"""Small inline SVG charts, drawn by hand so a report is one self-contained file that works offline."""

from __future__ import annotations

from html import escape

# Colour-blind-safe palette (Okabe–Ito), one colour per series.
MAX_LABELS = 6
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")


def _y_range(values: list[float]) -> tuple[float, float]:
    """From a round ten below the lowest value up to 100, so small movements stay visible."""
    low = min(values, default=0.0)
    return (max(0.0, (low // 10) * 10 - (10 if low % 10 < 2 else 0)), 100.0)


def trend_chart(title: str, runs: list[str], series: dict[str, list[float | None]], width: int = 520, height: int = 220) -> str:
    """A line chart of several series over runs (x: run, y: score); gaps where a series has no value."""
    left, right, top, bottom = 44, 130, 24, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for points in series.values() for v in points if v is not None]
    low, high = _y_range(values)

    def x(i: int) -> float:
        return left + (plot_w * i / (len(runs) - 1) if len(runs) > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h * (1 - (v - low) / ((high - low) or 1))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
             f"<title>{escape(title)}</title>",
             f'<text x="{left}" y="14" class="chart-title">{escape(title)}</text>']
    for tick in range(int(low), int(high) + 1, 10 if high - low <= 50 else 20):
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" class="grid"/>'
                     f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" class="tick">{tick}</text>')
    # At most about MAX_LABELS run labels on the axis, so a long history stays legible (every point keeps its tooltip).
    label_every = max(1, -(-len(runs) // MAX_LABELS))
    for i, run in enumerate(runs):
        last = len(runs) - 1
        if i != last and (i % label_every or last - i < label_every):  # the last run's label always shows
            continue
        parts.append(f'<text x="{x(i):.1f}" y="{height - bottom + 16}" text-anchor="middle" class="tick">{escape(short_run(run))}</text>')
    for n, (name, points) in enumerate(series.items()):
        colour = PALETTE[n % len(PALETTE)]
        for segment in _segments(points):
            coords = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in segment)
            parts.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for i, v in enumerate(points):
            if v is not None:
                parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}"><title>{escape(name)} {escape(runs[i])}: {v:.2f}</title></circle>')
        legend_y = top + 14 * n + 6
        parts.append(f'<line x1="{width - right + 10}" x2="{width - right + 26}" y1="{legend_y}" y2="{legend_y}" stroke="{colour}" stroke-width="3"/>'
                     f'<text x="{width - right + 30}" y="{legend_y + 4}" class="legend">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _segments(points: list[float | None]) -> list[list[tuple[int, float]]]:
    segments: list[list[tuple[int, float]]] = [[]]
    for i, v in enumerate(points):
        if v is None:
            segments.append([])
        else:
            segments[-1].append((i, v))
    return [s for s in segments if len(s) > 1]


def short_run(run_id: str) -> str:
    """A run id as a short axis label: `20261122T103936…Z` → `11-22 10:39`."""
    if len(run_id) >= 13 and run_id[8] == "T" and run_id[:8].isdigit():
        return f"{run_id[4:6]}-{run_id[6:8]} {run_id[9:11]}:{run_id[11:13]}"
    return run_id[:12]
