"""One figure style for the whole book, CJK-aware.

Chapters call :func:`use_book_style` once in their set-up cell and then plot with plain matplotlib,
so every figure has the same size, resolution and fonts. The article's labels are Chinese; those need
a CJK font, which the project's set-up installs on Debian (``fonts-noto-cjk``). Where no such font is
found (Colab, macOS without it), :func:`zh` returns the English gloss instead, so no figure ever
shows empty boxes or emits missing-glyph warnings.
"""

from __future__ import annotations

import functools
import glob

import matplotlib
import matplotlib.pyplot as plt
from matplotlib import font_manager

from .validation import require_positive_int, require_type

#: Families tried in order; the first one matplotlib can load is used for Chinese labels.
CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "WenQuanYi Micro Hei")
#: Where Debian and Ubuntu put the Noto CJK fonts; added by path if matplotlib's font cache predates them.
CJK_FONT_GLOBS = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "/usr/share/fonts/**/NotoSansCJK*.tt[cf]")

FIGSIZE = (6.0, 3.5)
DPI = 100


@functools.lru_cache(maxsize=1)
def cjk_family() -> str | None:
    """Name of an installed CJK font family matplotlib can use, or ``None``.

    Why the glob: matplotlib caches its font list on first import; a font installed later (for example
    by ``make setup`` after matplotlib was first used) is invisible until added by path.
    """
    known = {f.name for f in font_manager.fontManager.ttflist}
    if not known.intersection(CJK_FAMILIES):
        for pattern in CJK_FONT_GLOBS:
            for path in glob.glob(pattern, recursive=True):
                font_manager.fontManager.addfont(path)
        known = {f.name for f in font_manager.fontManager.ttflist}
    return next((family for family in CJK_FAMILIES if family in known), None)


def zh(chinese: str, english: str) -> str:
    """The Chinese label when a CJK font is available, else its English gloss."""
    require_type("chinese", chinese, str)
    require_type("english", english, str)
    return chinese if cjk_family() else english


def use_book_style() -> None:
    """Apply the book's figure style: small, readable, ≤ 100 dpi, CJK font as a fallback family."""
    family = cjk_family()
    matplotlib.rcParams.update(
        {
            "figure.figsize": FIGSIZE,
            "figure.dpi": DPI,
            "savefig.dpi": DPI,
            "figure.constrained_layout.use": True,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titlesize": 11,
            "axes.labelsize": 10,
            "legend.fontsize": 9,
            # A list of families (not the generic "sans-serif") is what turns on matplotlib's per-glyph
            # fallback: Latin from DejaVu Sans, Chinese from the CJK family.
            "font.family": ["DejaVu Sans", *([family] if family else [])],
            "axes.unicode_minus": False,
        }
    )


def subplots(ncols: int = 1, nrows: int = 1, *, width: float | None = None, height: float | None = None):
    """``plt.subplots`` at the book's size, widening with the number of panels.

    Returns ``(fig, axes)`` exactly like matplotlib, so readers meet nothing new.
    """
    ncols = require_positive_int("ncols", ncols)
    nrows = require_positive_int("nrows", nrows)
    w = width if width is not None else min(FIGSIZE[0] * ncols * 0.8, 12.0) if ncols > 1 else FIGSIZE[0]
    h = height if height is not None else FIGSIZE[1] * (nrows if nrows > 1 else 1) * (0.85 if nrows > 1 else 1)
    return plt.subplots(nrows, ncols, figsize=(w, h), squeeze=True)
