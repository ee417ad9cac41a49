"""What every committed notebook must be, checked without running it (nbval runs them).

These are the book's conventions that a reader would notice if broken: outputs committed, errors only
where a cell is meant to raise, the Colab install guard first, nothing loaded from a hub, and every
chapter ending with a summary, exercises with hidden solutions, and references.
"""

from __future__ import annotations

import json
import re
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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_installs_the_package_only_when_missing(path):
    first = next(c for c in cells(path) if c["cell_type"] == "code")
    source = "".join(first["source"])
    assert 'find_spec("roadmap_lib") is None' in source and "setup_notebook" in source


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
    assert exercises.count(":class: dropdown") >= 3, "3–5 exercises, each solution in a dropdown"
    assert "{cite" in text
    code = [c for c in cells(path) if c["cell_type"] == "code"]
    assert any("nbval-check-output" in tags(c) for c in code), "key numbers are checked by nbval"
    assert any("image/png" in o.get("data", {}) for c in code for o in c["outputs"]), "at least one figure"
