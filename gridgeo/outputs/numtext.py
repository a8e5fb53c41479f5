"""Numbers as text by array arithmetic: four digits at a time from tables, the unused bytes deleted at the end.

The writers of large texts (the GeoJSON coordinates of
:mod:`gridgeo.outputs.geojson`, the map's integer lists of
:mod:`gridgeo.outputs.map_json`) lay each number out in a row of 4-byte words:
a word is four digits taken from a table of the 10,000 groups (one gather of a
32-bit integer per number), and every byte a number does not use (a leading
zero of its integer part, a trailing zero of its decimals, the padding after
a short word) is a zero byte.  The rows, read in order with the zero bytes
deleted (:func:`compact`, one ``bytes.translate`` in C), are the text.  No
byte of a text is ever zero, so nothing else is deleted.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["word", "integer_words", "fraction_words", "compact"]

#: numbers of four digits: one word
_GROUP = 10_000


@functools.lru_cache(maxsize=1)
def _tables() -> dict[str, np.ndarray]:
    """The words of the groups 0-9999 (uint32, one per group) with and without their leading or trailing zeros.

    ``pad``: all four digits; ``lead``: leading zeros deleted, ``0`` left for 0;
    ``lead0``: leading zeros deleted, nothing for 0; ``trail1``: trailing zeros
    deleted, ``0`` left for 0; ``trail0``: trailing zeros deleted, nothing for 0.
    """
    numbers = np.arange(_GROUP)
    digits = (np.stack([numbers // 1000, numbers // 100 % 10, numbers // 10 % 10, numbers % 10], axis=1) + ord("0")).astype(np.uint8)
    zero = digits == ord("0")
    leading = np.logical_and.accumulate(zero, axis=1)
    trailing = np.logical_and.accumulate(zero[:, ::-1], axis=1)[:, ::-1]
    tables = {"pad": digits}
    tables["lead0"] = np.where(leading, 0, digits).astype(np.uint8)
    leading[:, 3] = False  # the last digit stays: "0"
    tables["lead"] = np.where(leading, 0, digits).astype(np.uint8)
    tables["trail0"] = np.where(trailing, 0, digits).astype(np.uint8)
    trailing[:, 0] = False  # the first digit stays: "0"
    tables["trail1"] = np.where(trailing, 0, digits).astype(np.uint8)
    return {name: np.ascontiguousarray(table).view(np.uint32).ravel() for name, table in tables.items()}


def word(text: bytes) -> np.uint32:
    """The word of up to four bytes of text (zero bytes after them).

    Examples
    --------
    >>> compact(np.array([[word(b"[-"), word(b"7")]], dtype=np.uint32))
    b'[-7'
    """
    if len(text) > 4 or b"\0" in text:
        raise ValueError(f"a word holds at most four bytes and no zero byte: {text!r}")
    return np.frombuffer(text.ljust(4, b"\0"), dtype=np.uint32)[0]


def _groups(numbers: np.ndarray, count: int) -> list[np.ndarray]:
    """The four-digit groups of non-negative integers below 10**(4 * count), most significant first."""
    groups = []
    rest = numbers
    for _ in range(count - 1):
        higher = rest // _GROUP  # division by a constant: numpy's fast path, unlike ``%``
        groups.append(rest - higher * _GROUP)
        rest = higher
    groups.append(rest)
    return groups[::-1]


def integer_words(numbers: np.ndarray, count: int) -> list[np.ndarray]:
    """The words of the decimal digits of non-negative integers below 10**(4 * count), leading zeros deleted (at least ``0``).

    Examples
    --------
    >>> columns = integer_words(np.array([0, 7, 10_000, 123_456_789]), 3)
    >>> [compact(row) for row in np.stack(columns, axis=1)]
    [b'0', b'7', b'10000', b'123456789']
    """
    tables = _tables()
    groups = _groups(np.asarray(numbers, dtype=np.int64), count)
    words = []
    higher_zero = None  # the groups before this one are all zero
    for i, group in enumerate(groups):
        last = i == count - 1
        alone = tables["lead" if last else "lead0"][group]
        if higher_zero is None:
            words.append(alone)
            higher_zero = group == 0
        else:
            words.append(np.where(higher_zero, alone, tables["pad"][group]))
            higher_zero &= group == 0
    return words


def fraction_words(fraction: np.ndarray, precision: int) -> list[np.ndarray]:
    """The words of the ``precision`` decimals of ``fraction`` / 10**precision, trailing zeros deleted (at least one digit).

    ``fraction`` holds non-negative integers below 10**precision.

    Examples
    --------
    >>> columns = fraction_words(np.array([0, 5_000_000, 4_920_057, 1]), 7)
    >>> [compact(row) for row in np.stack(columns, axis=1)]
    [b'0', b'5', b'4920057', b'0000001']
    """
    tables = _tables()
    count = max(1, -(-precision // 4))
    scaled = np.asarray(fraction, dtype=np.int64) * 10 ** (4 * count - precision)  # the decimals left-aligned in whole groups
    groups = _groups(scaled, count)
    words: list[np.ndarray] = [None] * count  # type: ignore[list-item]
    lower_zero = None  # the groups after this one are all zero
    for i in range(count - 1, -1, -1):
        group = groups[i]
        alone = tables["trail1" if i == 0 else "trail0"][group]
        if lower_zero is None:
            words[i] = alone
            lower_zero = group == 0
        else:
            words[i] = np.where(lower_zero, alone, tables["pad"][group])
            lower_zero &= group == 0
    return words


def compact(words: np.ndarray) -> bytes:
    """The bytes of ``words`` (rows of uint32 words, row by row, whatever their layout in memory) without their zero bytes.

    Examples
    --------
    >>> compact(np.array([[word(b"1"), word(b",")], [word(b"-23"), word(b",")]], dtype=np.uint32))
    b'1,-23,'
    """
    return words.tobytes(order="C").translate(None, b"\0")
