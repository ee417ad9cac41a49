"""The mermaid subset parser, the article's diagrams, and the chapters' copies of them."""

import json
from pathlib import Path

import matplotlib.pyplot as plt
import networkx as nx
import pytest

from roadmap_lib import diagrams, plotting
from roadmap_lib.diagrams import MermaidSyntaxError, parse_mermaid

BOOK = Path(__file__).resolve().parents[1] / "book"


def notebook_markdown(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def book_fences() -> list[tuple[str, str]]:
    found = []
    for path in sorted(BOOK.glob("*.ipynb")) + sorted(BOOK.glob("*.md")):
        text = notebook_markdown(path) if path.suffix == ".ipynb" else path.read_text(encoding="utf-8")
        found += [(path.name, block) for block in diagrams.mermaid_blocks(text)]
    return found


def test_parses_labels_edges_and_direction():
    graph = parse_mermaid("graph TD\n    A[NLP技术路线] --> B[语义理解]\n    A --> C\n")
    assert graph.graph["direction"] == "TD"
    assert set(graph.edges) == {("A", "B"), ("A", "C")}
    assert graph.nodes["A"]["label"] == "NLP技术路线"
    assert graph.nodes["C"]["label"] == "C"  # a bare id is its own label


@pytest.mark.parametrize("header", ["graph TD", "flowchart TD", "flowchart LR", "graph TB"])
def test_accepts_supported_headers(header):
    assert parse_mermaid(f"{header}\nA-->B").number_of_edges() == 1


def test_blank_lines_comments_lone_nodes_and_no_final_newline():
    graph = parse_mermaid("\n%% a comment\ngraph TD\n\n    A[x]\n    A --> B[y]")
    assert graph.number_of_nodes() == 2 and graph.nodes["B"]["label"] == "y"


def test_later_label_fills_in_a_bare_id():
    graph = parse_mermaid("graph TD\nA --> B\nB[named later] --> C")
    assert graph.nodes["B"]["label"] == "named later"


@pytest.mark.parametrize(
    "text, line",
    [
        ("sequenceDiagram\nA->>B: hi", 1),
        ("graph TD\nA[x] --> B[y]\nA -.-> C", 3),
        ("graph TD\nA[x] --> B[y]\nA[z] --> C", 3),
        ("graph TD\nA[unclosed --> B", 2),
        ("", 1),
    ],
)
def test_rejects_unsupported_input_with_line_number(text, line):
    with pytest.raises(MermaidSyntaxError, match=f"line {line}"):
        parse_mermaid(text)


def test_rejects_non_string():
    with pytest.raises(TypeError, match="text"):
        parse_mermaid(b"graph TD")
    with pytest.raises(TypeError, match="markdown must be str"):
        diagrams.mermaid_blocks(b"```mermaid\ngraph TD\nA-->B\n```\n")


def test_article_has_14_diagrams_68_nodes_54_edges():
    found = diagrams.article_diagrams()
    assert [d.id for d in found] == [f"D{i:02d}" for i in range(1, 15)]
    merged = diagrams.merge(found)
    assert (merged.number_of_nodes(), merged.number_of_edges()) == (68, 54)
    assert nx.number_weakly_connected_components(merged) == 14
    assert all(nx.is_tree(d.graph) for d in found)


def test_glossary_glosses_every_label_once():
    labels = {data["label"] for d in diagrams.article_diagrams() for _, data in d.graph.nodes(data=True)}
    gloss = diagrams.glossary()
    assert set(gloss) == labels
    assert all(english and english != chinese for chinese, english in gloss.items())


def test_every_fence_in_the_book_parses():
    for name, block in book_fences():
        parse_mermaid(block)  # raises with the line number if a chapter carries a malformed diagram


def test_chapters_show_their_article_diagrams_verbatim():
    fences = {}
    for name, block in book_fences():
        fences.setdefault(name, []).append(block)
    for diagram in diagrams.article_diagrams():
        notebook = BOOK / f"{diagram.chapter}.ipynb"
        if not notebook.exists():
            continue  # that chapter has not been written yet
        assert diagram.source in fences.get(notebook.name, []), f"{diagram.id} missing or altered in {notebook.name}"


def test_merge_rejects_empty_and_wrong_types():
    with pytest.raises(ValueError, match="diagrams"):
        diagrams.merge([])
    with pytest.raises(TypeError, match=r"diagrams\[0\]"):
        diagrams.merge(["graph TD\nA-->B"])


def test_tree_layout_puts_parents_above_and_centred():
    graph = parse_mermaid("graph TD\nA --> B\nA --> C")
    pos = diagrams.tree_layout(graph)
    assert pos["A"][1] > pos["B"][1] == pos["C"][1]
    assert pos["A"][0] == pytest.approx((pos["B"][0] + pos["C"][0]) / 2)


def test_tree_layout_rejects_cycles():
    with pytest.raises(ValueError, match="acyclic"):
        diagrams.tree_layout(parse_mermaid("graph TD\nA --> B\nB --> A"))


@pytest.mark.parametrize("english", [True, False])
def test_draw_emits_no_missing_glyph_warnings(english, recwarn):
    if not english and plotting.cjk_family() is None:
        pytest.skip("no CJK font installed (make setup installs fonts-noto-cjk on Debian)")
    ax = diagrams.draw(diagrams.article_diagrams()[0].graph, english=english)
    ax.figure.canvas.draw()
    assert not [w for w in recwarn if "missing from font" in str(w.message)]
    plt.close(ax.figure)


def test_draw_rejects_empty_graph():
    with pytest.raises(ValueError, match="no nodes"):
        diagrams.draw(nx.DiGraph())


def test_grouped_layout_keeps_article_order_and_one_row_per_part():
    merged = diagrams.merge(diagrams.article_diagrams())
    pos = diagrams.tree_layout(merged, group_by="part")
    assert pos["D01/A"][0] < pos["D02/A"][0] and pos["D01/A"][1] == pos["D02/A"][1]
    assert pos["D03/A"][1] < pos["D01/A"][1]  # part II sits below part I
    with pytest.raises(ValueError, match="group_by='colour'"):
        diagrams.tree_layout(merged, group_by="colour")


def test_glossary_page_lists_every_term_with_its_section():
    page = (BOOK / "glossary.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(): line for line in page.splitlines() if line.startswith("| ") and "中文" not in line}
    assert set(rows) == set(diagrams.glossary())
    for chinese, english, section in diagrams.glossary_rows():
        assert english in rows[chinese] and f"§{section}" in rows[chinese]
