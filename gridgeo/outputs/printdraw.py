"""Drawing a printable map page with matplotlib: the map with its grids, buildings, scale bar and north arrow, and the side panel."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from ..labels import status_label
from .printpage import (
    _ARROW_R,
    _BAR_BOX,
    _MAP,
    _PANEL_BOTTOM,
    _PANEL_TOP,
    _PANEL_W,
    _PANEL_X,
    _PT_MM,
    _T,
    PAGE_MM,
    _arrow_centre,
    _extent,
    _fmt,
    _furniture_box,
    _labels,
    _nice_length,
    _nice_scale,
    _north_angle,
    _Page,
    _path,
    _place_furniture,
    _statuses,
    _t,
    _text_width_mm,
    _wrap,
)
from .styles import fill_colours

# drawing styles
_BUILDING_FILL, _BUILDING_EDGE = "#d4d4d4", "#9a9a9a"
_GRID_EDGE = "#4d4d4d"
_STATUS_STYLE = {  # outline of a flagged grid: colour, width (pt), line style
    "oversize_building": ("#ff7f00", 2.4, "solid"),
    "infeasible_total": ("#7b3294", 2.4, (0, (4, 2.5))),
    "detached_part": ("#2c7bb6", 2.4, (0, (1, 2))),
    "dedicated": ("#1a9641", 2.4, (0, (3, 1.5))),
    "out_of_band": ("#d7191c", 3.0, "solid"),
    "edited_split": ("#808000", 2.4, (0, (6, 2, 1.5, 2))),
    "_other": ("#000000", 2.0, (0, (1, 2))),
}


def _text(ax, x, y, s, size, **kwargs):
    """Text with mathtext off (a '$' in a name stays a '$')."""
    return ax.text(x, y, s, fontsize=size, parse_math=False, **kwargs)


def _draw_map(fig, page: _Page, metric: CRS) -> tuple[int, bool]:
    """Draw the map frame; returns the scale denominator and whether neighbouring communities show."""
    from matplotlib.collections import LineCollection, PatchCollection
    from matplotlib.patches import Circle, PathPatch, Polygon, Rectangle
    from matplotlib.patheffects import withStroke

    x, y, w, h = _MAP
    ax = fig.add_axes([x / PAGE_MM[0], y / PAGE_MM[1], w / PAGE_MM[0], h / PAGE_MM[1]])
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_linewidth(0.8)
    minx, miny, maxx, maxy = _extent(page)
    span_x, span_y = max(maxx - minx, 1.0), max(maxy - miny, 1.0)
    # a round scale at which the community (plus 6 % of margin) fits the frame, and corners for the
    # scale bar and the north arrow that leave the community uncovered (a smaller scale if none does)
    scale = _nice_scale(max(span_x * 1.06 / (w / 1000.0), span_y * 1.06 / (h / 1000.0)))
    cx, cy = (minx + maxx) / 2.0, (miny + maxy) / 2.0
    scale_text = _t("scale", page.lang, n=f"{scale:,}")
    keep_clear = [page.focus] if page.focus is not None else page.community
    scale, (bar_corner, arrow_corner) = _place_furniture(keep_clear, (cx, cy), scale, _text_width_mm(scale_text, 8.0) + 12.0)
    g = scale / 1000.0  # metres on the ground per millimetre of paper
    x0, x1, y0, y1 = cx - w * g / 2.0, cx + w * g / 2.0, cy - h * g / 2.0, cy + h * g / 2.0
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("auto")  # the limits already have the frame's proportions: 1 m is 1 m both ways

    view = shapely.box(x0, y0, x1, y1)
    neighbours = [geom for geom in page.neighbours if geom is not None and geom.intersects(view)]
    if neighbours:
        # shared borders once (two dashed outlines on one border would look solid)
        borders = shapely.line_merge(shapely.union_all(shapely.boundary(np.asarray(neighbours, dtype=object))))
        lines = [np.asarray(part.coords)[:, :2] for part in shapely.get_parts(borders) if not part.is_empty]
        ax.add_collection(LineCollection(lines, colors="#8c8c8c", linewidths=1.0, linestyles=[(0, (4, 2))], zorder=1))
    grid_paths = [_path([geom]) for geom in page.grids.geometry]
    patches = [PathPatch(p) for p in grid_paths if p is not None]
    colours = [c for p, c in zip(grid_paths, page.colours) if p is not None]
    if patches:
        ax.add_collection(PatchCollection(patches, facecolors=colours, edgecolors="none", linewidths=0, zorder=2, gid="grid-fills"))
    # buildings: polygons as one path, points as dots
    polygonal = page.buildings[page.buildings.geometry.geom_type.isin(["Polygon", "MultiPolygon", "GeometryCollection"])]
    path = _path(polygonal.geometry)
    if path is not None:
        ax.add_patch(PathPatch(path, facecolor=_BUILDING_FILL, edgecolor=_BUILDING_EDGE, linewidth=0.2, zorder=3))
    points = page.buildings[page.buildings.geometry.geom_type == "Point"]
    if len(points):
        ax.scatter(points.geometry.x, points.geometry.y, s=6, c=_BUILDING_FILL, edgecolors=_BUILDING_EDGE, linewidths=0.3, zorder=3)
    if patches:
        ax.add_collection(PatchCollection([PathPatch(p) for p in grid_paths if p is not None], facecolors="none", edgecolors=_GRID_EDGE, linewidths=0.8, zorder=4))
    statuses = _statuses(page.grids)
    for p, status in zip(grid_paths, statuses):
        if p is None or status == "in_band":
            continue
        colour, width, style = _STATUS_STYLE.get(status, _STATUS_STYLE["_other"])
        ax.add_patch(PathPatch(p, facecolor="none", edgecolor=colour, linewidth=width, linestyle=style, zorder=5))
    path = _path(page.community)
    if path is not None:
        ax.add_patch(PathPatch(path, facecolor="none", edgecolor="#111111", linewidth=2.2, zorder=6))

    # grid labels: code and households at the point farthest inside each grid
    halo = [withStroke(linewidth=2.4, foreground="white")]
    for point, size, gcode, hh_text in _labels(page, g):
        _text(ax, point.x, point.y + 0.3 * g, gcode, size, ha="center", va="bottom", fontweight="bold", color="#111111", path_effects=halo, zorder=7, clip_on=True)
        _text(ax, point.x, point.y - 0.3 * g, hh_text, 0.85 * size, ha="center", va="top", color="#222222", path_effects=halo, zorder=7, clip_on=True)
    for k, (dx0, dy0, dx1, dy1) in enumerate(page.details, start=1):  # the ground each detail page enlarges
        ax.add_patch(Rectangle((dx0, dy0), dx1 - dx0, dy1 - dy0, facecolor="none", edgecolor="#c51b7d", linewidth=1.4, linestyle=(0, (5, 2)), zorder=7, gid="detail-frame"))
        _text(ax, dx0, dy1 + 0.8 * g, _t("detail_mark", page.lang, k=k), 8.0, ha="left", va="bottom", color="#c51b7d", fontweight="bold", path_effects=halo, zorder=7, clip_on=True)

    # scale bar, in the corner _place_furniture chose
    scale_text = _t("scale", page.lang, n=f"{scale:,}")
    length = _nice_length(w * g / 5.0)
    box_mm = max(length / g + 22.0, _text_width_mm(scale_text, 8.0) + 12.0)
    left, bottom = _furniture_box(bar_corner, box_mm)[:2]
    bx, by = x0 + (left + 5.0) * g, y0 + (bottom + 6.5) * g
    bar_h = 1.8 * g
    ax.add_patch(Rectangle((bx - 5.0 * g, by - 6.5 * g), box_mm * g, _BAR_BOX[1] * g, facecolor="white", edgecolor="#777777", linewidth=0.5, alpha=0.9, zorder=8, gid="scale-bar"))
    for i in range(4):
        ax.add_patch(Rectangle((bx + i * length / 4.0, by), length / 4.0, bar_h, facecolor="#111111" if i % 2 == 0 else "white", edgecolor="#111111", linewidth=0.6, zorder=9))
    for value, xpos in ((0, bx), (length / 2.0, bx + length / 2.0), (length, bx + length)):
        label = f"{value:g}" + (f" {_T['metres'][page.lang]}" if value == length else "")
        _text(ax, xpos, by - 1.0 * g, label, 7.5, ha="center" if value != length else "left", va="top", zorder=9)
    _text(ax, bx, by + bar_h + 1.5 * g, scale_text, 8.0, ha="left", va="bottom", zorder=9)

    # north arrow, pointing to true north, in the other corner _place_furniture chose
    theta = _north_angle(metric, cx, cy)
    ox, oy = _arrow_centre(arrow_corner)
    ax_, ay_ = x0 + ox * g, y0 + (oy - 1.2) * g
    size = 7.0 * g
    ax.add_patch(Circle((ax_, ay_ + 1.2 * g), _ARROW_R * g, facecolor="white", edgecolor="#777777", linewidth=0.5, alpha=0.9, zorder=8, gid="north-arrow"))

    def turn(px, py):
        return ax_ + size * (px * math.cos(theta) + py * math.sin(theta)), ay_ + size * (-px * math.sin(theta) + py * math.cos(theta))

    tip, left, notch, right = turn(0, 1), turn(-0.42, -0.75), turn(0, -0.35), turn(0.42, -0.75)
    ax.add_patch(Polygon([tip, left, notch], closed=True, facecolor="#111111", edgecolor="#111111", linewidth=0.6, zorder=9))
    ax.add_patch(Polygon([tip, notch, right], closed=True, facecolor="white", edgecolor="#111111", linewidth=0.6, zorder=9))
    lx, ly = turn(0, 1.3)
    _text(ax, lx, ly, _T["north"][page.lang], 10.0, ha="center", va="bottom", fontweight="bold", rotation=-math.degrees(theta), rotation_mode="anchor", zorder=9)
    return scale, bool(neighbours)


def _draw_panel(ax, page: _Page, neighbours_shown: bool) -> None:
    """Legend, grid table and notes on the page axes (millimetres), right of the map."""
    from matplotlib.patches import Rectangle

    lang = page.lang
    x = _PANEL_X
    y = _PANEL_TOP
    line = 4.6

    def swatch(yc, **style):
        ax.add_patch(Rectangle((x, yc - 1.8), 8.0, 3.6, **style))

    def hline(yc, x_from, x_to, width=0.6):
        ax.plot([x_from, x_to], [yc, yc], color="#333333", linewidth=width, solid_capstyle="butt")

    # legend
    _text(ax, x, y, _T["legend"][lang], 11.0, va="top", fontweight="bold")
    y -= 7.0
    for i, colour in enumerate(fill_colours(4)[:4]):
        ax.add_patch(Rectangle((x + 2.0 * i, y - 1.8), 2.0, 3.6, facecolor=colour, edgecolor="none"))
    ax.add_patch(Rectangle((x, y - 1.8), 8.0, 3.6, facecolor="none", edgecolor=_GRID_EDGE, linewidth=0.5))
    _text(ax, x + 11.0, y, _T["grid_fill"][lang], 8.0, va="center")
    y -= line
    hline(y, x, x + 8.0, 0.8)
    _text(ax, x + 11.0, y, _T["grid_edge"][lang], 8.0, va="center")
    y -= line
    hline(y, x, x + 8.0, 2.2)
    _text(ax, x + 11.0, y, _T["community_edge"][lang], 8.0, va="center")
    y -= line
    swatch(y, facecolor=_BUILDING_FILL, edgecolor=_BUILDING_EDGE, linewidth=0.3)
    _text(ax, x + 11.0, y, _T["buildings"][lang], 8.0, va="center")
    y -= line
    if neighbours_shown:
        ax.plot([x, x + 8.0], [y, y], color="#8c8c8c", linewidth=1.0, linestyle=(0, (4, 2)))
        _text(ax, x + 11.0, y, _T["neighbours"][lang], 8.0, va="center")
        y -= line
    present = sorted(set(_statuses(page.grids)) - {"in_band"})
    for status in present:
        colour, width, style = _STATUS_STYLE.get(status, _STATUS_STYLE["_other"])
        swatch(y, facecolor="none", edgecolor=colour, linewidth=min(width, 2.0), linestyle=style)
        _text(ax, x + 11.0, y, status_label(status, lang), 8.0, va="center")
        y -= line
    y -= 3.0

    # notes at the bottom of the panel: estimated households, flagged grids
    notes: list[tuple[str, float, str, str]] = []  # text, size, weight, colour
    if page.estimated:
        notes += [(s, 7.0, "normal", "#b00020") for s in _wrap(_T["estimated"][lang], _PANEL_W, 7.0)]
    if page.reasons:
        notes.append((_T["flagged"][lang], 8.0, "bold", "#111111"))
        for reason in page.reasons:
            notes += [(s, 6.5, "normal", "#111111") for s in _wrap(reason, _PANEL_W, 6.5)]
    max_notes = int((y - _PANEL_BOTTOM) * 0.4 / 3.1)
    if len(notes) > max_notes:
        notes = [*notes[: max(max_notes - 1, 0)], ("…", 6.5, "normal", "#111111")]
    notes_height = sum(size * _PT_MM * 1.35 for _, size, _, _ in notes) + (2.0 if notes else 0.0)

    # the grid table
    _text(ax, x, y, _T["table"][lang], 11.0, va="top", fontweight="bold")
    y -= 7.5
    n = len(page.grids)
    top = y
    available = top - _PANEL_BOTTOM - notes_height - 2 * 4.6  # header and total rows
    size = 8.5
    while size > 6.0 and n * size * _PT_MM * 1.6 > available:
        size -= 0.5
    row_h = size * _PT_MM * 1.6
    per_column = max(int(available // row_h), 1)
    compact = n > per_column
    columns = 2 if compact else 1
    shown = n if n <= per_column * columns else per_column * columns - 1
    col_w = _PANEL_W / columns
    if compact:
        layout = {"code": (5.5, "left"), "hh": (col_w - 9.0, "right"), "flag": (col_w - 7.0, "left")}
    else:
        layout = {"code": (6.0, "left"), "hh": (40.0, "right"), "nb": (53.0, "right"), "nu": (66.0, "right"), "status": (69.0, "left")}
    header_size = min(size, 8.0)
    for c in range(columns):
        cx = x + c * col_w
        for key, (dx, align) in layout.items():
            if key in ("flag",):
                continue
            _text(ax, cx + dx, y, _T[key][lang], header_size, ha=align, va="center", fontweight="bold")
    y -= 2.6
    hline(y, x, x + _PANEL_W, 0.6)
    y -= row_h / 2.0 + 0.6
    grids = page.grids
    households = grids.get("households", pd.Series([None] * n, index=grids.index)).tolist()
    n_b = grids.get("n_buildings", pd.Series([None] * n, index=grids.index)).tolist()
    n_u = grids.get("n_units", pd.Series([None] * n, index=grids.index)).tolist()
    statuses = _statuses(grids)
    codes = grids["grid_code"].astype(str).tolist()
    first_row_y = y
    for i in range(shown):
        c, r = divmod(i, per_column)
        cx = x + c * col_w
        ry = first_row_y - r * row_h
        if r % 2 == 0:
            ax.add_patch(Rectangle((cx, ry - row_h / 2.0), col_w - (1.0 if compact else 0.0), row_h, facecolor="#f0f0f0", edgecolor="none", zorder=0.5))
        status = statuses[i]
        edge, width, style = _STATUS_STYLE.get(status, (_GRID_EDGE, 0.5, "solid")) if status != "in_band" else (_GRID_EDGE, 0.5, "solid")
        ax.add_patch(Rectangle((cx + 0.3, ry - row_h * 0.3), 4.0, row_h * 0.6, facecolor=page.colours[i], edgecolor=edge, linewidth=min(width, 1.2)))
        values = {"code": codes[i], "hh": _fmt(households[i]), "nb": _fmt(n_b[i]), "nu": _fmt(n_u[i])}
        if status != "in_band":
            values["status"] = status_label(status, lang)
            values["flag"] = "*"
        for key, (dx, align) in layout.items():
            text = values.get(key, "")
            if not text:
                continue
            fs = size
            if key == "status":
                fs = min(size, 7.0)
                while fs > 5.0 and _text_width_mm(text, fs) > _PANEL_W - dx:
                    fs -= 0.5
            colour = _STATUS_STYLE.get(status, _STATUS_STYLE["_other"])[0] if key in ("status", "flag") else "#111111"
            _text(ax, cx + dx, ry, text, fs, ha=align, va="center", color=colour, fontweight="bold" if key == "flag" else "normal")
    rows_used = min(shown, per_column)
    y = first_row_y - rows_used * row_h + row_h / 2.0
    if shown < n:
        _text(ax, x, y - row_h / 2.0, _t("more", lang, n=n - shown), min(size, 7.5), va="center", color="#555555")
        y -= row_h
    y -= 0.8
    hline(y, x, x + _PANEL_W, 0.6)
    y -= 3.0
    total = pd.to_numeric(pd.Series(households), errors="coerce").fillna(0).sum()
    total_b = pd.to_numeric(pd.Series(n_b), errors="coerce").fillna(0).sum()
    total_u = pd.to_numeric(pd.Series(n_u), errors="coerce").fillna(0).sum()
    totals = {"code": f"{_T['total'][lang]} ({n})", "hh": _fmt(total), "nb": _fmt(total_b), "nu": _fmt(total_u)}
    for key, (dx, align) in layout.items():
        if key in totals:
            _text(ax, x + dx, y, totals[key], min(size, 8.5), ha=align, va="center", fontweight="bold")
    y -= 6.0

    # notes
    for text, fs, weight, colour in notes:
        _text(ax, x, y, text, fs, va="top", fontweight=weight, color=colour)
        y -= fs * _PT_MM * 1.35
