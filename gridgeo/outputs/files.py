"""Writing one file atomically (a temporary file in the same folder, renamed into place), and CSV type sidecars."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import pandas as pd

__all__ = ["write_atomic", "csvt_text"]


def write_atomic(path: str | Path, data: bytes | str) -> Path:
    """Write ``data`` (text is UTF-8 with ``\\n`` line ends) to ``path`` so readers never see half a file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = write_atomic(pathlib.Path(tempfile.mkdtemp()) / "a.txt", "网格")
    >>> p.read_text(encoding="utf-8")
    '网格'
    """
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def csvt_text(frame: pd.DataFrame) -> str:
    """The ``.csvt`` line for a CSV written from ``frame``: GDAL's type of each column, in order.

    GDAL (and so QGIS and ``ogr2ogr``) reads ``NAME.csvt`` beside ``NAME.csv``
    to type the columns; without it every column is text.  Whole numbers are
    ``Integer`` (``Integer64`` beyond 32 bits), other numbers ``Real``, and
    everything else (text, flags, dates written as text) ``String``.

    Examples
    --------
    >>> csvt_text(pd.DataFrame({"grid_code": ["001-01"], "households": [312], "area_m2": [1.5], "flag": [True]}))
    '"String","Integer","Real","String"'
    """
    types = []
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_bool_dtype(values.dtype):
            types.append("String")
        elif pd.api.types.is_integer_dtype(values.dtype):
            present = values.dropna()
            wide = len(present) and (present.max() > 2**31 - 1 or present.min() < -(2**31))
            types.append("Integer64" if wide else "Integer")
        elif pd.api.types.is_float_dtype(values.dtype):
            types.append("Real")
        else:
            types.append("String")
    return ",".join(f'"{kind}"' for kind in types)


def csv_bytes(frame: pd.DataFrame, notice: str | None = None) -> bytes:
    """A table as CSV: UTF-8 with a byte-order mark (Excel shows Chinese), ``\\r\\n`` line ends, numbers with at
    most 6 decimals (the shortest text of a rounded double has no binary tail), after an optional ``notice`` line.

    Examples
    --------
    >>> csv_bytes(pd.DataFrame({"a": [0.1 + 0.2]}))
    b'\\xef\\xbb\\xbfa\\r\\n0.3\\r\\n'
    """
    frame = frame.copy()
    for column in frame.columns:
        if pd.api.types.is_float_dtype(frame[column].dtype):
            frame[column] = frame[column].round(6)
    buffer = io.StringIO()
    if notice:
        buffer.write('"' + notice.replace('"', '""') + '"\r\n')
    frame.to_csv(buffer, index=False, lineterminator="\r\n")
    return buffer.getvalue().encode("utf-8-sig")
