"""The article's mermaid diagrams as ``networkx`` graphs: parse, merge, draw.

The article summarises each section with a small mermaid ``graph TD`` tree. The chapters show those
fences as they are (JupyterLab and the HTML book render them); this module turns the same text into
graphs, so the book can draw them where mermaid does not render (Colab), merge all fourteen into one
roadmap map, and build the glossary and a small triple store from their labels.

Only the subset the article uses is accepted, and anything else is rejected with its line number:
a silently half-parsed diagram would be worse than none.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from importlib import resources

import networkx as nx

from .validation import require_non_empty, require_type

_HEADER = re.compile(r"^(?:graph|flowchart)\s+(TD|TB|LR)\s*;?$")
_NODE = r"([A-Za-z_][\w]*)(?:\[([^\[\]]+)\])?"
_EDGE = re.compile(rf"^{_NODE}\s*-->\s*{_NODE}\s*;?$")
_LONE_NODE = re.compile(rf"^{_NODE}\s*;?$")
_FENCE = re.compile(r"^```mermaid[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


class MermaidSyntaxError(ValueError):
    """A mermaid line outside the supported subset; the message names the line number and text."""


def parse_mermaid(text: str) -> nx.DiGraph:
    """Parse a mermaid ``graph TD`` / ``flowchart TD|LR`` diagram into a ``DiGraph``.

    Supported lines: the header, ``ID[label] --> ID[label]`` (labels optional), a lone ``ID[label]``,
    blank lines and ``%%`` comments. Node attribute ``label`` holds the label (the id when none is
    given); the graph attribute ``direction`` holds ``TD``/``TB``/``LR``.
    """
    require_type("text", text, str)
    graph = nx.DiGraph()
    header_seen = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("%%"):
            continue
        if not header_seen:
            match = _HEADER.match(line)
            if not match:
                raise MermaidSyntaxError(
                    f"line {number}: expected 'graph TD' or 'flowchart TD|LR', got {raw!r}"
                )
            graph.graph["direction"] = match.group(1)
            header_seen = True
            continue
        edge = _EDGE.match(line)
        if edge:
            src, src_label, dst, dst_label = edge.groups()
            _add_node(graph, src, src_label, number)
            _add_node(graph, dst, dst_label, number)
            graph.add_edge(src, dst)
            continue
        lone = _LONE_NODE.match(line)
        if lone:
            _add_node(graph, lone.group(1), lone.group(2), number)
            continue
        raise MermaidSyntaxError(f"line {number}: unsupported mermaid syntax {raw!r}")
    if not header_seen:
        raise MermaidSyntaxError("line 1: empty diagram, expected 'graph TD' or 'flowchart TD|LR'")
    return graph


def _add_node(graph: nx.DiGraph, node: str, label: str | None, number: int) -> None:
    """Add ``node``; a second, different label for the same id is a contradiction, not an update."""
    label = label.strip() if label else None
    if node in graph:
        if label and graph.nodes[node]["label"] not in (node, label):
            raise MermaidSyntaxError(
                f"line {number}: node {node!r} relabelled from {graph.nodes[node]['label']!r} to {label!r}"
            )
        if label:
            graph.nodes[node]["label"] = label
    else:
        graph.add_node(node, label=label or node)


def mermaid_blocks(markdown: str) -> list[str]:
    """The bodies of all ```` ```mermaid ```` fences in a markdown string, in order."""
    require_type("markdown", markdown, str)
    return [m.group(1) for m in _FENCE.finditer(markdown)]


@dataclass(frozen=True)
class ArticleDiagram:
    """One of the article's diagrams with where it belongs in the book."""

    id: str  # D01 … D14, in article order
    part: str  # I … V
    section: str  # the article's numbering, e.g. "1.2"
    chapter: str  # notebook stem, e.g. "01_nlp"
    source: str  # the mermaid text, verbatim

    @property
    def graph(self) -> nx.DiGraph:
        return parse_mermaid(self.source)


def article_diagrams() -> list[ArticleDiagram]:
    """The article's 14 diagrams, read from the package's copy of them (``assets/article_diagrams.md``)."""
    text = resources.files("roadmap_lib").joinpath("assets/article_diagrams.md").read_text("utf-8")
    found = []
    for heading, body in re.findall(r"^## (D\d\d \|[^\n]*)\n```mermaid\n(.*?)^```", text, re.M | re.S):
        ident, part, section, chapter = (field.strip() for field in heading.split("|"))
        found.append(ArticleDiagram(ident, part, section, chapter, body))
    return found


def glossary_rows() -> list[tuple[str, str, str]]:
    """Every label in the article's diagrams as ``(chinese, english, section that teaches it)``."""
    path = resources.files("roadmap_lib").joinpath("assets/glossary.tsv")
    with path.open(encoding="utf-8") as handle:
        return [(row["chinese"], row["english"], row["section"]) for row in csv.DictReader(handle, delimiter="\t")]


def glossary() -> dict[str, str]:
    """Every label in the article's diagrams, Chinese → English gloss."""
    return {chinese: english for chinese, english, _ in glossary_rows()}


def merge(diagrams: list[ArticleDiagram]) -> nx.DiGraph:
    """Merge diagrams into one graph; node ids become ``"D03/A"`` so no two diagrams collide.

    Each node keeps ``label`` and gains ``diagram``, ``part`` and ``section`` attributes (used to colour
    the roadmap map). The article's diagrams share no node, so the result is their disjoint union.
    """
    require_non_empty("diagrams", diagrams)
    merged = nx.DiGraph()
    for i, diagram in enumerate(diagrams):
        require_type(f"diagrams[{i}]", diagram, ArticleDiagram)
        graph = diagram.graph
        for node, data in graph.nodes(data=True):
            merged.add_node(f"{diagram.id}/{node}", label=data["label"], diagram=diagram.id,
                            part=diagram.part, section=diagram.section)
        merged.add_edges_from((f"{diagram.id}/{u}", f"{diagram.id}/{v}") for u, v in graph.edges)
    return merged


def tree_layout(
    graph: nx.DiGraph, *, group_by: str | None = None, x_gap: float = 1.0, y_gap: float = 1.0
) -> dict[str, tuple[float, float]]:
    """Top-down layered positions: roots on top, each parent centred over its children.

    Components sit side by side; with ``group_by="part"`` the components of each part get a row of
    their own (the roadmap map: one row per part of the article). Why not ``graphviz_layout``: graphviz
    is a system package the book does not need, and for the article's trees this is exact.
    """
    require_type("graph", graph, nx.DiGraph)
    if not nx.is_directed_acyclic_graph(graph):
        raise ValueError("graph must be acyclic to be drawn as a tree")
    if group_by is None:
        return _forest_layout(graph, x_gap, y_gap)
    missing = [n for n, data in graph.nodes(data=True) if group_by not in data]
    if missing:
        raise ValueError(f"group_by={group_by!r}: node {missing[0]!r} has no such attribute")
    positions: dict[str, tuple[float, float]] = {}
    top = 0.0
    groups = dict.fromkeys(data[group_by] for _, data in graph.nodes(data=True))  # first-seen order
    for group in groups:
        sub = nx.DiGraph()  # built by hand: subgraph views iterate in set order, not article order
        sub.add_nodes_from((n, data) for n, data in graph.nodes(data=True) if data[group_by] == group)
        sub.add_edges_from((u, v) for u, v in graph.edges if u in sub)
        placed = _forest_layout(sub, x_gap, y_gap)
        positions.update({n: (x, y + top) for n, (x, y) in placed.items()})
        top = min(y for _, y in positions.values()) - 1.4 * y_gap
    return positions


def _forest_layout(graph: nx.DiGraph, x_gap: float, y_gap: float) -> dict[str, tuple[float, float]]:
    """Lay out every tree of ``graph`` left to right, leaves one ``x_gap`` apart."""
    positions: dict[str, tuple[float, float]] = {}
    depth: dict[str, int] = {}
    for node in nx.topological_sort(graph):
        depth[node] = 1 + max((depth[p] for p in graph.predecessors(node)), default=-1)
    next_x = 0.0

    def place(node: str) -> float:
        nonlocal next_x
        if node in positions:
            return positions[node][0]
        children = list(graph.successors(node))
        if children:
            xs = [place(child) for child in children]
            x = (min(xs) + max(xs)) / 2
        else:
            x, next_x = next_x, next_x + x_gap
        positions[node] = (x, -depth[node] * y_gap)
        return x

    for root in (n for n in graph.nodes if graph.in_degree(n) == 0):
        place(root)
        next_x += x_gap * 0.5  # a little air between trees
    return positions


def draw(
    graph: nx.DiGraph,
    ax=None,
    *,
    english: bool | None = None,
    colors: dict[str, str] | None = None,
    group_by: str | None = None,
    font_size: float = 9.0,
):
    """Draw a diagram (or a merged map) as a top-down tree with matplotlib and return the axes.

    ``english=None`` shows Chinese labels when a CJK font is installed and the English gloss otherwise
    (never boxes for missing glyphs); ``True``/``False`` force one. ``colors`` maps a node's ``part``
    attribute (or, failing that, the node id) to a colour; ``group_by`` is passed to :func:`tree_layout`.
    """
    import matplotlib.pyplot as plt

    from .plotting import cjk_family

    require_type("graph", graph, nx.DiGraph)
    if graph.number_of_nodes() == 0:
        raise ValueError("graph has no nodes to draw")
    family = cjk_family()
    if english is None:
        english = family is None
    if not english and family is None:
        raise ValueError("english=False needs a CJK font (install fonts-noto-cjk) to draw Chinese labels")
    # Chinese labels name the CJK family explicitly, so drawing is right even without the book style.
    fonts = {} if english else {"fontfamily": ["DejaVu Sans", family]}
    gloss = glossary()
    pos = tree_layout(graph, group_by=group_by)
    if ax is None:
        width = max(4.0, 1.3 * len({x for x, _ in pos.values()}))
        _, ax = plt.subplots(figsize=(min(width, 14.0), 1.1 * (1 - min(y for _, y in pos.values())) + 0.6))
    for u, v in graph.edges:
        (x0, y0), (x1, y1) = pos[u], pos[v]
        ax.annotate("", xy=(x1, y1 + 0.18), xytext=(x0, y0 - 0.18),
                    arrowprops={"arrowstyle": "-|>", "color": "0.45", "lw": 0.8})
    for node, (x, y) in pos.items():
        label = graph.nodes[node].get("label", node)
        text = gloss.get(label, label) if english else label
        key = graph.nodes[node].get("part", node)
        face = (colors or {}).get(key, "#e8eef7")
        ax.text(x, y, text.replace(" ", "\n") if english and len(text) > 14 else text,
                ha="center", va="center", fontsize=font_size, **fonts,
                bbox={"boxstyle": "round,pad=0.3", "fc": face, "ec": "0.4", "lw": 0.6})
    xs = [x for x, _ in pos.values()]
    ys = [y for _, y in pos.values()]
    ax.set_xlim(min(xs) - 0.7, max(xs) + 0.7)
    ax.set_ylim(min(ys) - 0.5, max(ys) + 0.5)
    ax.set_axis_off()
    return ax
