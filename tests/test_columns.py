"""The writers' column helpers say of every value what ``pd.isna`` and the per-value code said before."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from gridgeo.outputs.columns import _flags, _values_missing
from gridgeo.outputs.editmodel import _text


def _flag_one(value):
    """The map's per-value rule (before the column-wise helpers): None when missing, else the truth of the value."""
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return bool(value)


COLUMNS = {
    "object": pd.Series(["a", None, float("nan"), pd.NaT, pd.NA, 3, 0, np.True_, False, "", 2.5], dtype=object),
    "string": pd.Series(["a", None, "", "社区"], dtype="string"),
    "arrow": pd.Series(["a", None, "b"], dtype="str"),
    "float": pd.Series([1.0, np.nan, 0.0, -2.5]),
    "int": pd.Series([1, 0, 7]),
    "bool": pd.Series([True, False]),
    "boolean": pd.Series([True, None, False], dtype="boolean"),
    "datetime": pd.Series(pd.to_datetime(["2024-01-02", None])),
    "category": pd.Series(["x", None, "y"], dtype="category"),
    "list": ["a", None, math.nan, 5],
}


@pytest.mark.parametrize("name", list(COLUMNS))
def test_missing_and_flags_match_the_per_value_rule(name):
    values = COLUMNS[name]
    objects, missing = _values_missing(values)
    assert missing == [bool(pd.isna(v)) for v in values]
    assert [o for o, m in zip(objects, missing) if not m] == [v for v in values if not pd.isna(v)]
    assert _flags(values) == [_flag_one(v) for v in values]
    assert _text(values) == ["" if pd.isna(v) else str(v) for v in values]
