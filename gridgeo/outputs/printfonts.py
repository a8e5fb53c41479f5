"""Fonts of the printable maps: a CJK font with TrueType outlines that covers the page's text, found among the installed fonts."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

from ..errors import FontMissingError
from ..labels import check_lang

logger = logging.getLogger(__name__)

#: the font installed by scripts/install-system-deps.sh comes first, then other common fonts that cover Chinese
PRINT_FAMILIES = (
    "WenQuanYi Micro Hei",
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Hiragino Sans GB",
    "Heiti SC",
    "Noto Sans CJK JP",
    "Noto Sans CJK TC",
    "Noto Sans CJK KR",
    "AR PL UMing CN",
    "AR PL UKai CN",
    "Droid Sans Fallback",
)
_PROBE = "网格划分公示图社区户数建筑联户"


@dataclass(frozen=True)
class CJKFont:
    """An installed font that can draw Chinese text.

    Attributes
    ----------
    family : str
        Family name as matplotlib knows it (e.g. ``"WenQuanYi Micro Hei"``).
    path : str
        The font file.
    index : int
        Face index inside a font collection (``.ttc``).
    truetype : bool
        Whether the outlines are TrueType (``glyf``); such fonts are embedded
        in PDFs as Type 42, others as Type 3.
    """

    family: str
    path: str
    index: int
    truetype: bool


def _is_cjk(ch: str) -> bool:
    o = ord(ch)
    return 0x2E80 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF or 0xFF00 <= o <= 0xFFEF or 0x20000 <= o <= 0x3FFFF


def _needs_cjk(text: str) -> bool:
    return any(_is_cjk(ch) for ch in text)


@functools.lru_cache(maxsize=64)
def _charmap(path: str, index: int) -> frozenset[int]:
    from matplotlib import ft2font

    try:
        return frozenset(ft2font.FT2Font(path, face_index=index).get_charmap())
    except (OSError, RuntimeError, ValueError):
        return frozenset()


@functools.lru_cache(maxsize=64)
def _has_truetype_outlines(path: str, index: int) -> bool:
    from fontTools.ttLib import TTFont, TTLibError

    try:
        with TTFont(path, fontNumber=index, lazy=True) as font:
            return "glyf" in font
    except (OSError, TTLibError, AssertionError):
        return False


def find_cjk_font(text: str = _PROBE) -> CJKFont | None:
    """The installed font that best draws the Chinese characters of ``text``, or ``None``.

    Fonts of :data:`PRINT_FAMILIES` are tried first (WenQuanYi Micro Hei, the
    font ``scripts/install-system-deps.sh`` installs, leads), then every other
    font matplotlib knows, by name.  The first font that holds every CJK
    character of ``text`` wins; when none holds all of them, the one holding
    most of them (and at least the common characters of a notice) is returned.

    Parameters
    ----------
    text : str
        The text to draw (only its CJK characters matter).

    Returns
    -------
    CJKFont or None
        ``None`` when no font holds common Chinese characters.

    Examples
    --------
    >>> font = find_cjk_font("忠德里 网格划分公示图")
    >>> font is None or isinstance(font.family, str)
    True
    """
    from matplotlib import font_manager

    wanted = sorted({ord(ch) for ch in _PROBE + text if _is_cjk(ch)})
    probe = {ord(ch) for ch in _PROBE}
    entries: dict[str, object] = {}
    for entry in font_manager.fontManager.ttflist:
        if entry.style == "normal" and entry.weight in (400, "normal", "regular"):
            entries.setdefault(entry.name, entry)
    for entry in font_manager.fontManager.ttflist:
        entries.setdefault(entry.name, entry)
    order = [name for name in PRINT_FAMILIES if name in entries] + sorted(n for n in entries if n not in PRINT_FAMILIES)
    best, best_count = None, -1
    for name in order:
        entry = entries[name]
        index = int(getattr(entry, "index", 0) or 0)
        charmap = _charmap(entry.fname, index)
        if not probe <= charmap:
            continue
        count = sum(1 for code in wanted if code in charmap)
        if count > best_count:
            best, best_count = CJKFont(name, entry.fname, index, _has_truetype_outlines(entry.fname, index)), count
        if count == len(wanted):
            break
    if best is not None:
        missing = [chr(code) for code in wanted if code not in _charmap(best.path, best.index)]
        if missing:
            logger.warning("font %s lacks %d characters of the page (%s): they will show as boxes", best.family, len(missing), "".join(missing[:20]))
    return best


def check_fonts(lang: str) -> None:
    """Fail early when pages in ``lang`` cannot be printed (Chinese without a CJK font).

    Raises
    ------
    gridgeo.errors.FontMissingError
        ``lang="zh"`` and no font with Chinese characters is installed.

    Examples
    --------
    >>> check_fonts("en")  # English needs no CJK font
    """
    check_lang(lang)
    if lang == "zh" and find_cjk_font() is None:
        raise _no_font_error("a printed map in Chinese")


def _has_bold(family: str) -> bool:
    """Whether matplotlib knows a bold (weight ≥ 600) face of ``family``."""
    from matplotlib import font_manager

    for entry in font_manager.fontManager.ttflist:
        if entry.name == family:
            weight = entry.weight if isinstance(entry.weight, int) else font_manager.weight_dict.get(str(entry.weight), 400)
            if weight >= 600:
                return True
    return False


def _no_font_error(what: str) -> FontMissingError:
    return FontMissingError(
        f"{what} needs a font with Chinese characters, and matplotlib knows none — fix: run `bash scripts/install-system-deps.sh` "
        "(it installs fonts-wqy-microhei), then remove matplotlib's font cache (~/.cache/matplotlib) so the new font is "
        "found; or print with lang='en' (--lang en)"
    )
