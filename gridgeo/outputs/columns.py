"""Column values for the writers: each value as a Python object and whether it is missing, in C passes over a column.

The map (:mod:`gridgeo.outputs.map_data`) and its edit model
(:mod:`gridgeo.outputs.editmodel`) turn columns of tens of thousands of rows
into lists; asking ``pd.isna`` of each value was most of their time.
"""

from __future__ import annotations

import pandas as pd

__all__: list[str] = []


def _values_missing(values) -> tuple[list, list[bool]]:
    """The values as Python objects and whether each is missing (what ``pd.isna`` says of it), in two C passes.

    Examples
    --------
    >>> _values_missing(pd.Series(["a", None, "c"], dtype="string"))[1]
    [False, True, False]
    """
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    return series.to_numpy(dtype=object).tolist(), series.isna().to_numpy().tolist()


def _flags(values) -> list:
    """Each value as True or False, None when missing, without a pandas call per value.

    Examples
    --------
    >>> _flags(pd.Series([True, None, False], dtype=object))
    [True, None, False]
    """
    objects, missing = _values_missing(values)
    return [None if m else bool(v) for v, m in zip(objects, missing)]
