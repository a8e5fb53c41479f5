"""The report's plots as inline SVG: grid households with the band marked, Polsby-Popper compactness, walk minutes with the limit."""

from __future__ import annotations

import io
import math
import re

import numpy as np
import pandas as pd

# plot labels: Chinese only with a CJK font; the "en" set is plain ASCII
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
    """Plot labels in ``lang`` (``"en"`` is plain ASCII, safe with any font)."""
    return {key: value[lang] for key, value in _PLOT.items()}


def _new_figure():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.0, 3.2), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)  # no pyplot, no GUI backend, no global state
    return fig


def _rc(font: str | None) -> dict:
    families = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    return {
        "font.family": "sans-serif",
        "font.sans-serif": families,
        "axes.unicode_minus": False,
        "svg.fonttype": "path",
        "font.size": 10,
    }


def _svg(fig, prefix: str) -> str:
    """The figure as an inline ``<svg>`` element whose ids all start with ``prefix-``."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": f"gridgeo-{prefix}"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, count=1, flags=re.S)
    text = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', text)
    text = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}-\1)", text)
    text = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}-\1"', text)
    return text.replace("<svg ", '<svg role="img" ', 1).strip()


def _households_svg(values: np.ndarray, band: tuple[int, int], lang: str, font: str | None) -> str:
    """Histogram zoomed to the band: bins that fit it, the grids beyond the window summarised in a note."""
    import matplotlib

    labels = _plot_labels(lang)
    low, high = band
    with matplotlib.rc_context(_rc(font)):
        fig = _new_figure()
        ax = fig.add_subplot()
        ax.axvspan(low - 0.5, high + 0.5, facecolor="#2e7d32", alpha=0.12, edgecolor="#2e7d32", lw=0, gid="band", label=labels["band"].format(low=low, high=high))
        ax.axvline(low - 0.5, color="#2e7d32", lw=1.5, ls="--", gid="band-low")
        ax.axvline(high + 0.5, color="#2e7d32", lw=1.5, ls="--", gid="band-high")
        if len(values):
            edges, inside = _bin_edges(values, low, high)
            counts = _bin_counts(values, edges)
            widths = np.diff(edges)
            for name, mask, colour in (("in-band", inside, "#1f77b4"), ("outside", ~inside, "#d95f02")):
                if mask.any():
                    bars = ax.bar(edges[:-1][mask], counts[mask], width=widths[mask], align="edge", color=colour,
                                  edgecolor="white", lw=0.5, label=labels["in_band" if name == "in-band" else "outside"])
                    for i, patch in enumerate(bars):
                        patch.set_gid(f"bar-{name}-{i}")
            below, above = values < edges[0], values >= edges[-1]
            for gid, mask, x, ha, key in (("tail-below", below, 0.01, "left", "tail_below"), ("tail-above", above, 0.99, "right", "tail_above")):
                if mask.any():
                    extreme = values[mask].min() if key == "tail_below" else values[mask].max()
                    edge = edges[0] + 0.5 if key == "tail_below" else edges[-1] - 0.5
                    ax.text(x, 0.97, labels[key].format(n=int(mask.sum()), edge=f"{edge:g}", v=f"{extreme:g}"), transform=ax.transAxes,
                            ha=ha, va="top", fontsize=8.5, color="#d95f02", gid=gid)
            ax.set_xlim(edges[0], edges[-1])
            ax.set_ylim(0, max(int(counts.max()), 1) * 1.18)
            ax.yaxis.get_major_locator().set_params(integer=True)
        else:
            ax.text(0.5, 0.5, labels["empty"], transform=ax.transAxes, ha="center", va="center")
        ax.set_xlabel(labels["households"])
        ax.set_ylabel(labels["grids"])
        fig.legend(loc="outside upper center", ncols=3, frameon=False)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        return _svg(fig, "hist")


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


def _pp_svg(values: np.ndarray, lang: str, font: str | None) -> str:
    import matplotlib

    labels = _plot_labels(lang)
    with matplotlib.rc_context(_rc(font)):
        fig = _new_figure()
        ax = fig.add_subplot()
        if len(values):
            _, _, bars = ax.hist(values, bins=np.linspace(0.0, 1.0, 21), color="#7570b3", edgecolor="white", lw=0.5)
            for i, patch in enumerate(bars):
                patch.set_gid(f"bar-{i}")
            mean, smallest = float(values.mean()), float(values.min())
            ax.axvline(mean, color="#222", lw=1.5, gid="mean", label=labels["mean"].format(v=mean))
            ax.axvline(smallest, color="#d95f02", lw=1.2, ls=":", gid="min", label=labels["min"].format(v=smallest))
            fig.legend(loc="outside upper center", ncols=2, frameon=False)
            ax.yaxis.get_major_locator().set_params(integer=True)
        else:
            ax.text(0.5, 0.5, labels["empty"], transform=ax.transAxes, ha="center", va="center")
        ax.set_xlim(0.0, 1.0)
        ax.set_xlabel(labels["pp"])
        ax.set_ylabel(labels["grids"])
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        return _svg(fig, "pp")


def _walk_svg(values: np.ndarray, limit: float, lang: str, font: str | None) -> str:
    """Histogram of the walk minutes with the limit marked (bars beyond it in the flag colour)."""
    import matplotlib

    labels = _plot_labels(lang)
    with matplotlib.rc_context(_rc(font)):
        fig = _new_figure()
        ax = fig.add_subplot()
        if len(values):
            top = max(float(values.max()), limit) * 1.05
            width = max(limit / 10.0, top / 40.0)
            edges = np.arange(0.0, top + width, width)
            counts, edges = np.histogram(values, bins=edges)
            centres = (edges[:-1] + edges[1:]) / 2
            beyond = centres > limit
            for name, mask, colour in (("within", ~beyond, "#1f77b4"), ("beyond", beyond, "#c51b7d")):
                if mask.any():
                    bars = ax.bar(edges[:-1][mask], counts[mask], width=width, align="edge", color=colour, edgecolor="white", lw=0.5)
                    for i, patch in enumerate(bars):
                        patch.set_gid(f"bar-{name}-{i}")
            ax.axvline(limit, color="#c51b7d", lw=1.5, ls="--", gid="limit", label=labels["limit"].format(m=limit))
            fig.legend(loc="outside upper center", ncols=1, frameon=False)
            ax.yaxis.get_major_locator().set_params(integer=True)
        else:
            ax.text(0.5, 0.5, labels["empty"], transform=ax.transAxes, ha="center", va="center")
        ax.set_xlabel(labels["walk"])
        ax.set_ylabel(labels["grids"])
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        return _svg(fig, "walk")
