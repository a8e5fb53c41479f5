"""Input columns that share a name with a column gridgeo adds, and the ``input_…`` names they keep in the output.

:func:`input_names` is the rule the writers of every layer follow (buildings, communities, the unassigned
buildings' ``reason``), and :func:`original_names` its inverse, with which the living plans read a plan's input
layer back.  Light on purpose: the input checks, the assembly of a result and its audit all import it.
"""

from __future__ import annotations

__all__ = ["ADDED_BUILDING_COLUMNS", "UNASSIGNED_COLUMNS", "COMMUNITY_NAME_COLUMNS", "input_names", "original_names", "names_an_id", "community_name_column", "community_names"]

#: the columns gridgeo adds to the buildings layer
ADDED_BUILDING_COLUMNS = ("building_code", "community_code", "grid_code", "households", "households_estimated")
#: the column gridgeo adds to the unassigned buildings (why each is unassigned)
UNASSIGNED_COLUMNS = ("reason",)


#: the columns of a communities layer that name a community, the first present used (map, report, edit mode, roster)
COMMUNITY_NAME_COLUMNS = ("name", "Name", "NAME", "community_name", "名称", "社区名称", "社区", "comm_name")


def community_name_column(columns) -> str | None:
    """The first of :data:`COMMUNITY_NAME_COLUMNS` among ``columns``, or None.

    Examples
    --------
    >>> community_name_column(["community_id", "社区名称", "name_en"]), community_name_column(["id"])
    ('社区名称', None)
    """
    present = set(columns)
    return next((c for c in COMMUNITY_NAME_COLUMNS if c in present), None)


def community_names(communities) -> dict[str, str]:
    """community_code → name, from the first :data:`COMMUNITY_NAME_COLUMNS` column of ``communities`` (``""`` for a
    missing value); empty without such a column or codes.

    Examples
    --------
    >>> import pandas as pd
    >>> community_names(pd.DataFrame({"community_code": ["001", "002"], "名称": ["永昌里", None]}))
    {'001': '永昌里', '002': ''}
    """
    if communities is None or "community_code" not in communities.columns:
        return {}
    column = community_name_column(communities.columns)
    if column is None:
        return {}
    import pandas as pd  # (this module stays light for its other callers)

    def text(value) -> str:
        return "" if pd.isna(value) else str(value)

    return {text(code): text(name) for code, name in zip(communities["community_code"], communities[column])}


def input_names(columns, added=ADDED_BUILDING_COLUMNS) -> dict[str, str]:
    """Input columns named as a column gridgeo adds, and the names they keep in the output.

    Each takes ``input_`` in front, once more while that name is taken too: an
    earlier gridgeo output given as input already holds ``input_households``
    beside ``households``, and both are kept.

    Parameters
    ----------
    columns : iterable of str
        The input layer's columns.
    added : tuple of str
        The columns gridgeo adds to that layer.

    Returns
    -------
    dict
        Input name → output name, for the clashing columns only.

    Examples
    --------
    >>> input_names(["bldg_id", "households"])
    {'households': 'input_households'}
    >>> input_names(["households", "input_households", "grid_code"])
    {'grid_code': 'input_grid_code', 'households': 'input_input_households'}
    """
    taken = {str(c) for c in columns}
    names = {}
    for column in added:
        if column in taken:
            name = f"input_{column}"
            while name in taken:
                name = f"input_{name}"
            names[column] = name
            taken.add(name)
    return names


def original_names(columns, added=ADDED_BUILDING_COLUMNS) -> dict[str, str]:
    """The inverse of :func:`input_names`: the output columns that hold renamed input columns, and their input names.

    For each added column ``X``, the last present of ``input_X``, ``input_input_X``, … is the one renamed from
    ``X`` (a column the input already named ``input_X`` and kept so cannot be told apart from it).

    Examples
    --------
    >>> original_names(["bldg_id", "input_grid_code", "input_input_grid_code", "grid_code"])
    {'input_input_grid_code': 'grid_code'}
    """
    present = {str(c) for c in columns}
    names = {}
    for column in added:
        name, last = f"input_{column}", None
        while name in present:
            last, name = name, f"input_{name}"
        if last is not None:
            names[last] = column
    return names


#: endings of a column name that says the column identifies its rows or holds a code
_ID_ENDINGS = ("id", "code")
#: the same in Chinese, anywhere in the name
_ID_WORDS = ("编码", "代码", "编号")


def names_an_id(name) -> bool:
    """Whether a column's name says it holds ids or codes (``…id``, ``…code``, 编码, 代码, 编号), which stay text.

    Examples
    --------
    >>> [names_an_id(n) for n in ("village_id", "BLDG_CODE", "社区编码", "hh_est", "lon")]
    [True, True, True, False, False]
    """
    text = str(name).lower()
    return text.endswith(_ID_ENDINGS) or any(word in text for word in _ID_WORDS)
