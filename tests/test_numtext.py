"""Numbers written four digits at a time (gridgeo.outputs.numtext) are the texts Python writes for them."""

from __future__ import annotations

import numpy as np
import pytest

from gridgeo.outputs.numtext import compact, fraction_words, integer_words, word


def _rows(columns: list[np.ndarray]) -> list[str]:
    return [compact(row).decode("ascii") for row in np.stack(columns, axis=1)]


def test_integers_are_their_decimal_texts():
    rng = np.random.default_rng(3)
    info = np.iinfo(np.int64)
    values = np.concatenate(
        [
            np.array([0, 1, 9, 10, 99, 100, 999, 1000, 9999, 10_000, 10_001, 99_999_999, 100_000_000, info.max]),
            10 ** rng.integers(0, 18, 500) + rng.integers(0, 10, 500),
            rng.integers(0, info.max, 500),
        ]
    )
    assert _rows(integer_words(values, 5)) == [str(v) for v in values.tolist()]
    small = values[values < 10**8]
    assert _rows(integer_words(small, 2)) == [str(v) for v in small.tolist()]  # the fewest words that hold them
    assert _rows(integer_words(np.array([0, 7, 1234]), 1)) == ["0", "7", "1234"]


@pytest.mark.parametrize("precision", [0, 1, 3, 4, 5, 7, 8, 9])
def test_decimals_are_the_shortest_decimals_python_writes(precision):
    """``whole.fraction`` as ``repr`` writes a double rounded to ``precision`` decimals: no trailing zeros, at least one digit."""
    rng = np.random.default_rng(precision)
    fraction = np.concatenate([np.array([0, 1, 10**precision - 1]), rng.integers(0, 10**precision, 2000)]) % max(10**precision, 1)
    fraction = fraction[fraction < 10**precision]
    texts = _rows(fraction_words(fraction, precision))
    expected = [repr(round(1 + int(f) / 10**precision, precision))[2:] for f in fraction.tolist()]
    assert texts == expected
    if precision:
        assert texts[:2] == ["0", "0" * (precision - 1) + "1"]


def test_words_and_compact():
    assert compact(np.array([[word(b"[-"), word(b""), word(b"1234")]], dtype=np.uint32)) == b"[-1234"
    with pytest.raises(ValueError):
        word(b"12345")
    with pytest.raises(ValueError):
        word(b"a\0")
