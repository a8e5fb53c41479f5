"""One interactive, self-contained HTML map of a whole partition run (``map.html``).

:func:`build_map` turns a :class:`~gridgeo.result.Partition` into one HTML page
that works offline and stays smooth up to at least 100,000 buildings;
:func:`write_maps` writes it as ``OUTDIR/map.html``.

How the page is made
--------------------
The page is a fixed template (``gridgeo/assets/map/template.html``) holding
Leaflet 1.9.4 (JavaScript, CSS and control images, inlined from the installed
``django-js-lib-leaflet`` package), the page's stylesheet and program
(``map.css``, ``map.js`` in the same folder, package data) and one
``<script type="application/json">`` block with the data.  Nothing is loaded
from the network except the basemap tiles, which simply stay blank offline.

The data block is compact: each layer holds its attributes as columns (one list
per field) and its geometry once, as integer deltas of micro-degrees in one flat
list (``xy``) with the counts of parts per feature (``n``), rings per part
(``r``) and vertices per ring (``v``); polygon rings leave out their closing
vertex.  A joint unit refers to the buildings that make it (its ``members``;
``ref``/``nref``) instead of repeating their footprints.  Writing it is linear in the
number of vertices.

The program draws every layer itself on a canvas (a :class:`L.Renderer`
subclass), only what is in view, batched by colour, with vertices closer than a
pixel skipped (the geometry is simplified per zoom level as it is drawn):
communities and grids at every zoom (below zoom 14 an in-band grid smaller than
48 pixels shows by its fill alone, without an outline), buildings from zoom 15,
joint units (the outlines of their buildings) from zoom 17 and their codes from
zoom 18.  Grid labels (code and households) are drawn where they fit inside
their grid without overlapping another label; flagged grids' labels first, and
even where they overflow their grid.  Hover and clicks are answered
from a uniform grid index (point in polygon).  Overlays other than the grids,
their labels, the communities, buildings, units and the flags (grids that need
attention, buildings outside every community, grids changed by an update) are
off by default.

Safety
------
Every value taken from the data is HTML-escaped in Python before it goes into
the data block, and the JSON text has ``<``, ``>`` and ``&`` escaped as
``\\u003c``… so nothing in the data can close the block.  A
Content-Security-Policy admits only the page's own scripts (by hash), so an
inline event handler that slipped through would not run either.

JavaScript contract
-------------------
``window.gridgeo.ready``
    A Promise resolving once the data is decoded and the first view drawn.
``window.gridgeo.stats()``
    ``{grids, buildings, units}``: the features loaded.
``window.gridgeo.find(text)``
    The matching codes (grid codes, building codes for a building code or id,
    community codes for a community code or name), exact matches first; the
    map zooms to the first.
``window.gridgeo.drawn()``
    What the last draw showed (counts per layer, labels, zoom): for tests and
    measurements.
``window.gridgeo.view``
    Hooks for the edit mode (``gridgeo/assets/map/edit.js``), set up before that
    script runs: ``map`` (the Leaflet map), ``onBuildingClick(fn)``
    (``fn(buildingCode, event)``, ``event`` Leaflet's mouse event) and
    ``onGridClick(fn)`` (``fn(gridCode, event)``), each returning a function that
    removes the handler (a handler returning ``false`` keeps the grid's popup
    closed); ``setBuildingGrid(buildingCode, gridCode)`` (redraws the building in
    that grid's colour, in neutral grey for a grid code the plan does not have
    yet; ``false`` for an unknown building),
    ``highlightBuildings(codes)``, ``clearHighlight()``,
    ``buildingsInPolygon(latlngs)`` (the codes of the buildings whose centroid
    lies inside ``[[lat, lng], …]``, for a lasso) and ``control(position)`` (a
    DOM element inside a new Leaflet control, for a panel).
``window.gridgeo.editModel``
    The ``edit_model`` given to :func:`build_map` (a JSON-ready dict), else
    ``undefined``; :func:`write_maps` always gives one.  With a model, the
    page inlines ``gridgeo/assets/map/edit.js`` (and ``edit.css``) after its
    program, admitted by its hash: ``edit.js`` finds ``window.gridgeo.view``
    and adds the Edit toggle and panel (``window.gridgeo.edit``).  While the
    edit mode is on, clicks on buildings and grids go to it only: no popup
    opens.

Basemaps: ``"osm"`` (OpenStreetMap), ``"tianditu"`` (天地图, needs a key) and
``"gaode"`` (高德/AMap, whose tiles are in GCJ-02: all geometry is shifted with
:func:`gridgeo.inputs.chinacoords.to_gcj02` so that it lines up).

The data block is made by :mod:`gridgeo.outputs.map_data` (words, basemaps,
layers) and its geometry by :mod:`gridgeo.outputs.map_geometry`; this module
puts the page together from the package's files (``gridgeo/assets/map/``).
It only reads a partition result; it never runs the algorithms.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import importlib.resources
import logging
import re
import warnings
from functools import lru_cache
from pathlib import Path

import geopandas as gpd

from .. import timings
from ..result import Partition
from .files import write_atomic
from .map_data import _ASSETS, BASEMAPS, LABELS, _basemap_config, _check_lang, _map_data
from .map_json import json_for_html as _json_for_html
from .styles import PALETTE

__all__ = ["build_map", "write_maps", "BASEMAPS", "PALETTE"]

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- assets


@lru_cache(maxsize=1)
def _leaflet_assets() -> tuple[str, str]:
    """Leaflet's JavaScript and CSS (images as data: URIs) from ``django-js-lib-leaflet``."""
    try:
        root = importlib.resources.files("js_lib_leaflet") / "static" / "js_lib_leaflet"
        js = (root / "leaflet.js").read_text(encoding="utf-8")
        css = (root / "leaflet.css").read_text(encoding="utf-8")
        images = {name: (root / "images" / name).read_bytes() for name in ("layers.png", "layers-2x.png", "marker-icon.png")}
    except (ModuleNotFoundError, FileNotFoundError) as exc:  # pragma: no cover - depends on the install
        raise ImportError(
            "gridgeo.outputs.maps needs Leaflet 1.9.4 from the package django-js-lib-leaflet: pip install django-js-lib-leaflet"
        ) from exc
    version = importlib.metadata.version("django-js-lib-leaflet")
    if not version.startswith("1.9.4"):
        logger.warning("django-js-lib-leaflet %s installed; the maps are tested with Leaflet 1.9.4", version)
    js = re.sub(r"^//# sourceMappingURL=.*$", "", js, flags=re.M)
    for name, data in images.items():
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        css = css.replace(f"url(images/{name})", f"url({uri})")
    css = re.sub(r"/\*# sourceMappingURL=.*?\*/", "", css)
    _check_inline("leaflet.js", js)
    return js, css


def _asset(name: str) -> str | None:
    """The text of ``gridgeo/assets/map/<name>`` (package data), or None when the package has no such file."""
    path = importlib.resources.files("gridgeo").joinpath(*_ASSETS, name)
    if not path.is_file():
        return None
    return path.read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _page_assets() -> tuple[str, str, str]:
    """The page's template, stylesheet and program (package data in ``gridgeo/assets/map/``)."""
    texts = []
    for name in ("template.html", "map.css", "map.js"):
        text = _asset(name)
        if text is None:  # pragma: no cover - a broken install
            raise ImportError(f"gridgeo is installed without its package data: gridgeo/assets/map/{name} is missing; reinstall gridgeo")
        texts.append(text)
    _check_inline("map.js", texts[2])
    return texts[0], texts[1], texts[2]


def _edit_script() -> str | None:
    """``gridgeo/assets/map/edit.js`` when the package has it (the edit mode), else None."""
    text = _asset("edit.js")
    if text is not None:
        _check_inline("edit.js", text)
    return text


def _check_inline(name: str, text: str) -> None:
    if re.search(r"</script|<!--", text, re.I):  # pragma: no cover - none of the shipped scripts has either
        raise RuntimeError(f"{name} cannot be inlined into the map: it contains '</script' or '<!--'")


# --------------------------------------------------------------------------- page


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def _page(data: dict, lang: str) -> str:
    leaflet_js, leaflet_css = _leaflet_assets()
    template, css, program = _page_assets()
    edit = _edit_script() if "edit" in data else None
    edit_css = (_asset("edit.css") or "") if edit is not None else ""
    scripts = [leaflet_js, program] + ([edit] if edit is not None else [])
    csp = (
        "default-src 'none'; "
        f"script-src {' '.join(_sha256(s) for s in scripts)}; "
        "style-src 'unsafe-inline'; img-src https: data:; font-src data:; connect-src 'none'; "
        "base-uri 'none'; form-action 'none'"
    )
    parts = {
        "LANG": LABELS[lang]["html_lang"],
        "CSP": csp,
        "TITLE": data["title"],
        "LEAFLET_CSS": leaflet_css,
        "MAP_CSS": css + ("\n" + edit_css if edit_css else ""),
        "LEAFLET_JS": leaflet_js,
        "DATA": _json_for_html(data),
        "MAP_JS": program,
        "EDIT_JS": f"<script>{edit}</script>\n" if edit is not None else "",
    }
    # one pass over the template: a value is never searched for another placeholder
    return re.sub(r"\{\{([A-Z_]+)\}\}", lambda m: parts[m.group(1)], template)


# --------------------------------------------------------------------------- public API


def build_map(
    result: Partition,
    *,
    lang: str = "zh",
    basemap: str = "osm",
    tianditu_key: str | None = None,
    barriers: gpd.GeoDataFrame | None = None,
    title: str | None = None,
    data_attribution: str | None = None,
    service_centres: gpd.GeoDataFrame | None = None,
    edit_model: dict | None = None,
) -> str:
    """Build one self-contained, offline-capable HTML page showing a whole partition.

    Parameters
    ----------
    result : Partition
        A result of :func:`gridgeo.partition` or :func:`gridgeo.read_outputs`
        (any CRS; it is not modified).
    lang : {"zh", "en"}
        Language of every label.
    basemap : {"osm", "tianditu", "gaode"}
        Tile basemap.  ``"gaode"`` tiles are in GCJ-02, so all geometry is shifted
        to GCJ-02 for it; ``"tianditu"`` needs ``tianditu_key``.
    tianditu_key : str, optional
        Tianditu (天地图) browser key.
    barriers : GeoDataFrame, optional
        Lines (roads, rivers, …) to draw, clipped to the data; any CRS.
    title : str, optional
        Page and map title (default: "gridgeo 网格图" / "gridgeo grid map").
    data_attribution : str, optional
        Attribution of the input data (e.g. "© OpenStreetMap contributors"),
        shown next to the basemap's.
    service_centres : GeoDataFrame, optional
        Service centres (:func:`gridgeo.governance.coverage.prepare_centres`) drawn as a
        layer with popups (id, name, grids nearest to it); default: the
        result's own (:attr:`Partition.service_centres`).  Grids with
        ``coverage_flag`` can be hatched, grids with ``workload_flag`` dotted
        (overlays, off by default); popups show the team size, the walking
        tour, the workload index and the walk to the nearest centre.
    edit_model : dict, optional
        Data for the edit mode, embedded as ``window.gridgeo.editModel``
        (JSON-ready; its text is made safe for the page like all the data).

    Returns
    -------
    str
        The HTML page.

    Raises
    ------
    gridgeo.errors.InputError
        Unknown ``lang`` or ``basemap``, ``"tianditu"`` without a key, or a
        result without a CRS.

    Examples
    --------
    >>> import geopandas as gpd, shapely, gridgeo
    >>> c = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[shapely.box(0, 0, 200, 100)], crs=32651)
    >>> b = gpd.GeoDataFrame({"hh": [100] * 4}, geometry=[shapely.box(20 + 40 * i, 40, 30 + 40 * i, 50) for i in range(4)], crs=32651)
    >>> page = build_map(gridgeo.partition(c, b, households="hh"), lang="en")
    >>> page.startswith("<!DOCTYPE html>") and "Joint units" in page and "<script src=" not in page
    True
    """
    data = _map_data(
        result, lang=lang, basemap=basemap, tianditu_key=tianditu_key, barriers=barriers, title=title,
        data_attribution=data_attribution,
        service_centres=service_centres if service_centres is not None else getattr(result, "service_centres", None),
        edit_model=edit_model,
    )  # fmt: skip
    page = _page(data, lang)
    if logger.isEnabledFor(logging.DEBUG):  # the page's size only when shown: encoding it is a copy of the page
        logger.debug(
            "map: %d grids, %d buildings, %d units, basemap %s, %.1f MB",
            len(data["layers"]["grids"]["geom"]["n"]), len(data["layers"]["buildings"]["geom"]["n"]),
            len(data["layers"]["units"]["p"]["code"]), basemap, len(page.encode("utf-8")) / 1e6,
        )  # fmt: skip
    return page


@timings.timed("map")
def write_maps(result: Partition, outdir, *, max_buildings_per_map: int | None = None, **options) -> list[Path]:
    """Write ``outdir/map.html``: one map of the whole run.

    Parameters
    ----------
    result : Partition
        The partition to show.
    outdir : str or Path
        Folder to write into (created when missing; an existing ``map.html`` is replaced).
    max_buildings_per_map : int, optional
        Deprecated and ignored: the map holds every building of the run (it
        used to split big runs into maps per community with an index page).
    **options
        Passed to :func:`build_map` (``lang``, ``basemap``, ``tianditu_key``,
        ``barriers``, ``title``, ``data_attribution``, ``service_centres``,
        ``edit_model``).  Without ``edit_model`` the page gets the run's
        :func:`~gridgeo.outputs.editmodel.edit_model` (the edit mode, run key
        = sha256 of the run's ``report.json``), without the building adjacency
        unless ``edit_adjacency=True`` (it re-tessellates every grid, about half
        the time of a whole run; ``workers`` processes share it): the panel then
        shows "?" for "one piece" and says how to get the check
        (``gridgeo map OUTDIR --edit``).

    Returns
    -------
    list of Path
        The files written: ``[outdir/map.html]``.

    Examples
    --------
    >>> import tempfile, geopandas as gpd, shapely, gridgeo
    >>> c = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[shapely.box(0, 0, 200, 100)], crs=32651)
    >>> b = gpd.GeoDataFrame({"hh": [100] * 4}, geometry=[shapely.box(20 + 40 * i, 40, 30 + 40 * i, 50) for i in range(4)], crs=32651)
    >>> [p.name for p in write_maps(gridgeo.partition(c, b, households="hh"), tempfile.mkdtemp())]
    ['map.html']
    """
    if max_buildings_per_map is not None:
        warnings.warn(
            "write_maps(max_buildings_per_map=...) is deprecated and ignored: map.html now shows the whole run on one map",
            DeprecationWarning,
            stacklevel=2,
        )
    lang = options.get("lang", "zh")
    _check_lang(lang)
    _basemap_config(options.get("basemap", "osm"), options.get("tianditu_key"), lang)  # fail before writing anything
    edit_adjacency = options.pop("edit_adjacency", False)
    workers = options.pop("workers", 1)
    if "edit_model" not in options:  # the edit mode is in every map; the adjacency only on request (it costs a tessellation)
        from .editmodel import edit_model

        options["edit_model"] = edit_model(result, lang=lang, adjacency=edit_adjacency, workers=workers)
    page = build_map(result, **options)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    path = write_atomic(outdir / "map.html", page)
    del page
    logger.info("wrote %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return [path]
