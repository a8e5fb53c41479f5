"""The map page's data as JSON text that is safe inside a ``<script>`` element, its integer lists written by array arithmetic.

Most of the page's data are the geometry's integer lists (:func:`gridgeo.outputs.map_geometry._encode`:
millions of micro-degree deltas at city scale).  They are :class:`Ints`: lists
that also keep their numpy array, so :func:`json_for_html` writes their text
from the array at once (:func:`int_list_text`), and leaves them out of the
escaping (:func:`safe_for_html`), which digits, signs and commas never need.
The text is the same as ``safe_for_html(json.dumps(data, ensure_ascii=False,
separators=(",", ":"), allow_nan=False))``.
"""

from __future__ import annotations

import json

import numpy as np

from .numtext import compact, integer_words, word

__all__ = ["Ints", "int_list_text", "json_for_html", "safe_for_html"]

#: values whose texts are made at a time (the byte matrix of a piece stays small)
_PIECE = 1 << 20


class Ints(list):
    """A list of Python ints that keeps the integer array it was made from (``array``), for :func:`json_for_html`.

    Made once and not changed after (the map's geometry lists): a list whose
    length no longer matches its array is written as a list.

    Examples
    --------
    >>> Ints(np.array([3, -1])), Ints(np.array([3, -1])).array.dtype
    ([3, -1], dtype('int64'))
    """

    __slots__ = ("array",)

    def __init__(self, values: np.ndarray) -> None:
        array = np.asarray(values, dtype=np.int64).ravel()
        super().__init__(array.tolist())
        self.array = array


def safe_for_html(text: str) -> str:
    """``text`` with ``<``, ``>``, ``&``, U+2028 and U+2029 as JSON escapes (no ``</``, ``<!--`` or ``]]>`` is left).

    Examples
    --------
    >>> safe_for_html('"</script>&"')
    '"\\\\u003c/script\\\\u003e\\\\u0026"'
    """
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def json_for_html(obj) -> str:
    """JSON text of ``obj`` safe inside a ``<script>`` element; :class:`Ints` in dicts are written from their arrays.

    Examples
    --------
    >>> json_for_html({"a": "</script>&", "geom": {"xy": Ints(np.array([1, -20, 300]))}, "n": [1.5, None]})
    '{"a":"\\\\u003c/script\\\\u003e\\\\u0026","geom":{"xy":[1,-20,300]},"n":[1.5,null]}'
    """
    pieces: list[str] = []
    _emit(obj, pieces)
    return "".join(pieces)


def _emit(value, pieces: list[str]) -> None:
    """Append the text of ``value`` to ``pieces``: dicts of text keys key by key, :class:`Ints` from their arrays."""
    if type(value) is Ints and len(value) == len(value.array):
        pieces.append(int_list_text(value.array))
    elif type(value) is dict and all(type(key) is str for key in value):
        pieces.append("{")
        for i, (key, item) in enumerate(value.items()):
            pieces.append(("," if i else "") + safe_for_html(_dumps(key)) + ":")
            _emit(item, pieces)
        pieces.append("}")
    else:  # as json.dumps writes it, escaped as a whole
        pieces.append(safe_for_html(_dumps(value)))


def int_list_text(values: np.ndarray) -> str:
    """The JSON text of a list of integers (``json.dumps`` with ``","`` between them), written a piece at a time with array arithmetic.

    Each value is a row of 4-byte words (its sign, its digits four at a time,
    a comma) whose unused bytes are zero; the rows without their zero bytes
    are the list's text (:mod:`gridgeo.outputs.numtext`).

    Examples
    --------
    >>> int_list_text(np.array([0, 7, -7, 10, -1234567, 99999]))
    '[0,7,-7,10,-1234567,99999]'
    >>> int_list_text(np.array([], dtype=np.int64))
    '[]'
    """
    values = np.asarray(values, dtype=np.int64).ravel()
    if not len(values):
        return "[]"
    if values.min() == np.iinfo(np.int64).min:  # its size has no int64: as Python writes it
        return _dumps(values.tolist())
    texts = []
    minus, comma = word(b"-"), word(b",")
    for start in range(0, len(values), _PIECE):
        piece = values[start : start + _PIECE]
        size = np.abs(piece)
        groups = max(1, -(-len(str(int(size.max()))) // 4))
        words = np.empty((groups + 2, len(piece)), dtype=np.uint32)  # a row per word, read across at the end
        words[0] = np.where(piece < 0, minus, 0)
        for i, column in enumerate(integer_words(size, groups)):
            words[1 + i] = column
        words[-1] = comma
        texts.append(compact(words.T).decode("ascii"))
    return "[" + "".join(texts)[:-1] + "]"
