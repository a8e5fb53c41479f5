"""Check a finished partition against its inputs and the hard constraints.

``audit_partition`` returns a list of violations (empty when everything
holds): every building present exactly once (assigned or unassigned), every
household counted once at every level (buildings → units → grids →
communities), every grid one polygon (except a grid a planner's edit left in pieces,
flagged ``edited_split``), grids tiling their community (no gap, no overlap, and
a valid polygonal coverage: neighbouring grids share exactly the same edge
vertices, ``shapely.coverage_is_valid``), every
grid in band or excused, every unit in band unless its grid is too small to
cut, and every input attribute value unchanged.  A grid out of band without
an excuse passes the audit only when its reason carries a proof that no
contiguous in-band split exists; it still counts as a defect in the metrics.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .arrays import THREADED_MINIMUM_LARGE, on_threads
from .inputs.crs import local_metric_crs
from .inputs.names import UNASSIGNED_COLUMNS, input_names
from .metrics import EXCUSES, PROVEN_INFEASIBLE, community_metrics

__all__ = ["audit_partition"]

_TILING_TOLERANCE = 1e-3


def _unit_band_reachable(total: int, low: int, high: int) -> bool:
    reachable = np.zeros(total + 1, dtype=bool)
    reachable[0] = True
    for p in range(1, total + 1):
        lo, hi = max(0, p - high), p - low
        if hi >= 0 and reachable[lo : hi + 1].any():
            reachable[p] = True
    return bool(reachable[total])


def _changed(before: pd.Series, after: pd.Series) -> int:
    """Rows whose value differs (missing equals missing; text compared exactly).

    Two columns of one Arrow type (pandas' text) are compared in Arrow and two
    numpy columns of one dtype as they are, without a Python object per value
    (a million buildings' text column would take two lists of a million
    strings); any other pair value by value.

    Examples
    --------
    >>> _changed(pd.Series(["a", None, "c"], dtype="str"), pd.Series(["a", None, "x"], dtype="str"))
    1
    >>> _changed(pd.Series([1.0, np.nan]), pd.Series([1.0, np.nan]))
    0
    >>> _changed(pd.Series([1, 2], dtype=object), pd.Series(["1", 2], dtype=object))
    1
    """
    quick = _changed_in_bulk(before, after)
    if quick is not None:
        return quick
    a = before.to_numpy(dtype=object)
    b = after.to_numpy(dtype=object)
    missing_a = pd.isna(before).to_numpy()
    missing_b = pd.isna(after).to_numpy()
    try:  # element-wise == in one numpy loop
        equal = np.asarray(a == b, dtype=bool)
        if equal.shape != a.shape:
            raise ValueError("not element-wise")
    except (ValueError, TypeError):  # values that are themselves arrays
        equal = np.array([bool(np.all(x == y)) for x, y in zip(a, b)], dtype=bool)
    same = (missing_a & missing_b) | (~missing_a & ~missing_b & equal)
    return int((~same).sum())


def _changed_in_bulk(before: pd.Series, after: pd.Series) -> int | None:
    """:func:`_changed` for two Arrow columns of one type or two numpy columns of one dtype; None for any other pair."""
    if len(before) != len(after):
        return None
    a, b = before.array, after.array
    arrow_a, arrow_b = getattr(a, "_pa_array", None), getattr(b, "_pa_array", None)
    if arrow_a is not None and arrow_b is not None:
        if arrow_a.type != arrow_b.type:
            return None
        import pyarrow as pa
        import pyarrow.compute as pc

        if pa.types.is_floating(arrow_a.type):  # NaN is missing for pandas, and NaN != NaN in Arrow
            return None
        try:
            equal = pc.fill_null(pc.equal(arrow_a, arrow_b), False)
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):  # a type Arrow does not compare
            return None
        same = pc.or_(pc.and_(pc.is_null(arrow_a), pc.is_null(arrow_b)), equal)
        return len(before) - int(pc.sum(same).as_py() or 0)
    if isinstance(before.dtype, np.dtype) and before.dtype == after.dtype and before.dtype.kind in "biuf":
        x, y = before.to_numpy(), after.to_numpy()
        same = x == y
        if before.dtype.kind == "f":
            same |= np.isnan(x) & np.isnan(y)
        return int((~same).sum())
    return None


def _mismatch(grids: gpd.GeoDataFrame, community_id) -> str:
    """How much of a community's grid edges do not match their neighbours' (for the audit's message)."""
    rows = grids[grids["community_id"].astype(str) == str(community_id)]
    edges = shapely.coverage_invalid_edges(rows.geometry.to_numpy())
    codes = rows["grid_code"].astype(str).to_numpy()[~shapely.is_empty(edges) & ~shapely.is_missing(edges)]
    metric = gpd.GeoSeries(edges, crs=grids.crs)
    metric = metric.to_crs(local_metric_crs(gpd.GeoDataFrame(geometry=rows.geometry, crs=grids.crs))) if grids.crs is not None else metric
    length = float(np.nansum(shapely.length(metric.to_numpy())))
    return f"{length:.1f} m of edges that do not match a neighbour's, in grids {', '.join(codes[:10])}"


def _input_rows(buildings: gpd.GeoDataFrame, frame: pd.DataFrame, key: str | None, names: dict) -> np.ndarray:
    """Per output row, the position of its input row (-1: none): by index label (a result keeps its input's labels),
    unless those rows' building ids mostly disagree — a plan read back from its files has new labels in file order —
    and the run's building id, unique in the input, matches them instead."""
    by_label = buildings.index.get_indexer_for(frame.index)
    out_key = names.get(key, key) if key else None
    if not key or key not in buildings.columns or out_key not in frame.columns or not len(frame):
        return by_label
    ids = buildings[key].astype(str)
    given = frame[out_key].astype(str).to_numpy()
    if (by_label >= 0).all() and (ids.to_numpy()[by_label] == given).mean() >= 0.5:
        return by_label  # (a value changed in a few rows, the id among them, is then a change, not a missing row)
    if ids.duplicated().any():
        return by_label
    return pd.Index(ids).get_indexer(given)


def audit_partition(
    result,
    buildings: gpd.GeoDataFrame,
    *,
    band=None,
    unit_band=None,
    quality: bool = True,
    per_community: pd.DataFrame | None = None,
) -> list[str]:
    """List every violated guarantee of ``result`` (a :class:`~gridgeo.api.Partition`).

    Parameters
    ----------
    result : Partition
    buildings : GeoDataFrame
        The buildings as given to :func:`gridgeo.partition`.
    band, unit_band : (int, int), optional
        Default: the ones recorded in ``result.report``.
    quality : bool
        Also check the band (every grid in band, excused or proven infeasible)
        and the unit band.  Without it only the integrity of the data is checked
        (what :func:`gridgeo.partition` verifies after every run).
    per_community : DataFrame, optional
        :func:`gridgeo.metrics.community_metrics` of ``result`` when already
        computed (the tiling check reads its gap and overlap ratios).

    Returns
    -------
    list of str
        Empty when every guarantee holds.
    """
    params = result.report.get("parameters", {})
    band = tuple(band or params.get("grid_size", (300, 500)))
    unit_band = tuple(unit_band or params.get("unit_size", (10, 15)))
    problems: list[str] = []
    out_b, grids, units = result.buildings, result.grids, result.units
    # every building once
    if len(out_b) + len(result.unassigned) != len(buildings):
        problems.append(f"{len(buildings)} buildings in, {len(out_b)} assigned + {len(result.unassigned)} unassigned out")
    if len(out_b) and (out_b["grid_code"].astype(str) == "").any():
        problems.append(f"{int((out_b['grid_code'] == '').sum())} assigned buildings have no grid")
    unique_codes = not out_b["building_code"].duplicated().any()
    if not unique_codes:
        problems.append("duplicate building codes")
    if grids["grid_code"].duplicated().any():
        problems.append("duplicate grid codes")
    if len(units) and units["unit_code"].duplicated().any():
        problems.append("duplicate unit codes")
    scheme = params.get("code_scheme") or "default"
    if scheme != "default" and len(grids):
        from .governance.standard_codes import check_standard_codes

        if "standard_code" not in grids.columns:
            problems.append(f"code scheme {scheme} but the grids have no standard_code")
        else:
            problems += check_standard_codes(grids, scheme)
    # attributes unchanged (input index labels are kept on the output rows; a plan read back from its files is
    # matched by its building id, when the run had one)
    renamed = input_names(buildings.columns)  # input columns named as gridgeo's own keep input_… names in the buildings
    for frame, names in ((out_b, renamed), (result.unassigned, input_names(buildings.columns, UNASSIGNED_COLUMNS))):
        if not len(frame):
            continue  # (no unassigned building: a plan read back has no such layer at all)
        rows = _input_rows(buildings, frame, params.get("building_id"), names)  # one column taken at a time, not a copy of the whole input
        if (rows < 0).any():
            problems.append(f"{int((rows < 0).sum())} output rows have no input row")
            continue
        for column in buildings.columns:
            if column == buildings.geometry.name:
                continue
            name = names.get(column, column)
            if name not in frame.columns:
                problems.append(f"input column {column!r} missing from the output")
                continue
            # a slice of rows at a time: the reordered copy of a million buildings' column is never whole
            before, after = buildings[column], frame[name]
            changed = sum(_changed(before.iloc[rows[i : i + _COMPARED_ROWS]], after.iloc[i : i + _COMPARED_ROWS]) for i in range(0, len(rows), _COMPARED_ROWS))
            if changed:
                problems.append(f"input column {column!r} changed in {changed} rows")
    # households at every level
    per_grid = out_b.groupby("grid_code")["households"].sum()
    g_hh = grids.set_index("grid_code")["households"]
    if not per_grid.reindex(g_hh.index, fill_value=0).astype(int).equals(g_hh.astype(int)):
        problems.append("grid households differ from the sum of their buildings")
    if len(units):
        u_hh = units.groupby("grid_code")["households"].sum().reindex(g_hh.index, fill_value=0)
        if not u_hh.astype(int).equals(g_hh.astype(int)):
            problems.append("unit households differ from their grid's households")
        # each building's households covered exactly once by unit members
        if getattr(result, "households", None) is not None:
            problems += _register_problems(result.households, units, out_b)
        if getattr(result, "households", None) is None:
            covered = _member_households(units["members"])
            if covered is None or not _covers_exactly(covered, out_b, unique=unique_codes):
                problems.append("unit members do not cover every household exactly once")
    c_hh = result.communities.set_index("community_id")["households"]
    g_by_c = grids.groupby("community_id")["households"].sum().reindex(c_hh.index, fill_value=0)
    if not g_by_c.astype(int).equals(c_hh.astype(int)):
        problems.append("community households differ from the sum of their grids")
    # geometry: one piece, tiling
    kinds = shapely.get_type_id(grids.geometry.to_numpy())
    # a planner's edit may leave a grid in pieces on purpose: kept, flagged edited_split and listed in edits.json
    edited_split = grids["status"].astype(str).to_numpy() == "edited_split" if "status" in grids else np.zeros(len(grids), dtype=bool)
    pieces = (kinds != 3) & ~(edited_split & (kinds == 6))
    if pieces.any():
        problems.append(f"{int(pieces.sum())} grids are not one polygon: {grids['grid_code'][pieces].tolist()[:10]}")
    invalid = ~on_threads(shapely.is_valid, grids.geometry.to_numpy(), minimum=THREADED_MINIMUM_LARGE)  # grids: large polygons
    if invalid.any():
        problems.append(f"{int(invalid.sum())} grid polygons are not valid: {grids['grid_code'][invalid].tolist()[:10]}")
    per_comm = per_community if per_community is not None else community_metrics(grids, result.communities, band=band)
    bad = per_comm[(per_comm["gap_ratio"] > _TILING_TOLERANCE) | (per_comm["overlap_ratio"] > _TILING_TOLERANCE)]
    for row in bad.itertuples():
        problems.append(f"community {row.community_id}: gap {row.gap_ratio:.2e}, overlap {row.overlap_ratio:.2e} of its area")
    if "coverage_valid" in per_comm:
        for row in per_comm[~per_comm["coverage_valid"].astype(bool)].itertuples():
            problems.append(f"community {row.community_id}: its grids are not a valid polygonal coverage ({_mismatch(grids, row.community_id)})")
    if not quality:
        return problems
    # band
    hh = grids["households"].to_numpy()
    out_of_band = (hh < band[0]) | (hh > band[1])
    unexcused = out_of_band & ~np.isin(grids["status"].astype(str).to_numpy(), EXCUSES)
    unproven = unexcused & ~grids["reason"].astype(str).str.startswith(PROVEN_INFEASIBLE).to_numpy()
    if unproven.any():
        problems.append(f"{int(unproven.sum())} grids out of band without an excuse or a proof: {grids['grid_code'][unproven].tolist()[:10]}")
    flagged_without_reason = (grids["status"] != "in_band") & (grids["reason"].astype(str) == "")
    if flagged_without_reason.any():
        problems.append("flagged grids without a reason")
    # units
    if len(units):
        bad_units = units[~units["in_band"].astype(bool)]
        for code in bad_units["grid_code"].unique():
            total = int(g_hh[code])
            if _unit_band_reachable(total, *unit_band):
                problems.append(f"grid {code} ({total} households) has units out of band though an exact cut exists")
    return problems


def _arrow_text(values: pd.Series):
    """``values`` as an Arrow string array, without a Python string per value where pandas keeps them in Arrow."""
    import pyarrow as pa

    arrow = getattr(values.array, "_pa_array", None)
    if arrow is not None and (pa.types.is_string(arrow.type) or pa.types.is_large_string(arrow.type)):
        return arrow.cast(pa.large_string())  # one key type for the join below
    return pa.array(values.astype(str).to_numpy(dtype=object), type=pa.large_string())


def _member_households(members: pd.Series):
    """Households per building code listed by the units' ``members`` (``code:first-last`` items joined by ``;``).

    Read as columns (Arrow's string kernels), not item by item: a city's
    hundreds of thousands of units are parsed in a few array passes.  The code
    is everything before an item's last ``:``.  Returns an Arrow table with
    columns ``code`` and ``n_sum`` (one row per code), or ``None`` when an item
    is not of that form (which no complete partition writes).

    Examples
    --------
    >>> table = _member_households(pd.Series(["A:1-10;B:1-2", "B:3-12", "C:D:1-1"]))
    >>> dict(zip(table.column("code").to_pylist(), table.column("n_sum").to_pylist()))
    {'A': 10, 'B': 12, 'C:D': 1}
    >>> _member_households(pd.Series(["A:1-10;B"])) is None
    True
    """
    import pyarrow as pa

    sums = []
    for start in range(0, len(members), _MEMBER_ROWS):  # a slice at a time, from the text on: its copies stay small at city scale
        texts = _arrow_text(members.iloc[start : start + _MEMBER_ROWS])
        if texts.null_count:  # a unit without members
            return None
        part = _counted_items(texts)
        del texts
        if part is None:
            return None
        sums.append(_summed_by_code(part.column("code"), part.column("n")).rename_columns(["code", "n"]))
    whole = pa.concat_tables(sums) if sums else pa.table({"code": pa.array([], pa.large_string()), "n": pa.array([], pa.int64())})
    return _summed_by_code(whole.column("code"), whole.column("n"))


def _summed_by_code(codes, counts):
    """The table (``code``, ``n_sum``): each distinct code once, in the order of first appearance, with its counts summed.

    Arrow's dictionary encoding numbers the codes and numpy sums per number:
    no Python string per code, and none of Arrow's query engine (whose
    import alone is a hundredth of a second of every run).

    Examples
    --------
    >>> import pyarrow as pa
    >>> t = _summed_by_code(pa.chunked_array([["A", "B"], ["A"]], pa.large_string()), pa.chunked_array([[1, 2], [3]], pa.int64()))
    >>> t.column("code").to_pylist(), t.column("n_sum").to_pylist()
    (['A', 'B'], [4, 2])
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    codes = codes.combine_chunks() if isinstance(codes, pa.ChunkedArray) else codes
    counts = counts.combine_chunks() if isinstance(counts, pa.ChunkedArray) else counts
    encoded = pc.dictionary_encode(codes)
    number = encoded.indices.to_numpy(zero_copy_only=False).astype(np.intp)
    summed = np.zeros(len(encoded.dictionary), dtype=np.int64)
    np.add.at(summed, number, counts.to_numpy(zero_copy_only=False).astype(np.int64))
    return pa.table({"code": encoded.dictionary, "n_sum": pa.array(summed, pa.int64())})


#: units' members parsed at a time by :func:`_member_households`
_MEMBER_ROWS = 1 << 18
#: rows of an input column compared with the output's at a time by :func:`audit_partition`
_COMPARED_ROWS = 1 << 17


def _counted_items(texts):
    """Each ``code:first-last`` item of ``texts`` as a row (code, households); None when one is not of that form."""
    import pyarrow as pa
    import pyarrow.compute as pc

    items = pc.list_flatten(pc.split_pattern(texts, ";"))
    code_span = pc.split_pattern(items, ":", max_splits=1, reverse=True)
    del items
    if not pc.all(pc.equal(pc.list_value_length(code_span), 2)).as_py():
        return None
    first_last = pc.split_pattern(pc.list_element(code_span, 1), "-", max_splits=1)
    if not pc.all(pc.equal(pc.list_value_length(first_last), 2)).as_py():
        return None
    try:
        first = pc.cast(pc.list_element(first_last, 0), pa.int64())
        last = pc.cast(pc.list_element(first_last, 1), pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # not a number
        return None
    return pa.table({"code": pc.list_element(code_span, 0), "n": pc.add(pc.subtract(last, first), 1)})


def _covers_exactly(covered, buildings: pd.DataFrame, *, unique: bool = False) -> bool:
    """Whether ``covered`` (from :func:`_member_households`) is every building with households, exactly.

    Each building code with households must appear once in ``covered`` with
    its household count, and no other code may.  Where the codes are
    ``unique`` (known to be) the two tables are joined in Arrow, so a
    million buildings' codes never become Python strings; otherwise the last
    of a repeated code counts, as in a dict.

    Examples
    --------
    >>> b = pd.DataFrame({"building_code": ["A", "B", "C"], "households": [3, 0, 2]})
    >>> covers = lambda text, unique: _covers_exactly(_member_households(pd.Series(text)), b, unique=unique)
    >>> covers(["A:1-3", "C:1-2"], True), covers(["A:1-3;C:1-1"], False), covers(["A:1-3;B:1-0;C:1-2"], True)
    (True, False, False)
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    households = buildings["households"].to_numpy()
    positive = households > 0
    codes = _arrow_text(buildings["building_code"]).filter(pa.array(positive))
    counts = households[positive].astype(np.int64)
    if not unique:  # duplicate codes maybe (reported elsewhere): the last one counts, as in a dict
        expected = dict(zip(codes.to_pylist(), counts.tolist()))
        return dict(zip(covered.column("code").to_pylist(), covered.column("n_sum").to_pylist())) == expected
    if covered.num_rows != len(counts):
        return False
    # the codes are unique on both sides and as many: every expected code found once is a one-to-one match
    found = pc.index_in(codes, value_set=covered.column("code").combine_chunks())
    if found.null_count:
        return False
    n_sum = covered.column("n_sum").to_numpy()
    return bool(np.array_equal(n_sum[found.to_numpy(zero_copy_only=False)], counts))


def _register_problems(households, units, buildings) -> list[str]:
    """A register run: every household once, in the unit its ``members`` list, each building's count covered."""
    problems = []
    if households["household_id"].duplicated().any():
        problems.append("a household is listed in more than one unit")
    listed = households.groupby("unit_code", sort=False)["household_id"].agg(";".join)
    members = units.set_index("unit_code")["members"].astype(str)
    if not listed.reindex(members.index).fillna("").equals(members):
        problems.append("unit members differ from the households table")
    per_building = households.groupby("building_code").size()
    expected = buildings.loc[buildings["households"] > 0].set_index("building_code")["households"].astype(int)
    if not per_building.reindex(expected.index, fill_value=0).astype(int).equals(expected) or len(per_building) != len(expected):
        problems.append("the households table does not hold every household of the register's buildings exactly once")
    return problems
