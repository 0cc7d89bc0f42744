"""Checks of the built book (``make test`` builds it first, with warnings as errors).

Math must typeset with no network: every page loads MathJax 3 from the book's own
``_static/mathjax`` and no script comes from another host.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
PAGES = sorted(p for p in HTML.rglob("*.html") if "_static" not in p.parts and p.name not in {"genindex.html", "search.html"}) if HTML.exists() else []

pytestmark = pytest.mark.skipif(not PAGES, reason="book not built; run `make book` (make test does)")


def test_mathjax_is_bundled() -> None:
    assert (HTML / "_static" / "mathjax" / "tex-chtml.js").stat().st_size > 100_000
    assert (HTML / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(HTML)))
def test_page_loads_only_local_scripts(page: Path) -> None:
    html = page.read_text()
    if 'http-equiv="Refresh"' in html:  # the index.html redirect
        return
    sources = re.findall(r'<script[^>]*\bsrc="([^"]+)"', html)
    if 'class="math' in html:  # Sphinx adds MathJax only to pages with math (not the references, say)
        assert any(s.split("?")[0].endswith("_static/mathjax/tex-chtml.js") for s in sources), sources
    remote = [s for s in sources if re.match(r"(https?:)?//", s)]
    assert not remote, f"{page.name} loads remote scripts: {remote}"


def test_chapters_contain_math() -> None:
    chapters = [p for p in PAGES if p.parent.name == "notebooks"]
    assert chapters
    for page in chapters:
        assert 'class="math' in page.read_text(), page.name


def test_chapters_have_a_colab_button() -> None:
    sys.path.insert(0, str(ROOT / "tools"))
    import bootstrap_cell

    repo = bootstrap_cell.repository_url().removeprefix("https://github.com/")
    chapters = [p for p in PAGES if p.parent.name == "notebooks"]
    for page in chapters:
        expected = f"https://colab.research.google.com/github/{repo}/blob/main/notebooks/{page.stem}.ipynb"
        assert expected in page.read_text(), f"{page.name}: no Colab launch link {expected}"
