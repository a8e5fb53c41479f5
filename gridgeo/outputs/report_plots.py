"""The report's plots as inline SVG written directly: grid households with the band marked, Polsby-Popper compactness, walk minutes with the limit.

Each plot is a few dozen SVG elements (bars, lines, ticks, a legend) laid out
here, with the labels as ``<text>`` that the browser draws in its own fonts, so
Chinese labels need no font on the machine that writes the report.  The
elements that carry meaning have ids (``hist-band``, ``hist-bar-in-band-0``,
``pp-mean``…) so a reader or a test can find them.
"""

from __future__ import annotations

import math
from html import escape

import numpy as np
import pandas as pd

# plot labels in the report's language
_PLOT: dict[str, dict[str, str]] = {
    "households": {"zh": "户数", "en": "households"},
    "grids": {"zh": "网格数", "en": "grids"},
    "band": {"zh": "区间 {low}–{high}", "en": "band {low}-{high}"},
    "in_band": {"zh": "在区间内", "en": "in band"},
    "outside": {"zh": "区间外", "en": "outside the band"},
    "pp": {"zh": "Polsby-Popper 紧凑度", "en": "Polsby-Popper"},
    "mean": {"zh": "均值 {v:.2f}", "en": "mean {v:.2f}"},
    "min": {"zh": "最小 {v:.2f}", "en": "min {v:.2f}"},
    "empty": {"zh": "没有网格", "en": "no grids"},
    "tail_below": {"zh": "← 另有 {n} 个网格少于 {edge} 户（最少 {v}）", "en": "<- {n} more below {edge} (min {v})"},
    "tail_above": {"zh": "另有 {n} 个网格多于 {edge} 户（最多 {v}）→", "en": "{n} more above {edge} (max {v}) ->"},
    "walk": {"zh": "步行时间（分钟）", "en": "walk (minutes)"},
    "limit": {"zh": "{m:g} 分钟", "en": "{m:g} minutes"},
}

#: the drawing: 700 × 320 px, the axes' box inside the margins
WIDTH, HEIGHT = 700, 320
LEFT, RIGHT, TOP, BOTTOM = 62, 16, 44, 50
FONT_PX = 12
#: fonts named first for Chinese labels; the browser falls back to its own
FONT_FAMILY = "'Noto Sans CJK SC','Source Han Sans SC','Microsoft YaHei','PingFang SC','WenQuanYi Micro Hei',sans-serif"
AXIS_COLOUR = "#333"


def _numbers(frame, column: str) -> np.ndarray:
    if frame is None or column not in frame:
        return np.zeros(0)
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    return values[np.isfinite(values)]


def _polsby_popper(grids) -> np.ndarray:
    if grids is None or not len(grids):
        return np.zeros(0)
    if "polsby_popper" in grids:
        return _numbers(grids, "polsby_popper")
    from ..metrics import grid_metrics

    return grid_metrics(grids, band=(0, 0))["polsby_popper"].to_numpy(dtype=float)


def _plot_labels(lang: str) -> dict[str, str]:
    """Plot labels in ``lang`` (``"en"`` is plain ASCII)."""
    return {key: value[lang] for key, value in _PLOT.items()}


# -- drawing -------------------------------------------------------------------------------------


def _f(value: float) -> str:
    """A coordinate with two decimals at most, without trailing zeros.

    >>> _f(12.0), _f(3.14159), _f(-0.004)
    ('12', '3.14', '0')
    """
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _text_width(text: str, size: float = FONT_PX) -> float:
    """About how wide ``text`` is drawn, in px (wide characters one em, others 0.55 em)."""
    return sum(size if ord(ch) >= 0x2E80 else 0.55 * size for ch in text)


def _nice_step(span: float, target: int, *, integer: bool = False) -> float:
    """A round tick step (1, 2, 2.5 or 5 × 10^k) giving about ``target`` ticks over ``span``.

    >>> _nice_step(1.0, 5), _nice_step(200, 6), _nice_step(3, 6, integer=True)
    (0.2, 50.0, 1.0)
    """
    raw = span / max(target, 1)
    if raw <= 0 or not math.isfinite(raw):
        return 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw * (1 - 1e-9))
    return max(step, 1.0) if integer else step


def _ticks(low: float, high: float, target: int, *, integer: bool = False) -> list[float]:
    """Round tick values between ``low`` and ``high`` (both included when they are round)."""
    step = _nice_step(high - low, target, integer=integer)
    first = math.ceil(low / step - 1e-9)
    last = math.floor(high / step + 1e-9)
    return [round(k * step, 10) for k in range(first, last + 1)]


def _tick_label(value: float) -> str:
    return f"{value:g}"


class _Axes:
    """Data coordinates → SVG px inside the axes' box, and the SVG elements drawn so far."""

    def __init__(self, prefix: str, xlim: tuple[float, float], ylim: tuple[float, float]) -> None:
        self.prefix = prefix
        self.x0, self.x1 = xlim
        self.y0, self.y1 = ylim
        self.elements: list[str] = []

    def x(self, value: float) -> float:
        span = (self.x1 - self.x0) or 1.0
        return LEFT + (value - self.x0) / span * (WIDTH - LEFT - RIGHT)

    def y(self, value: float) -> float:
        span = (self.y1 - self.y0) or 1.0
        return HEIGHT - BOTTOM - (value - self.y0) / span * (HEIGHT - TOP - BOTTOM)

    def id(self, name: str) -> str:
        return f'id="{self.prefix}-{name}"'

    def bars(self, name: str, lefts: np.ndarray, widths: np.ndarray, heights: np.ndarray, colour: str) -> None:
        """One ``<path>`` per bar, ids ``PREFIX-bar-NAME-0``, ``-1``… (``PREFIX-bar-0``… without a name)."""
        style = f"fill: {colour}; stroke: #ffffff; stroke-width: 0.5"
        base = self.y(0.0)
        for i, (left, width, height) in enumerate(zip(lefts, widths, heights)):
            x0, x1, top = _f(self.x(left)), _f(self.x(left + width)), _f(self.y(height))
            path = f"M {x0} {_f(base)} L {x1} {_f(base)} L {x1} {top} L {x0} {top} z"
            self.elements.append(f'<path {self.id(f"bar-{name}-{i}" if name else f"bar-{i}")} d="{path}" style="{style}"/>')

    def vline(self, name: str, value: float, colour: str, width: float, dash: str | None = None) -> None:
        dashes = f"; stroke-dasharray: {dash}" if dash else ""
        x = _f(self.x(value))
        self.elements.append(
            f'<path {self.id(name)} d="M {x} {_f(self.y(self.y0))} L {x} {_f(self.y(self.y1))}" '
            f'style="fill: none; stroke: {colour}; stroke-width: {width:g}{dashes}"/>'
        )

    def span(self, name: str, low: float, high: float, colour: str, opacity: float) -> None:
        x0, x1 = self.x(max(low, self.x0)), self.x(min(high, self.x1))
        top, base = self.y(self.y1), self.y(self.y0)
        self.elements.append(
            f'<rect {self.id(name)} x="{_f(x0)}" y="{_f(top)}" width="{_f(max(x1 - x0, 0.0))}" height="{_f(base - top)}" '
            f'style="fill: {colour}; fill-opacity: {opacity:g}"/>'
        )

    def note(self, name: str, text: str, *, right: bool, colour: str, size: float = 11) -> None:
        """A note in the top corner of the axes."""
        x = WIDTH - RIGHT - 4 if right else LEFT + 6
        anchor = "end" if right else "start"
        self.elements.append(
            f'<text {self.id(name)} x="{x}" y="{TOP + 14}" text-anchor="{anchor}" style="fill: {colour}; font-size: {size:g}px">{escape(text)}</text>'
        )

    def centre_note(self, text: str) -> None:
        self.elements.append(
            f'<text x="{_f((LEFT + WIDTH - RIGHT) / 2)}" y="{_f((TOP + HEIGHT - BOTTOM) / 2)}" text-anchor="middle">{escape(text)}</text>'
        )


def _frame(axes: _Axes, xticks: list[float], yticks: list[float], xlabel: str, ylabel: str) -> list[str]:
    """The two spines, the ticks with their labels and the axis labels."""
    base, left = axes.y(axes.y0), axes.x(axes.x0)
    out = [
        f'<path d="M {_f(left)} {_f(axes.y(axes.y1))} L {_f(left)} {_f(base)} L {_f(axes.x(axes.x1))} {_f(base)}" '
        f'style="fill: none; stroke: {AXIS_COLOUR}; stroke-width: 0.8"/>'
    ]
    for value in xticks:
        x = _f(axes.x(value))
        out.append(f'<path d="M {x} {_f(base)} L {x} {_f(base + 4)}" style="stroke: {AXIS_COLOUR}; stroke-width: 0.8"/>')
        out.append(f'<text x="{x}" y="{_f(base + 17)}" text-anchor="middle">{_tick_label(value)}</text>')
    for value in yticks:
        y = _f(axes.y(value))
        out.append(f'<path d="M {_f(left - 4)} {y} L {_f(left)} {y}" style="stroke: {AXIS_COLOUR}; stroke-width: 0.8"/>')
        out.append(f'<text x="{_f(left - 7)}" y="{_f(axes.y(value) + 4)}" text-anchor="end">{_tick_label(value)}</text>')
    middle_x, middle_y = (LEFT + WIDTH - RIGHT) / 2, (TOP + HEIGHT - BOTTOM) / 2
    out.append(f'<text x="{_f(middle_x)}" y="{HEIGHT - 10}" text-anchor="middle">{escape(xlabel)}</text>')
    out.append(f'<text transform="translate(16 {_f(middle_y)}) rotate(-90)" text-anchor="middle">{escape(ylabel)}</text>')
    return out


def _legend(entries: list[tuple[str, str, str]]) -> list[str]:
    """One centred row above the axes: ``(kind, style, label)``, kind ``"patch"`` or ``"line"``."""
    widths = [28 + _text_width(label) for _, _, label in entries]
    gap = 18
    x = (WIDTH - (sum(widths) + gap * (len(entries) - 1))) / 2
    y = 20
    out = []
    for (kind, style, label), width in zip(entries, widths):
        if kind == "patch":
            out.append(f'<rect x="{_f(x)}" y="{y - 9}" width="18" height="10" style="{style}"/>')
        else:
            out.append(f'<path d="M {_f(x)} {y - 4} L {_f(x + 18)} {y - 4}" style="fill: none; {style}"/>')
        out.append(f'<text x="{_f(x + 24)}" y="{y}">{escape(label)}</text>')
        x += width + gap
    return out


def _svg(prefix: str, body: list[str]) -> str:
    """The plot as an inline ``<svg>`` element."""
    return "\n".join(
        [
            f'<svg role="img" id="{prefix}" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" style="font-family: {FONT_FAMILY}; font-size: {FONT_PX}px; fill: {AXIS_COLOUR}">',
            *body,
            "</svg>",
        ]
    )


def _y_limit(counts: np.ndarray) -> tuple[float, list[float]]:
    """The top of the count axis (18 % above the highest bar) and its integer ticks."""
    top = max(int(counts.max()) if len(counts) else 0, 1) * 1.18
    return top, _ticks(0.0, top, 5, integer=True)


def _households_svg(values: np.ndarray, band: tuple[int, int], lang: str) -> str:
    """Histogram zoomed to the band: bins that fit it, the grids beyond the window summarised in a note."""
    labels = _plot_labels(lang)
    low, high = band
    band_style = "fill: #2e7d32; fill-opacity: 0.12"
    if len(values):
        edges, inside = _bin_edges(values, low, high)
        counts = _bin_counts(values, edges)
        top, yticks = _y_limit(counts)
        axes = _Axes("hist", (float(edges[0]), float(edges[-1])), (0.0, top))
    else:
        axes = _Axes("hist", (low - 0.5 - (high - low) / 2, high + 0.5 + (high - low) / 2), (0.0, 1.0))
        yticks = [0.0, 1.0]
    axes.span("band", low - 0.5, high + 0.5, "#2e7d32", 0.12)
    legend = [("patch", band_style, labels["band"].format(low=low, high=high))]
    if len(values):
        widths = np.diff(edges)
        for name, mask, colour, label in (("in-band", inside, "#1f77b4", "in_band"), ("outside", ~inside, "#d95f02", "outside")):
            if mask.any():
                axes.bars(name, edges[:-1][mask], widths[mask], counts[mask], colour)
                legend.append(("patch", f"fill: {colour}", labels[label]))
    axes.vline("band-low", low - 0.5, "#2e7d32", 1.5, "5.5 2.4")
    axes.vline("band-high", high + 0.5, "#2e7d32", 1.5, "5.5 2.4")
    if len(values):
        below, above = values < edges[0], values >= edges[-1]
        for mask, key, right in ((below, "tail_below", False), (above, "tail_above", True)):
            if mask.any():
                extreme = values[mask].min() if key == "tail_below" else values[mask].max()
                edge = edges[0] + 0.5 if key == "tail_below" else edges[-1] - 0.5
                text = labels[key].format(n=int(mask.sum()), edge=f"{edge:g}", v=f"{extreme:g}")
                axes.note(key.replace("_", "-"), text, right=right, colour="#d95f02")
    else:
        axes.centre_note(labels["empty"])
    xticks = _ticks(axes.x0, axes.x1, 7)
    return _svg("hist", _legend(legend) + axes.elements + _frame(axes, xticks, yticks, labels["households"], labels["grids"]))


#: bin widths tried for the household histogram
_NICE_WIDTHS = tuple(m * 10**k for k in range(0, 6) for m in (1, 2, 5, 10, 20, 25, 50))


def _bin_width(low: int, high: int) -> int:
    """A round bin width giving about ten bins across the band (1 at 10–15, 20 at 300–500).

    >>> _bin_width(10, 15), _bin_width(300, 500), _bin_width(100, 150)
    (1, 20, 5)
    """
    count = high - low + 1  # integer household counts in the band
    candidates = sorted(set(w for w in _NICE_WIDTHS if w <= count))
    fitting = [w for w in candidates if 5 <= count // w <= 20] or candidates or [1]
    return min(fitting, key=lambda w: (abs(count // w - 10), w))


def _bin_edges(values: np.ndarray, low: int, high: int) -> tuple[np.ndarray, np.ndarray]:
    """Bin edges zoomed to the band, and which bins lie in it.

    Households are whole numbers, so edges sit at half-integers: the band
    ``low``–``high`` is exactly ``[low − ½, high + ½)``, split into bins of a
    round width (the last band bin takes the remainder), and every bin is
    wholly inside or wholly outside the band.  Outside, the window reaches up
    to half the band's width on each side (at least two bins), as far as the
    data go; grids beyond it are the tails, counted apart.

    >>> edges, inside = _bin_edges(np.array([9.0, 10, 12, 15, 17]), 10, 15)
    >>> edges.tolist()
    [8.5, 9.5, 10.5, 11.5, 12.5, 13.5, 14.5, 15.5, 16.5, 17.5]
    >>> inside.astype(int).tolist()
    [0, 1, 1, 1, 1, 1, 1, 0, 0]
    """
    width = _bin_width(low, high)
    n = max((high - low + 1) // width, 1)
    band = np.append(low - 0.5 + width * np.arange(n), high + 0.5)
    reach = max(2, math.ceil(0.5 * (high - low + 1) / width))
    smallest, largest = float(values.min()), float(values.max())
    n_below = min(reach, max(0, math.ceil((band[0] - smallest) / width)))
    n_above = min(reach, max(0, math.ceil((largest + 0.5 - band[-1]) / width)))
    below = band[0] - width * np.arange(n_below, 0, -1)
    above = band[-1] + width * np.arange(1, n_above + 1)
    below = below[below > -width]  # no bins wholly under zero households
    edges = np.concatenate([below, band, above])
    inside = np.zeros(len(edges) - 1, dtype=bool)
    inside[len(below) : len(below) + n] = True
    return edges, inside


def _bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Grids per bin ``[edges[i], edges[i+1])`` (values outside the edges are not counted)."""
    index = np.searchsorted(edges, values, side="right") - 1
    index = index[(index >= 0) & (index < len(edges) - 1)]
    return np.bincount(index, minlength=len(edges) - 1)


def _pp_svg(values: np.ndarray, lang: str) -> str:
    """Histogram of the grids' Polsby-Popper scores in twenty bins over 0–1, with the mean and the minimum marked."""
    labels = _plot_labels(lang)
    if len(values):
        edges = np.linspace(0.0, 1.0, 21)
        counts, _ = np.histogram(values, bins=edges)
        top, yticks = _y_limit(counts)
        axes = _Axes("pp", (0.0, 1.0), (0.0, top))
        axes.bars("", edges[:-1], np.diff(edges), counts, "#7570b3")
        mean, smallest = float(values.mean()), float(values.min())
        axes.vline("mean", mean, "#222222", 1.5)
        axes.vline("min", smallest, "#d95f02", 1.2, "1.2 2")
        legend = _legend(
            [
                ("line", "stroke: #222222; stroke-width: 1.5", labels["mean"].format(v=mean)),
                ("line", "stroke: #d95f02; stroke-width: 1.2; stroke-dasharray: 1.2 2", labels["min"].format(v=smallest)),
            ]
        )
    else:
        axes = _Axes("pp", (0.0, 1.0), (0.0, 1.0))
        axes.centre_note(labels["empty"])
        yticks, legend = [0.0, 1.0], []
    xticks = _ticks(0.0, 1.0, 5)
    return _svg("pp", legend + axes.elements + _frame(axes, xticks, yticks, labels["pp"], labels["grids"]))


def _walk_svg(values: np.ndarray, limit: float, lang: str) -> str:
    """Histogram of the walk minutes with the limit marked (bars beyond it in the flag colour)."""
    labels = _plot_labels(lang)
    legend: list[str] = []
    if len(values):
        top_x = max(float(values.max()), limit) * 1.05
        width = max(limit / 10.0, top_x / 40.0)
        edges = np.arange(0.0, top_x + width, width)
        counts, edges = np.histogram(values, bins=edges)
        top, yticks = _y_limit(counts)
        axes = _Axes("walk", (float(edges[0]), float(edges[-1])), (0.0, top))
        centres = (edges[:-1] + edges[1:]) / 2
        beyond = centres > limit
        for name, mask, colour in (("within", ~beyond, "#1f77b4"), ("beyond", beyond, "#c51b7d")):
            if mask.any():
                axes.bars(name, edges[:-1][mask], np.full(int(mask.sum()), width), counts[mask], colour)
        axes.vline("limit", limit, "#c51b7d", 1.5, "5.5 2.4")
        legend = _legend(
            [("line", "stroke: #c51b7d; stroke-width: 1.5; stroke-dasharray: 5.5 2.4", labels["limit"].format(m=limit))]
        )
    else:
        axes = _Axes("walk", (0.0, max(limit, 1.0) * 1.05), (0.0, 1.0))
        axes.centre_note(labels["empty"])
        yticks = [0.0, 1.0]
    xticks = _ticks(axes.x0, axes.x1, 7)
    return _svg("walk", legend + axes.elements + _frame(axes, xticks, yticks, labels["walk"], labels["grids"]))
