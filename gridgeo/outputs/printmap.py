"""Printable maps for public notice (公示): one A3-landscape page per community, as PNG and PDF.

:func:`write_print_maps` draws, for every community of a
:class:`~gridgeo.result.Partition`, one page of 420 × 297 mm with matplotlib
(the Agg and PDF backends on a :class:`matplotlib.figure.Figure`; pyplot is
never used, so no global figure state is created) and writes
``print/<community_code>.png`` and ``print/<community_code>.pdf``.

A page holds the title (community name, "… 网格划分公示图") and the date; the
community outline; its grids filled so that touching grids never share a
colour (the colouring of :mod:`gridgeo.outputs.maps`); the buildings in light grey;
each grid's code and households at a point well inside it; a legend and a
table of grid code → households, buildings, joint units and, for flagged
grids, the status and reason; a north arrow pointing to true north; a scale
bar in metres, the map being drawn in the local metric CRS at a round scale
(1:2,000, 1:2,500, …) of the printed page; and a footer with the CRS, the
households source, the data attribution and the gridgeo version.  The scale
bar and the north arrow take the corners of the map frame that leave the
community uncovered (the community is drawn a round scale smaller when every
corner is taken).  Where grid labels would collide at the page's scale (a
village core in a large rural community), the dense part is framed on the page
and enlarged on a detail page, ``print/<community_code>-detail.png`` and ``.pdf`` (``-detail-2`` … for
further dense parts).

Chinese text needs a font with Chinese characters: the one
``scripts/install-system-deps.sh`` installs (WenQuanYi Micro Hei, Debian
``fonts-wqy-microhei``) is preferred, then any other CJK font matplotlib knows
(Noto Sans CJK, Source Han Sans, …).  Without one, ``lang="zh"`` raises
:class:`~gridgeo.errors.FontMissingError`; ``lang="en"`` falls back to
DejaVu Sans and shows community ids instead of Chinese names.

The same inputs (including ``date``) give byte-identical PNG and PDF files:
the creation date and software tags are left out of both.  TrueType fonts are
embedded in the PDF as Type 42 (the text stays searchable), CFF-based fonts
as Type 3.

This module only reads a partition result; it never runs the algorithms.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import logging
import time
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import InputError, Problem
from ..labels import check_lang
from ..progress import progress_bar
from ..result import Partition
from .files import write_atomic
from .map_data import _sanitise_filename
from .printdraw import _draw_map, _draw_panel, _text
from .printfonts import CJKFont, _has_bold, _needs_cjk, _no_font_error, check_fonts, find_cjk_font
from .printpage import (
    _FRAME,
    _MAP,
    _PANEL_W,
    _PANEL_X,
    PAGE_MM,
    _detail_views,
    _page,
    _prepare,
    _Prepared,
    _t,
    _text_width_mm,
    _today,
)

__all__ = ["PAGE_MM", "CJKFont", "find_cjk_font", "check_fonts", "print_figure", "render_print_map", "write_print_maps"]

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- fonts


# --------------------------------------------------------------------------- data


# --------------------------------------------------------------------------- geometry helpers


# --------------------------------------------------------------------------- the page


def _figure(prep: _Prepared, code: str, *, lang: str, date: dt.date | None, data_attribution: str | None, detail: int = 0):
    """The page of community ``code`` as a Figure, and the CJK font it uses (``None``: DejaVu Sans only).

    With ``detail=k`` (1, 2, …), the k-th detail page instead: a part where grid
    labels collide at the main page's scale, enlarged (``None`` when there is no
    k-th such part).
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle
    from matplotlib.patheffects import Normal, Stroke
    from matplotlib.text import Text

    check_lang(lang)
    if code not in prep.codes:
        raise InputError(Problem("community", f"no community with code {code!r}", f"use one of {', '.join(prep.codes[:10])}"))
    when = _today(date)
    page = _page(prep, code, lang, when, data_attribution, ascii_only=False)
    font = find_cjk_font(page.texts()) if _needs_cjk(page.texts()) else None
    if font is None and _needs_cjk(page.texts()):
        if lang == "zh":
            raise _no_font_error("a printed map in Chinese")
        page = _page(prep, code, lang, when, data_attribution, ascii_only=True)
        if _needs_cjk(page.texts()):
            raise _no_font_error("the data attribution of the printed map")
        if not detail:
            logger.warning("no CJK font installed: community %s is printed with its id instead of its Chinese name", code)
    views = _detail_views(page)
    if detail:
        if int(detail) > len(views):
            return None
        view, focus = views[int(detail) - 1]
        page = dataclasses.replace(page, view=view, focus=focus, title=page.title + _t("detail_suffix", lang, k=int(detail)))
    else:
        page = dataclasses.replace(page, details=tuple(view for view, _ in views))
    families = [font.family, "DejaVu Sans"] if font else ["DejaVu Sans"]
    rc = {"font.family": "sans-serif", "font.sans-serif": families, "axes.unicode_minus": False}
    with matplotlib.rc_context(rc):
        fig = Figure(figsize=(PAGE_MM[0] / 25.4, PAGE_MM[1] / 25.4), dpi=100)
        FigureCanvasAgg(fig)  # no pyplot: nothing global is created
        paper = fig.add_axes([0.0, 0.0, 1.0, 1.0])
        paper.set_xlim(0.0, PAGE_MM[0])
        paper.set_ylim(0.0, PAGE_MM[1])
        paper.set_axis_off()
        paper.add_patch(Rectangle((_FRAME, _FRAME), PAGE_MM[0] - 2 * _FRAME, PAGE_MM[1] - 2 * _FRAME, facecolor="none", edgecolor="#111111", linewidth=1.2))
        paper.plot([_FRAME, PAGE_MM[0] - _FRAME], [267.0, 267.0], color="#111111", linewidth=0.6)
        paper.plot([_FRAME, PAGE_MM[0] - _FRAME], [18.0, 18.0], color="#111111", linewidth=0.4)
        title_size = 22.0
        while title_size > 12.0 and _text_width_mm(page.title, title_size) > 300.0:
            title_size -= 1.0
        _text(paper, _MAP[0], 283.5, page.title, title_size, va="top", fontweight="bold")
        _text(paper, _MAP[0], 273.0, page.subtitle, 10.5, va="top", color="#333333")
        _text(paper, _PANEL_X + _PANEL_W, 283.5, page.date, 12.0, va="top", ha="right")
        _text(paper, _MAP[0], 13.0, page.footer_left, 7.5, va="center", color="#333333")
        if page.footer_right:
            _text(paper, _PANEL_X + _PANEL_W, 13.0, page.footer_right, 7.5, va="center", ha="right", color="#333333")
        scale, neighbours_shown = _draw_map(fig, page, prep.metric)
        _draw_panel(paper, page, neighbours_shown)
    # the families go onto every text, so the figure draws the same outside this rc_context too;
    # a CJK font without a bold face (WenQuanYi Micro Hei) gets bold drawn as a thin outline
    faux_bold = font is not None and not _has_bold(font.family)
    for text in fig.findobj(Text):
        text.set_fontfamily(families)
        if faux_bold and text.get_fontweight() in ("bold", 700):
            text.set_fontweight("normal")
            text.set_path_effects([*text.get_path_effects(), Stroke(linewidth=0.6, foreground=text.get_color()), Normal()])
    logger.debug("community %s: %d grids, %d buildings, scale 1:%d, font %s", code, len(page.grids), len(page.buildings), scale, families[0])
    return fig, font, page.title


def _save(fig, font: CJKFont | None, dpi: int, title: str) -> tuple[bytes, bytes]:
    import matplotlib

    png, pdf = io.BytesIO(), io.BytesIO()
    fonttype = 42 if font is None or font.truetype else 3
    with matplotlib.rc_context({"pdf.fonttype": fonttype}):
        fig.savefig(png, format="png", dpi=dpi, metadata={"Software": None})
        fig.savefig(
            pdf,
            format="pdf",
            metadata={"CreationDate": None, "ModDate": None, "Creator": f"gridgeo {__version__}", "Producer": None, "Title": title},
        )
    return png.getvalue(), pdf.getvalue()


def _check_dpi(dpi) -> int:
    if isinstance(dpi, bool) or not isinstance(dpi, (int, np.integer)) or not 20 <= int(dpi) <= 600:
        raise InputError(Problem("dpi", f"{dpi!r} is not a resolution between 20 and 600 dots per inch", "use e.g. 150 (screen, quick print) or 300 (print shop)"))
    return int(dpi)


# --------------------------------------------------------------------------- public API


def print_figure(
    result: Partition,
    community_code: str,
    *,
    lang: str = "zh",
    date: dt.date | None = None,
    data_attribution: str | None = None,
    detail: int = 0,
):
    """Draw the A3-landscape notice page of one community as a matplotlib Figure.

    Parameters
    ----------
    result : Partition
        A result of :func:`gridgeo.partition` or :func:`gridgeo.read_outputs`
        (any CRS; it is not modified).
    community_code : str
        The community's code (``"001"``), as in ``result.communities``.
    lang : {"zh", "en"}
        Language of the page's words (data values are shown as they are).
    date : datetime.date, optional
        The date printed under the title (default: today, or
        ``$SOURCE_DATE_EPOCH`` when set).
    data_attribution : str, optional
        Source and licence of the input data, shown in the footer.
    detail : int
        Draw the ``detail``-th detail page instead (1, 2, …): a part of the
        community where grid labels would collide at the main page's scale,
        enlarged (the main page frames each such part, numbered).

    Returns
    -------
    matplotlib.figure.Figure or None
        420 × 297 mm, attached to an Agg canvas (not to pyplot); ``None`` for
        ``detail=k`` when the main page has fewer than k such parts.

    Raises
    ------
    gridgeo.errors.FontMissingError
        ``lang="zh"`` (or Chinese text in ``data_attribution``) and no font
        with Chinese characters is installed.
    gridgeo.errors.InputError
        Unknown language or community code, or a result that is not gridgeo's.

    Examples
    --------
    >>> import datetime, geopandas as gpd, shapely, gridgeo
    >>> c = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[shapely.box(0, 0, 200, 100)], crs=32651)
    >>> b = gpd.GeoDataFrame({"hh": [100] * 4}, geometry=[shapely.box(20 + 40 * i, 40, 30 + 40 * i, 50) for i in range(4)], crs=32651)
    >>> fig = print_figure(gridgeo.partition(c, b, households="hh"), "001", lang="en", date=datetime.date(2026, 1, 5))
    >>> [round(v * 25.4) for v in fig.get_size_inches()]
    [420, 297]
    >>> "Date: 2026-01-05" in [t.get_text() for t in fig.axes[0].texts]
    True
    """
    drawn = _figure(_prepare(result), str(community_code), lang=lang, date=date, data_attribution=data_attribution, detail=detail)
    return None if drawn is None else drawn[0]


def render_print_map(
    result: Partition,
    community_code: str,
    *,
    lang: str = "zh",
    dpi: int = 150,
    date: dt.date | None = None,
    data_attribution: str | None = None,
) -> tuple[bytes, bytes]:
    """Render one community's notice page as PNG and PDF bytes.

    Parameters
    ----------
    result, community_code, lang, date, data_attribution
        As for :func:`print_figure`.
    dpi : int
        PNG resolution (20–600): 150 gives 2480 × 1754 pixels, 300 is print-shop
        quality.  The PDF is vector and does not depend on it.

    Returns
    -------
    (bytes, bytes)
        The PNG and the PDF.  The same arguments give the same bytes (no
        creation date or software tags).

    Examples
    --------
    >>> import datetime, geopandas as gpd, shapely, gridgeo
    >>> c = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[shapely.box(0, 0, 200, 100)], crs=32651)
    >>> b = gpd.GeoDataFrame({"hh": [100] * 4}, geometry=[shapely.box(20 + 40 * i, 40, 30 + 40 * i, 50) for i in range(4)], crs=32651)
    >>> png, pdf = render_print_map(gridgeo.partition(c, b, households="hh"), "001", lang="en", dpi=30, date=datetime.date(2026, 1, 5))
    >>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n", pdf[:5]
    (True, b'%PDF-')
    """
    dpi = _check_dpi(dpi)
    fig, font, title = _figure(_prepare(result), str(community_code), lang=lang, date=date, data_attribution=data_attribution)
    return _save(fig, font, dpi, title)


def write_print_maps(
    result: Partition,
    outdir: str | Path,
    *,
    lang: str = "zh",
    dpi: int = 150,
    date: dt.date | None = None,
    data_attribution: str | None = None,
    progress: bool = False,
) -> list[Path]:
    """Write ``outdir/print/<community_code>.png`` and ``.pdf`` for every community.

    Parameters
    ----------
    result : Partition
        The partition to print.
    outdir : str or Path
        Folder to write into; ``print/`` is created in it.  Each file is written
        atomically; file names come from the sanitised community codes only.
    lang, dpi, date, data_attribution
        As for :func:`render_print_map`.
    progress : bool
        Show a progress bar over the communities (stderr).

    Returns
    -------
    list of Path
        The files written, PNG then PDF per community, by community code;
        where grid labels would collide at the page's scale, a detail page
        follows (``<community_code>-detail.png`` and ``.pdf``, then
        ``-detail-2`` …: each dense part enlarged, and framed on the main page).

    Raises
    ------
    gridgeo.errors.FontMissingError
        ``lang="zh"`` and no font with Chinese characters is installed (nothing
        is written).

    Examples
    --------
    >>> import datetime, tempfile, geopandas as gpd, shapely, gridgeo
    >>> c = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[shapely.box(0, 0, 200, 100)], crs=32651)
    >>> b = gpd.GeoDataFrame({"hh": [100] * 4}, geometry=[shapely.box(20 + 40 * i, 40, 30 + 40 * i, 50) for i in range(4)], crs=32651)
    >>> paths = write_print_maps(gridgeo.partition(c, b, households="hh"), tempfile.mkdtemp(), lang="en", dpi=30)
    >>> [p.name for p in paths]
    ['001.png', '001.pdf']
    """
    check_lang(lang)
    dpi = _check_dpi(dpi)
    prep = _prepare(result)
    when = _today(date)
    folder = Path(outdir) / "print"
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    taken: set[str] = set()
    started = time.perf_counter()
    for code in progress_bar(prep.codes, enabled=progress, desc="print", unit="community"):
        t0 = time.perf_counter()
        fig, font, title = _figure(prep, code, lang=lang, date=when, data_attribution=data_attribution)
        png, pdf = _save(fig, font, dpi, title)
        stem, n = _sanitise_filename(code), 2
        name = stem
        while name.lower() in taken:
            name, n = f"{stem}-{n}", n + 1
        taken.add(name.lower())
        for suffix, data in ((".png", png), (".pdf", pdf)):
            written.append(write_atomic(folder / f"{name}{suffix}", data))
        k = 1
        while (extra := _figure(prep, code, lang=lang, date=when, data_attribution=data_attribution, detail=k)) is not None:
            # labels collide at the page's scale: each dense part enlarged on a page of its own
            png, pdf = _save(extra[0], extra[1], dpi, extra[2])
            detail_name = f"{name}-detail" + (f"-{k}" if k > 1 else "")
            taken.add(detail_name.lower())
            for suffix, data in ((".png", png), (".pdf", pdf)):
                written.append(write_atomic(folder / f"{detail_name}{suffix}", data))
            k += 1
        logger.debug("printed community %s in %.2f s", code, time.perf_counter() - t0)
    logger.info("wrote %d printable maps (PNG + PDF, A3) into %s in %.1f s", len(prep.codes), folder, time.perf_counter() - started)
    return written
