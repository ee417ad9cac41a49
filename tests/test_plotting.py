"""The book's figure style and the CJK fallback."""

import matplotlib
import matplotlib.pyplot as plt
import pytest

from roadmap_lib import diagrams, plotting


def test_style_sets_book_size_and_dpi():
    plotting.use_book_style()
    assert tuple(matplotlib.rcParams["figure.figsize"]) == plotting.FIGSIZE
    assert matplotlib.rcParams["figure.dpi"] == plotting.DPI <= 100


def test_zh_falls_back_to_english_without_a_cjk_font(monkeypatch):
    monkeypatch.setattr(plotting, "cjk_family", lambda: None)
    assert plotting.zh("剪枝", "pruning") == "pruning"
    with pytest.raises(ValueError, match="CJK font"):
        diagrams.draw(diagrams.article_diagrams()[0].graph, english=False)
    with pytest.raises(TypeError, match="english"):
        plotting.zh("剪枝", None)


def test_zh_uses_chinese_when_a_cjk_font_exists(monkeypatch):
    monkeypatch.setattr(plotting, "cjk_family", lambda: "Noto Sans CJK SC")
    assert plotting.zh("剪枝", "pruning") == "剪枝"


def test_subplots_widen_with_panels_and_reject_bad_counts():
    fig, axes = plotting.subplots(3)
    assert len(axes) == 3 and fig.get_size_inches()[0] > plotting.FIGSIZE[0]
    plt.close(fig)
    with pytest.raises(ValueError, match="ncols"):
        plotting.subplots(0)


def test_book_style_draws_chinese_text_without_missing_glyphs(recwarn):
    if plotting.cjk_family() is None:
        pytest.skip("no CJK font installed (make setup installs fonts-noto-cjk on Debian)")
    plotting.use_book_style()
    fig, ax = plt.subplots()
    ax.set_title("模型压缩 — model compression")
    fig.canvas.draw()
    plt.close(fig)
    assert not [w for w in recwarn if "missing from font" in str(w.message)]
