"""Headless-Chromium checks of built HTML pages, shared by the browser tests.

A page passes when every mermaid diagram became an SVG, every math element was typeset, nothing was
fetched from (or points at) another host, and the console stayed free of errors. Requests to any
http(s) address are aborted and recorded, so a CDN reference fails the check instead of hanging it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Without these flags Chromium tries to reach Google's services at start and stalls on a closed network.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]

RENDER_STATE = """() => {
  const diagrams = [...document.querySelectorAll('pre.mermaid, div.mermaid')];
  const math = [...document.querySelectorAll('.math')];
  return {
    diagrams: diagrams.length,
    rendered: diagrams.filter(d => d.getAttribute('data-processed') === 'true' && d.querySelector('svg')).length,
    math: math.length,
    typeset: math.filter(m => m.querySelector('mjx-container')).length,
  };
}"""

EXTERNAL_ELEMENTS = """() => [...document.querySelectorAll(
    'script[src], link[href]:not([rel~="canonical"]), img[src], iframe[src], source[src], video[src], audio[src], embed[src], object[data]')]
  .map(e => e.getAttribute('src') || e.getAttribute('href') || e.getAttribute('data'))
  .filter(u => /^(https?:)?\\/\\//i.test(u))"""


def launch(playwright, user_data_dir: Path):
    """A fresh, offline-safe Chromium context (its own profile directory)."""
    return playwright.chromium.launch_persistent_context(
        str(user_data_dir), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
        viewport={"width": 1280, "height": 900},
    )


def check_page(context, path: Path, screenshot: Path | None = None, timeout_ms: int = 20_000) -> list[str]:
    """Open ``path`` over file:// and return the problems found (empty list: the page is fine)."""
    problems: list[str] = []
    page = context.new_page()

    def block_network(route):
        url = route.request.url
        if url.startswith(("http://", "https://")):
            problems.append(f"request to an external host: {url}")
            route.abort()
        else:
            route.continue_()

    page.route("**/*", block_network)
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.goto(path.resolve().as_uri(), wait_until="load")
    try:
        page.wait_for_function(
            f"() => {{ const s = ({RENDER_STATE})(); return s.rendered === s.diagrams && s.typeset === s.math; }}",
            timeout=timeout_ms,
        )
    except Exception:  # the state below says what did not render
        pass
    state = page.evaluate(RENDER_STATE)
    if state["rendered"] < state["diagrams"]:
        problems.append(f"{state['diagrams'] - state['rendered']} of {state['diagrams']} mermaid diagrams not rendered to SVG")
    if state["typeset"] < state["math"]:
        problems.append(f"{state['math'] - state['typeset']} of {state['math']} math elements not typeset")
    problems += [f"element points at an external host: {url}" for url in page.evaluate(EXTERNAL_ELEMENTS)]
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot), full_page=True)
    page.close()
    return problems
