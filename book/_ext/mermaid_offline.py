"""Let sphinxcontrib-mermaid import mermaid from a ``data:`` URL, so diagrams render over file://.

sphinxcontrib-mermaid runs its page script as an ES module that imports mermaid. Chromium refuses
module imports from file:// (CORS, origin "null"), so a reader who opens the built book from disk gets
a console error and no re-rendering on theme changes. A ``data:`` URL is allowed everywhere: it hands
the module the classic ``window.mermaid`` (loaded by ``html_js_files`` from the vendored file).
The extension only teaches the URL resolver to leave ``data:`` URLs alone.
"""

from __future__ import annotations

import sphinxcontrib.mermaid as mermaid_ext

_resolve_static_url = mermaid_ext._resolve_local_url


def _resolve_local_or_data_url(url: str, context: dict) -> str:
    return url if url.startswith("data:") else _resolve_static_url(url, context)


def setup(app):
    mermaid_ext._resolve_local_url = _resolve_local_or_data_url
    return {"parallel_read_safe": True, "parallel_write_safe": True}
