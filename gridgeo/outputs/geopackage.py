"""What GIS software reads from ``partition.gpkg`` besides the features: descriptions, aliases, keys and styles.

:func:`describe_geopackage` completes a GeoPackage that :mod:`gridgeo.outputs.export`
has written:

* **layer descriptions** in ``gpkg_contents.description`` (Chinese and English);
* **field aliases**: every gridgeo column gets its Chinese name (``网格编码``),
  English title and meaning in ``gpkg_data_columns`` (the GeoPackage schema
  extension, which GDAL >= 3.7 reads as the field's alternative name and
  comment), and in each layer's QGIS style (so QGIS shows them with any GDAL);
* **unique indexes** on ``grid_code``, ``building_code`` and ``unit_code``
  (``uq_grids_grid_code``, …), so the codes are keys in every GIS;
* **QGIS styles** in the ``layer_styles`` table that QGIS reads on opening a
  layer: grids filled with the colouring of the web map (neighbouring grids
  never share a colour; the same colours and the same colouring as
  ``map.html``) with their codes as labels and the outline of their status
  (orange for an oversize building, dashed purple for an infeasible total, …
  as in the map's legend), buildings, joint units, communities and buildings
  outside every community.

:func:`write_qgis_project` writes ``gridgeo.qgz`` beside it: a QGIS project
holding every layer (relative paths, so the folder can move) with the same
styles, grids labelled and above the buildings, communities on top.

The file stays a valid GeoPackage 1.2 (GDAL's ``validate_gpkg.py`` passes)
and byte-identical for the same result.  This module never runs an algorithm:
the colouring only assigns colours to finished grids.
"""

from __future__ import annotations

import logging
import sqlite3
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from ..inputs.crs import local_metric_crs
from ..labels import COLUMN_LABELS
from .styles import STATUS_STYLE, fill_colours, grid_colours

__all__ = ["describe_geopackage", "write_qgis_project", "grid_colours", "layer_qml", "LAYER_DESCRIPTIONS", "COLUMN_MEANINGS", "UNIQUE_CODES"]

logger = logging.getLogger(__name__)

#: gpkg_contents.description of each layer
LAYER_DESCRIPTIONS = {
    "communities": "社区：输入的社区边界及其户数、网格数 / communities: the input boundaries with their households and grid count",
    "grids": "网格：每个社区划分的治理网格，户数在设定区间内或注明原因 / grids: the governance grids of each community, in the household band or with the reason why not",
    "buildings": "建筑：输入的建筑及其所属网格和户数 / buildings: the input buildings with their grid and households",
    "units": "联户：网格内按走访顺序划分的联户 / joint units: groups of households in each grid, along its walking order",
    "unassigned": "未分配建筑：不在任何社区内或没有几何的建筑 / unassigned: buildings outside every community or without geometry",
    "compounds": "小区：输入的住宅小区及其所在网格 / compounds: the input residential compounds and the grids they lie in",
    "service_centres": "服务中心：党群服务中心等 / service centres",
}

#: the meaning of gridgeo's own columns (gpkg_data_columns.description), after the README's column table
COLUMN_MEANINGS = {
    "grid_code": "community code + grid number, west to east, north to south (003-07)",
    "standard_code": "standard grid code of the chosen scheme (CJ/T 349-2010, DB11/T 2157-2023 or a template)",
    "community_id": "the input community id",
    "community_code": "the 3-digit community code",
    "building_code": "building code in its community (003-B00012)",
    "unit_code": "unit number along the grid's walking order (003-07-05)",
    "households": "households",
    "n_buildings": "buildings",
    "n_units": "joint units in the grid",
    "n_grids": "grids in the community",
    "area_m2": "area in square metres (local metric CRS)",
    "polsby_popper": "compactness 4πA/P² (0-1)",
    "status": "in_band, or why the grid is outside the household band",
    "reason": "why the grid (or unit) is outside its band, in English",
    "reason_zh": "why the grid (or unit) is outside its band, in Chinese",
    "barrier_crossings": "barrier blocks the grid spans minus one",
    "grid_type": "ordinary or dedicated grid",
    "facility_type": "the facility of a dedicated grid",
    "households_estimated": "true when households were estimated, not given",
    "helpers_n": "the N of the 1+1+1+N team: part-time grid workers needed",
    "tour_m": "walking tour through all the grid's buildings (m)",
    "workload_index": "workload relative to the community's mean (1.0)",
    "workload_flag": "workload above --workload-factor times the community's mean",
    "centre_id": "the nearest service centre",
    "centre_name": "the nearest service centre",
    "walk_m": "walk to the nearest service centre (m)",
    "walk_min": "walk to the nearest service centre (minutes)",
    "walk_route": "the walk measured along roads or in a straight line",
    "coverage_flag": "farther than --walk-limit from every service centre",
    "members": "building_code:first-last household numbers of the unit",
    "in_band": "whether the unit's households are in the unit band",
    "valid_from": "first day the grid is valid",
    "valid_to": "last day the grid is valid",
    "responsible_unit": "the unit responsible for the grid",
    "locked": "true when a planner locked the grid (apply-edits): updates keep it as it is",
}
#: aliases of columns without a label in gridgeo.labels (Chinese, English)
_MORE_LABELS = {
    "n_grids": ("网格数", "grids"),
    "polsby_popper": ("紧凑度", "compactness"),
    "reason": ("原因（英文）", "reason (English)"),
    "reason_zh": ("原因", "reason (Chinese)"),
    "barrier_crossings": ("跨越障碍次数", "barrier crossings"),
    "grid_type": ("网格类型", "grid type"),
    "facility_type": ("专属设施类型", "facility type"),
    "in_band": ("户数在区间内", "in band"),
    "locked": ("已锁定", "locked"),
}
#: the column of each layer that is a unique key
UNIQUE_CODES = {"grids": "grid_code", "buildings": "building_code", "units": "unit_code"}
#: gridgeo's columns in each layer (input columns of buildings and communities get no alias)
_OWN_COLUMNS = {
    "communities": ("community_id", "community_code", "households", "n_grids"),
    "grids": tuple(COLUMN_MEANINGS),
    "buildings": ("building_code", "community_code", "grid_code", "households", "households_estimated"),
    "units": ("unit_code", "grid_code", "community_id", "community_code", "households", "n_buildings", "members", "in_band", "reason", "reason_zh"),
    "unassigned": ("reason",),
    "compounds": ("community_id", "community_code", "grid_code", "households", "status", "reason"),
    "service_centres": ("centre_id", "centre_name"),
}
_STYLE_TIME = pd.Timestamp("2000-01-01T00:00:00Z")  # layer_styles.update_time: fixed, for byte-identical files
_DASHES = {None: "solid", "8 5": "dash", "2 6": "dot", "6 3": "dash", "1 4": "dot"}


def alias(column: str) -> tuple[str, str] | None:
    """(Chinese name, English title) of one of gridgeo's columns, or None.

    Examples
    --------
    >>> alias("grid_code"), alias("reason_zh"), alias("height_m")
    (('网格编码', 'grid code'), ('原因', 'reason (Chinese)'), None)
    """
    if column in _MORE_LABELS:
        return _MORE_LABELS[column]
    if column in COLUMN_LABELS:
        return COLUMN_LABELS[column]["zh"], COLUMN_LABELS[column]["en"]
    return None


# -- QML -----------------------------------------------------------------------------------------------


def _rgba(hex_colour: str, alpha: int = 255) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"{r},{g},{b},{alpha}"


def _props(values: dict[str, str]) -> str:
    return "".join(f"<prop k={quoteattr(k)} v={quoteattr(str(v))}/>" for k, v in values.items())


def _data_defined(properties: dict[str, str]) -> str:
    """A symbol layer's data-defined properties: name → expression."""
    items = "".join(
        f'<Option type="Map" name={quoteattr(name)}><Option type="bool" value="true" name="active"/>'
        f'<Option type="QString" value={quoteattr(expression)} name="expression"/><Option type="int" value="3" name="type"/></Option>'
        for name, expression in properties.items()
    )
    inner = f'<Option type="Map" name="properties">{items}</Option>' if items else '<Option name="properties"/>'
    return f'<data_defined_properties><Option type="Map"><Option type="QString" value="" name="name"/>{inner}<Option type="QString" value="collection" name="type"/></Option></data_defined_properties>'


def _fill_symbol(name: str, fill: str | None, outline: str, width: float, *, style: str = "solid", alpha: float = 1.0, data_defined: dict | None = None) -> str:
    layer = _props(
        {
            "border_width_map_unit_scale": "3x:0,0,0,0,0,0",
            "color": _rgba(fill) if fill else "0,0,0,0",
            "joinstyle": "bevel",
            "offset": "0,0",
            "offset_map_unit_scale": "3x:0,0,0,0,0,0",
            "offset_unit": "MM",
            "outline_color": _rgba(outline),
            "outline_style": style,
            "outline_width": f"{width:g}",
            "outline_width_unit": "MM",
            "style": "solid" if fill else "no",
        }
    )
    return (
        f'<symbol type="fill" name={quoteattr(name)} alpha="{alpha:g}" clip_to_extent="1" force_rhr="0">{_data_defined({})}'
        f'<layer class="SimpleFill" enabled="1" locked="0" pass="0">{layer}{_data_defined(data_defined or {})}</layer></symbol>'
    )


def _marker_symbol(name: str, fill: str, outline: str, size: float) -> str:
    layer = _props(
        {
            "angle": "0",
            "color": _rgba(fill),
            "joinstyle": "bevel",
            "name": "circle",
            "offset": "0,0",
            "offset_unit": "MM",
            "outline_color": _rgba(outline),
            "outline_style": "solid",
            "outline_width": "0.2",
            "outline_width_unit": "MM",
            "scale_method": "diameter",
            "size": f"{size:g}",
            "size_unit": "MM",
            "vertical_anchor_point": "1",
            "horizontal_anchor_point": "1",
        }
    )
    return (
        f'<symbol type="marker" name={quoteattr(name)} alpha="1" clip_to_extent="1" force_rhr="0">{_data_defined({})}'
        f'<layer class="SimpleMarker" enabled="1" locked="0" pass="0">{layer}{_data_defined({})}</layer></symbol>'
    )


def _status_outline() -> dict[str, str]:
    """Data-defined outline colour, width and dashes of a grid by its status (the map's legend)."""

    def case(value) -> str:
        whens = " ".join(f"WHEN \"status\" = '{status}' THEN {value(style)}" for status, style in STATUS_STYLE.items() if not status.startswith("_"))
        return f'CASE {whens} ELSE {value(STATUS_STYLE["_other"])} END'

    return {
        "outlineColor": case(lambda s: f"'{_rgba(s['color'])}'"),
        # the map's weights are screen pixels; 0.3 mm per pixel at print scale, at least 0.4 mm
        "outlineWidth": case(lambda s: f"{max(0.4, 0.3 * s['weight']):g}"),
        "outlineStyle": case(lambda s: f"'{_DASHES.get(s['dashArray'], 'dash')}'"),
    }


def _labels(field: str, size: float = 9) -> str:
    return (
        '<labeling type="simple"><settings calloutType="simple">'
        f'<text-style fieldName={quoteattr(field)} isExpression="0" fontSize="{size:g}" fontSizeUnit="Point" fontWeight="75" fontItalic="0" '
        'textColor="20,20,20,255" textOpacity="1" namedStyle="Bold" multilineHeight="1" allowHtml="0" capitalization="0" previewBkgrdColor="255,255,255,255">'
        '<families/><text-buffer bufferDraw="1" bufferSize="0.8" bufferSizeUnits="MM" bufferColor="255,255,255,255" bufferOpacity="0.85" bufferJoinStyle="128" bufferNoFill="1"/>'
        '<text-mask maskEnabled="0"/><background shapeDraw="0"/><shadow shadowDraw="0"/><dd_properties/><substitutions/></text-style>'
        '<text-format wrapChar="" multilineAlign="3" autoWrapLength="0" plussign="0" reverseDirectionSymbol="0" addDirectionSymbol="0" formatNumbers="0" decimals="3"/>'
        '<placement placement="1" placementFlags="10" centroidInside="1" centroidWhole="0" fitInPolygonOnly="0" priority="5" overrunDistance="0" dist="0" offsetType="0" quadOffset="4" xOffset="0" yOffset="0" layerType="PolygonGeometry"/>'
        '<rendering obstacle="1" obstacleFactor="1" obstacleType="1" displayAll="0" upsidedownLabels="0" labelPerPart="0" mergeLines="0" limitNumLabels="0" maxNumLabels="2000" minFeatureSize="0" scaleVisibility="0" fontLimitPixelSize="0" drawLabels="1" zIndex="0"/>'
        "<dd_properties>" + _data_defined({})[len("<data_defined_properties>") : -len("</data_defined_properties>")] + "</dd_properties>"
        "</settings></labeling>"
    )


def _aliases(columns: list[str]) -> str:
    items = []
    for index, column in enumerate(columns):
        names = alias(column)
        if names:
            items.append(f'<alias field={quoteattr(column)} index="{index}" name={quoteattr(names[0])}/>')
    return f"<aliases>{''.join(items)}</aliases>"


#: shapely's geometry type ids and names
_KIND_NAMES = ("Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon", "GeometryCollection")


def _geometry_kinds(frame: gpd.GeoDataFrame) -> set[str]:
    """The geometry type names in a layer (``geom_type`` of its non-missing geometries), from the distinct type ids.

    Examples
    --------
    >>> import shapely
    >>> sorted(_geometry_kinds(gpd.GeoDataFrame(geometry=[shapely.Point(0, 0), None, shapely.box(0, 0, 1, 1), shapely.Point(1, 1)])))
    ['Point', 'Polygon']
    """
    if not len(frame):
        return set()
    return {_KIND_NAMES[kind] for kind in np.unique(shapely.get_type_id(frame.geometry.to_numpy())).tolist() if kind >= 0}


def layer_qml(layer: str, frame: gpd.GeoDataFrame, *, colours: np.ndarray | None = None) -> str:
    """The QGIS style (QML) of one layer of ``partition.gpkg``.

    Parameters
    ----------
    layer : str
        ``grids``, ``buildings``, ``units``, ``communities``, ``unassigned``,
        ``compounds`` or ``service_centres``.
    frame : GeoDataFrame
        The layer as written (its columns give the aliases; its geometry the symbol).
    colours : ndarray, optional
        For ``grids``: the colour index of each row (:func:`grid_colours`).

    Returns
    -------
    str
        A QML document: symbology, labels (grid codes) and Chinese field aliases.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> g = gpd.GeoDataFrame({"grid_code": ["a", "b"], "status": ["in_band", "in_band"]}, geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)], crs=32651)
    >>> qml = layer_qml("grids", g, colours=grid_colours(g))
    >>> 'type="categorizedSymbol"' in qml and '<val value="a" type="string"/>' in qml and 'fieldName="grid_code"' in qml
    True
    """
    columns = [str(c) for c in frame.columns if c != frame.geometry.name]
    kinds = _geometry_kinds(frame)
    points = bool(kinds) and kinds <= {"Point", "MultiPoint"}
    labels_on = False
    if layer == "grids" and colours is not None and len(frame):
        palette = fill_colours(int(colours.max()) + 1)
        codes = frame["grid_code"].astype(str).to_numpy()
        categories, symbols = [], []
        for k in range(int(colours.max()) + 1):
            members = sorted(codes[colours == k])
            if not members:
                continue
            values = "".join(f"<val value={quoteattr(code)} type=\"string\"/>" for code in members)
            name = str(len(symbols))
            categories.append(f'<category symbol="{name}" label={quoteattr(f"颜色 {k + 1} / colour {k + 1}")} render="true" type="string">{values}</category>')
            symbols.append(_fill_symbol(name, palette[k], STATUS_STYLE["in_band"]["color"], 0.4, alpha=0.8, data_defined=_status_outline()))
        renderer = (
            f'<renderer-v2 type="categorizedSymbol" attr="grid_code" symbollevels="0" forceraster="0" enableorderby="0" referencescale="-1">'
            f'<categories>{"".join(categories)}</categories><symbols>{"".join(symbols)}</symbols>'
            f'<source-symbol>{_fill_symbol("0", palette[0], "#333333", 0.4)}</source-symbol><rotation/><sizescale/></renderer-v2>'
        )
        labels_on = True
    else:
        if points:
            symbol = _marker_symbol("0", "#636363" if layer != "unassigned" else "#e41a1c", "#252525", 2.2)
        elif layer == "buildings":
            symbol = _fill_symbol("0", "#9e9e9e", "#4d4d4d", 0.15, alpha=0.85)
        elif layer == "units":
            symbol = _fill_symbol("0", None, "#2b8cbe", 0.3, style="dash")
        elif layer == "communities":
            symbol = _fill_symbol("0", None, "#000000", 1.0)
        elif layer == "unassigned":
            symbol = _fill_symbol("0", "#e41a1c", "#99000d", 0.3, alpha=0.7)
        elif layer == "compounds":
            symbol = _fill_symbol("0", None, "#756bb1", 0.6, style="dash")
        else:
            symbol = _fill_symbol("0", "#fdae61", "#a6611a", 0.3)
        renderer = f'<renderer-v2 type="singleSymbol" symbollevels="0" forceraster="0" enableorderby="0" referencescale="-1"><symbols>{symbol}</symbols><rotation/><sizescale/></renderer-v2>'
    labeling = _labels("grid_code") if labels_on else ""
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        f'<qgis version="3.22.16-Białowieża" styleCategories="Symbology|Labeling|Fields" labelsEnabled="{1 if labels_on else 0}">'
        f"{renderer}{labeling}{_aliases(columns)}<layerGeometryType>{0 if points else 2}</layerGeometryType></qgis>\n"
    )


# -- the GeoPackage --------------------------------------------------------------------------------------


_DATA_COLUMNS_DDL = (
    "CREATE TABLE gpkg_data_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL, name TEXT, title TEXT, "
    "description TEXT, mime_type TEXT, constraint_name TEXT, CONSTRAINT pk_gdc PRIMARY KEY (table_name, column_name), "
    "CONSTRAINT gdc_tn UNIQUE (table_name, name))"
)
_CONSTRAINTS_DDL = (
    "CREATE TABLE gpkg_data_column_constraints (constraint_name TEXT NOT NULL, constraint_type TEXT NOT NULL, value TEXT, "
    "min NUMERIC, min_is_inclusive BOOLEAN, max NUMERIC, max_is_inclusive BOOLEAN, description TEXT, "
    "CONSTRAINT gdcc_ntv UNIQUE (constraint_name, constraint_type, value))"
)
_SCHEMA_EXTENSION = "http://www.geopackage.org/spec120/#extension_schema"


def describe_geopackage(path: str | Path, layers: list[tuple[str, gpd.GeoDataFrame]], *, colours: np.ndarray | None = None) -> dict[str, str]:
    """Add descriptions, field aliases, unique code indexes and QGIS styles to a written GeoPackage.

    Parameters
    ----------
    path : str or Path
        ``partition.gpkg`` as :func:`gridgeo.outputs.export.write_outputs` wrote it.
    layers : list of (name, GeoDataFrame)
        The layers written, in order (the styles follow their columns and geometry).
    colours : ndarray of int, optional
        The colour index of each row of the ``grids`` layer, the map's
        (:func:`gridgeo.outputs.styles.plan_colours`); by default the grids are
        coloured afresh.

    Returns
    -------
    dict
        Layer name → its QML style (as stored in ``layer_styles``).

    Raises
    ------
    sqlite3.IntegrityError
        A code column holds a value twice (a bug: codes are unique by construction).

    Examples
    --------
    >>> import sqlite3, tempfile, geopandas as gpd, shapely
    >>> g = gpd.GeoDataFrame({"grid_code": ["001-01"], "households": [320]}, geometry=[shapely.box(0, 0, 1, 1)], crs=32651)
    >>> p = tempfile.mkdtemp() + "/p.gpkg"
    >>> g.to_file(p, layer="grids")
    >>> sorted(describe_geopackage(p, [("grids", g)]))
    ['grids']
    >>> sqlite3.connect(p).execute("SELECT column_name, name FROM gpkg_data_columns").fetchall()
    [('grid_code', '网格编码'), ('households', '户数')]
    """
    path = Path(path)
    styles = []
    for name, frame in layers:
        fills = None
        if name == "grids":
            fills = colours if colours is not None else grid_colours(frame.to_crs(local_metric_crs(frame)) if frame.crs is not None else frame)
        styles.append(
            {
                "f_table_catalog": "",
                "f_table_schema": "",
                "f_table_name": name,
                "f_geometry_column": "geom",
                "styleName": name,
                "styleQML": layer_qml(name, frame, colours=fills),
                "styleSLD": "",
                "useAsDefault": True,
                "description": f"gridgeo: {LAYER_DESCRIPTIONS.get(name, name)}",
                "owner": "",
                "ui": None,
                "update_time": _STYLE_TIME,
            }
        )
    if styles:
        # through GDAL, as QGIS itself creates it: an attribute table registered in gpkg_contents, FID "id"
        table = pd.DataFrame(styles)
        pyogrio.write_dataframe(table, path, layer="layer_styles", driver="GPKG", layer_options={"FID": "id"})
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA synchronous = OFF")  # a file being written (a staging folder): no waiting for the disk; the same bytes
        geometry_columns = dict(db.execute("SELECT table_name, column_name FROM gpkg_geometry_columns").fetchall())
        if styles and any(geometry_columns.get(s["f_table_name"], "geom") != "geom" for s in styles):
            for style in styles:
                db.execute("UPDATE layer_styles SET f_geometry_column = ? WHERE f_table_name = ?", (geometry_columns.get(style["f_table_name"], "geom"), style["f_table_name"]))
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for table_name, ddl in (("gpkg_data_columns", _DATA_COLUMNS_DDL), ("gpkg_data_column_constraints", _CONSTRAINTS_DDL)):
            if table_name not in tables:  # GDAL creates them only for fields with an alternative name or comment
                db.execute(ddl)
            if not db.execute("SELECT 1 FROM gpkg_extensions WHERE table_name = ? AND extension_name = 'gpkg_schema'", (table_name,)).fetchone():
                db.execute(
                    "INSERT INTO gpkg_extensions (table_name, column_name, extension_name, definition, scope) VALUES (?, NULL, 'gpkg_schema', ?, 'read-write')",
                    (table_name, _SCHEMA_EXTENSION),
                )
        for name, frame in layers:
            db.execute("UPDATE gpkg_contents SET description = ? WHERE table_name = ?", (LAYER_DESCRIPTIONS.get(name, ""), name))
            stored = {row[1] for row in db.execute(f'PRAGMA table_info("{name}")')}
            own = _OWN_COLUMNS.get(name, ())
            for column in [str(c) for c in frame.columns]:
                names = alias(column)
                if column not in own or column not in stored or names is None:
                    continue
                db.execute(
                    "INSERT OR REPLACE INTO gpkg_data_columns (table_name, column_name, name, title, description) VALUES (?, ?, ?, ?, ?)",
                    (name, column, names[0], names[1], COLUMN_MEANINGS.get(column)),
                )
            code = UNIQUE_CODES.get(name)
            if code and code in stored:
                db.execute(f'CREATE UNIQUE INDEX "uq_{name}_{code}" ON "{name}" ("{code}")')
    logger.debug("described %s: %d layers, %d styles", path, len(layers), len(styles))
    return {style["f_table_name"]: style["styleQML"] for style in styles}


#: the project's layer order, top first (outlines above fills, grids above buildings)
_PROJECT_ORDER = ("communities", "compounds", "units", "service_centres", "unassigned", "grids", "buildings")
_PROJECT_NAMES = {
    "communities": "社区 communities",
    "grids": "网格 grids",
    "buildings": "建筑 buildings",
    "units": "联户 joint units",
    "unassigned": "未分配建筑 unassigned",
    "compounds": "小区 compounds",
    "service_centres": "服务中心 service centres",
}
_QGZ_DATE = (1980, 1, 1, 0, 0, 0)


def _spatialrefsys(crs) -> str:
    if crs is None:
        return "<spatialrefsys/>"
    authority = crs.to_authority()
    authid = f"{authority[0]}:{authority[1]}" if authority else ""
    return (
        f"<spatialrefsys><wkt>{escape(crs.to_wkt())}</wkt>"
        f"<authid>{escape(authid)}</authid><description>{escape(crs.name)}</description></spatialrefsys>"
    )


def write_qgis_project(folder: str | Path, layers: list[tuple[str, gpd.GeoDataFrame]], styles: dict[str, str], *, gpkg: str = "partition.gpkg") -> Path:
    """Write ``gridgeo.qgz``: a QGIS project of every layer of ``gpkg`` (relative paths), with ``styles``.

    Parameters
    ----------
    folder : str or Path
        The output folder holding ``gpkg``.
    layers : list of (name, GeoDataFrame)
        The layers written (their geometry type and CRS go into the project).
    styles : dict
        Layer name → QML, as :func:`describe_geopackage` returns.

    Returns
    -------
    Path
        ``folder / "gridgeo.qgz"``; byte-identical for the same layers (fixed ZIP dates).
    """
    folder = Path(folder)
    by_name = dict(layers)
    crs = next((frame.crs for _, frame in layers if frame.crs is not None), None)
    order = [name for name in _PROJECT_ORDER if name in by_name] + [name for name, _ in layers if name not in _PROJECT_ORDER]
    tree, maplayers = [], []
    for name in order:
        frame = by_name[name]
        ident = f"gridgeo_{name}"
        source = f"./{gpkg}|layername={name}"
        label = _PROJECT_NAMES.get(name, name)
        kinds = _geometry_kinds(frame)
        geometry = "Point" if kinds and kinds <= {"Point", "MultiPoint"} else "Polygon"
        qml = styles.get(name, "")
        body = qml[qml.index(">", qml.index("<qgis ")) + 1 : qml.rindex("</qgis>")] if "<qgis " in qml else ""
        labels_on = 'labelsEnabled="1"' in qml
        tree.append(f'<layer-tree-layer id="{ident}" name={quoteattr(label)} source={quoteattr(source)} providerKey="ogr" checked="Qt::Checked" expanded="0"><customproperties/></layer-tree-layer>')
        maplayers.append(
            f'<maplayer type="vector" geometry="{geometry}" labelsEnabled="{1 if labels_on else 0}" readOnly="0" autoRefreshEnabled="0" hasScaleBasedVisibilityFlag="0">'
            f"<id>{ident}</id><datasource>{escape(source)}</datasource><layername>{escape(label)}</layername>"
            f"<abstract>{escape(LAYER_DESCRIPTIONS.get(name, ''))}</abstract>"
            f'<srs>{_spatialrefsys(frame.crs)}</srs><provider encoding="UTF-8">ogr</provider>{body}</maplayer>'
        )
    project = (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        '<qgis projectname="gridgeo" version="3.22.16-Białowieża">'
        '<homePath path=""/><title>gridgeo</title>'
        f"<projectCrs>{_spatialrefsys(crs)}</projectCrs>"
        f'<layer-tree-group><customproperties/>{"".join(tree)}<custom-order enabled="0"/></layer-tree-group>'
        f"<projectlayers>{''.join(maplayers)}</projectlayers>"
        '<properties><Paths><Absolute type="bool">false</Absolute></Paths>'
        '<SpatialRefSys><ProjectionsEnabled type="int">1</ProjectionsEnabled></SpatialRefSys></properties>'
        "</qgis>\n"
    )
    target = folder / "gridgeo.qgz"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("gridgeo.qgs", date_time=_QGZ_DATE)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        archive.writestr(info, project.encode("utf-8"))
    return target
