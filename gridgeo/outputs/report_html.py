"""Small HTML pieces shared by the report's sections: escaped text, numbers, community codes and figures."""

from __future__ import annotations

import html
import math

import pandas as pd


def _e(value) -> str:
    """Escape any value for HTML text and attributes."""
    return html.escape("" if value is None else str(value), quote=True)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _int(value) -> str:
    return "—" if _missing(value) else f"{int(value):,}"


def _pct(value, digits: int = 1) -> str:
    return "—" if _missing(value) else f"{float(value) * 100:.{digits}f}%"


def _num(value, digits: int = 3) -> str:
    return "—" if _missing(value) else f"{float(value):.{digits}f}"


def _yes(value, t) -> str:
    return "—" if _missing(value) else (t["yes"] if bool(value) else t["no"])


def _ratio(a, b) -> str:
    return "—" if _missing(a) or _missing(b) or float(b) <= 0 else f"{float(a) / float(b):.2f}×"


def _community_codes(communities) -> dict[str, str]:
    if communities is None or "community_id" not in communities or "community_code" not in communities:
        return {}
    return {str(k): str(v) for k, v in zip(communities["community_id"], communities["community_code"])}


def _figure(prefix: str, svg: str, caption: str) -> str:
    return f'<figure id="fig-{prefix}">\n{svg}\n<figcaption>{_e(caption)}</figcaption>\n</figure>'
