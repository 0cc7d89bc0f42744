"""Drop duplicate ``<script>`` entries from every page.

sphinx-thebe 0.3.1 (which Jupyter Book 1.x always loads) ends up with its inline
``const THEBE_JS_URL = ...`` script on every page twice, and the second copy throws
"Identifier 'THEBE_JS_URL' has already been declared" in the reader's console. The browser check
(``tools/browser_check.py``) fails on any console error, which is how this was found.
"""

from __future__ import annotations

from typing import Any


def _dedupe(app: Any, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    seen, unique = set(), []
    for js in context.get("script_files", []):
        attributes = getattr(js, "attributes", {})
        key = (
            getattr(js, "filename", None) or "",
            tuple(sorted((k, str(v)) for k, v in attributes.items() if k != "priority")),
        )
        if key not in seen:
            seen.add(key)
            unique.append(js)
    context["script_files"] = unique


def setup(app: Any) -> dict[str, Any]:
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
