"""The built HTML book in a real browser (headless Chromium over file://), offline.

The book is built here from the committed notebooks without re-executing them (nbval, in the same
`make test`, proves those outputs still come out), so this test checks what readers get: diagrams drawn,
math typeset, no request to any other host, no console error, search and dark mode present. A
screenshot of every page goes to `_build/screenshots/`.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from browser import CHROMIUM, check_page, launch
from roadmap_lib import diagrams

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "_build" / "screenshots"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (`make setup` installs Debian's chromium as root)"
)


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = launch(playwright, tmp_path_factory.mktemp("chromium-profile"))
        yield context
        context.close()


@pytest.fixture(scope="session")
def built_book(tmp_path_factory) -> Path:
    """HTML built from the committed notebooks (execution off), with -W like `make book`."""
    out = tmp_path_factory.mktemp("book")
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    config["execute"]["execute_notebooks"] = "off"
    # local extension paths are relative to the config file, which moves to the temporary folder
    config["sphinx"]["local_extensions"] = {
        name: str(ROOT / path) for name, path in config["sphinx"].get("local_extensions", {}).items()
    }
    config_path = out / "_config.yml"
    config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run(
        [str(jupyter_book), "build", str(ROOT), "--config", str(config_path), "--path-output", str(out),
         "--builder", "html", "-W", "-n", "--keep-going"],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return out / "_build" / "html"


def book_pages(html: Path) -> list[Path]:
    return sorted((html / "book").glob("*.html"))


def test_every_page_renders_offline_without_errors(built_book, browser_context):
    pages = book_pages(built_book)
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    expected = 1 + sum(len(part["chapters"]) for part in toc.get("parts", [toc]))
    assert len(pages) >= expected, f"expected {expected} pages, built {[p.name for p in pages]}"
    failures = {}
    for page in pages:
        problems = check_page(browser_context, page, SCREENSHOTS / f"{page.stem}.png")
        if problems:
            failures[page.name] = problems
    assert not failures, failures


def test_every_article_diagram_is_on_its_chapter_page(built_book):
    """Each chapter page holds one diagram per mermaid fence of its notebook (that each one is drawn
    as SVG is checked for every page above); the chapters together hold the article's 14."""
    total = 0
    for notebook in sorted((ROOT / "book").glob("0*.ipynb")):
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        fences = sum("".join(c["source"]).count("```mermaid") for c in cells if c["cell_type"] == "markdown")
        page = built_book / "book" / f"{notebook.stem}.html"
        blocks = len(re.findall(r'<pre\s+class="mermaid"', page.read_text(encoding="utf-8")))
        assert blocks == fences, f"{page.name}: {blocks} diagrams in the HTML, {fences} fences in the notebook"
        total += fences
    assert total == len(diagrams.article_diagrams()) == 14


def test_search_index_and_dark_mode_switch(built_book, browser_context):
    index = built_book / "searchindex.js"
    assert index.is_file() and index.stat().st_size > 1000
    page = browser_context.new_page()
    page.goto((built_book / "book" / "intro.html").as_uri())
    before = page.evaluate("document.documentElement.dataset.theme")
    assert before in {"light", "dark"}
    page.locator(".theme-switch-button").first.click()
    after = page.evaluate("document.documentElement.dataset.theme")
    page.close()
    assert after != before, "the theme switch changes data-theme"


def test_check_catches_an_unrendered_diagram(tmp_path, browser_context):
    page = tmp_path / "raw.html"
    page.write_text("<html><body><pre class='mermaid'>graph TD\nA --> B</pre></body></html>")
    problems = check_page(browser_context, page, timeout_ms=1000)
    assert any("not rendered" in p for p in problems)


def test_check_catches_a_cdn_script(tmp_path, browser_context):
    page = tmp_path / "cdn.html"
    page.write_text('<html><head><script src="https://cdn.jsdelivr.net/npm/mermaid/dist/mermaid.min.js"></script>'
                    "</head><body>hi</body></html>")
    problems = check_page(browser_context, page, timeout_ms=1000)
    assert any("external host" in p for p in problems)


def test_check_passes_a_diagram_rendered_by_the_vendored_mermaid(tmp_path, browser_context):
    script = (ROOT / "book" / "_static" / "mermaid" / "mermaid.min.js").as_uri()
    page = tmp_path / "ok.html"
    page.write_text(f"<html><head><script src='{script}'></script></head><body>"
                    "<pre class='mermaid'>graph TD\nA[剪枝] --> B[量化]</pre>"
                    "<script>mermaid.initialize({startOnLoad: true});</script></body></html>")
    assert check_page(browser_context, page) == []


def test_colab_links_resolve_to_notebooks_in_the_repository(built_book):
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    prefix = f"https://colab.research.google.com/github/{config['repository']['url'].split('github.com/')[1]}/blob/{config['repository']['branch']}/"
    for notebook in sorted((ROOT / "book").glob("*.ipynb")):
        html = (built_book / "book" / f"{notebook.stem}.html").read_text(encoding="utf-8")
        links = re.findall(r'href="(https://colab\.research\.google\.com/[^"]+)"', html)
        assert links, f"{notebook.name}: no Colab launch button"
        assert all(link.startswith(prefix) for link in links), links
        assert all((ROOT / link[len(prefix):]).is_file() for link in links), links
