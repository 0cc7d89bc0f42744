"""The built book in a real browser: headless Chromium, no network (``tools/browser_check.py``).

Every page is opened as a ``file://`` URL, as a reader opening ``_build/html/index.html`` would:
its math must be typeset by the bundled MathJax, its images and fonts must load, its console must
stay free of errors, and its local links must lead somewhere. Two screenshots are saved in
``_build/browser-check/``. A second set of tests runs the checker on small hand-made pages, each
broken in one way, to show that it reports what it is meant to catch.

Needs Debian's ``chromium`` package (``apt-get install chromium``); without it these tests fail
with that message rather than skip. They skip only when the book has not been built.
"""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
sys.path.insert(0, str(ROOT / "tools"))
import browser_check  # noqa: E402

PAGES = [str(p.relative_to(HTML)) for p in browser_check.list_pages(HTML)] if HTML.is_dir() else []

pytestmark = pytest.mark.skipif(not PAGES, reason="book not built; run `make book` (make test does)")


def _png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (after checking the signature)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def book() -> browser_check.BookResult:
    result = browser_check.check_book(HTML)  # screenshots go to _build/browser-check/
    print(result.report())
    return result


# --------------------------------------------------------------------------------------------
# The real book
# --------------------------------------------------------------------------------------------


def test_every_page_was_opened(book: browser_check.BookResult) -> None:
    assert [p.page for p in book.pages if p.page in PAGES] == PAGES
    assert book.mode == "file"
    assert book.internal_links > 0


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("check", browser_check.CHECKS)
def test_page_passes(book: browser_check.BookResult, page: str, check: str) -> None:
    result = next(p for p in book.pages if p.page == page)
    assert not result.errors[check], f"{page} fails the {check} check:\n  " + "\n  ".join(result.errors[check])


def test_chapters_are_typeset_with_mathjax_fonts_from_file_urls(book: browser_check.BookResult) -> None:
    chapters = [p for p in book.pages if p.page.startswith("notebooks/")]
    assert chapters
    for page in chapters:
        assert page.has_math and page.math > 0, f"{page.page}: no typeset math"
        assert page.mathjax_fonts > 0, f"{page.page}: no MathJax web font loaded"
        assert page.images == page.images_loaded


def test_the_redirect_leads_to_a_page(book: browser_check.BookResult) -> None:
    assert not [p for p in book.pages if p.page == "index.html"], "index.html redirects to a missing page"


@pytest.mark.parametrize("page", sorted(browser_check.SCREENSHOTS))
def test_screenshot_saved(book: browser_check.BookResult, page: str) -> None:
    if page not in PAGES:
        pytest.fail(f"{page} is not in the built book")
    path = book.screenshots[page]
    assert path == HTML.parent / "browser-check" / browser_check.SCREENSHOTS[page]
    width, height = _png_size(path)
    assert width == browser_check.VIEWPORT[0]
    assert 600 <= height <= browser_check.SCREENSHOT_HEIGHT
    assert path.stat().st_size > 20_000, f"{path} is suspiciously small ({path.stat().st_size} bytes)"


# --------------------------------------------------------------------------------------------
# The checker catches what it should: small hand-made pages, each broken in one way
# --------------------------------------------------------------------------------------------


def _tiny_png() -> bytes:
    """A valid 2 x 2 grey PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\x80\x80" for _ in range(2))  # filter byte + 2 grey pixels per row
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


MATHJAX = '<script defer src="_static/mathjax/tex-chtml.js"></script>'
FIXTURES = {
    # A page that must pass: typeset math, a local and a data: image, links that resolve,
    # raw TeX inside code (allowed), an external link (skipped).
    "good.html": f"""{MATHJAX}<section id="top-section"><h1>Good</h1>
        <p>Inline <span class="math notranslate nohighlight">\\(x^2 + \\mathrm{{KL}}\\)</span>.</p>
        <pre>code may say $$x$$ and \\(y\\)</pre><p><code>$\\mathrm{{x}}$</code></p>
        <img src="ok.png" alt="ok"><img src="data:image/png;base64,{{png}}" alt="inline">
        <a href="other.html#there">other</a> <a href="#top-section">top</a> <a href="./">index</a>
        <a href="https://example.org/">external</a> <a href="mailto:a@b.c">mail</a></section>""",
    "other.html": '<h1 id="there">Other</h1><a href="good.html">back</a>',
    "index.html": '<p>directory index</p>',
    "broken_image.html": '<p>An image that is not there:</p><img src="_images/missing.png" alt="missing">',
    "remote_image.html": '<p>An image from the network:</p><img src="https://example.org/x.png" alt="remote">',
    "raw_tex.html": """<p>Display math left as text: $$x$$ and an unconverted $\\mathrm{KL}(q)$.</p>
        <pre>$$fine in code$$</pre>""",
    "js_error.html": '<script>console.error("boom-console");</script><script>throw new Error("boom-js");</script>',
    "broken_link.html": """<a href="nowhere.html">missing page</a> <a href="other.html#no-such-anchor">bad anchor</a>
        <a href="#missing-here">bad local anchor</a> <a href="other.html#there">fine</a>""",
    "tex_error.html": f'{MATHJAX}<p><span class="math notranslate nohighlight">\\(x^\\)</span></p>',
    "no_mathjax.html": '<p>Math but no MathJax: <span class="math notranslate nohighlight">\\(x\\)</span></p>',
    # A solution dropdown that nothing folds (no sphinx-togglebutton): its answer shows on load.
    "open_solution.html": """<div class="admonition dropdown"><p class="admonition-title">Solution</p>
        <p>The answer, in plain sight.</p></div>""",
}


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> browser_check.BookResult:
    import base64

    root = tmp_path_factory.mktemp("tiny-book")
    png = _tiny_png()
    (root / "ok.png").write_bytes(png)
    (root / "_static").mkdir()
    (root / "_static" / "mathjax").symlink_to(HTML / "_static" / "mathjax")  # the book's own MathJax
    for name, body in FIXTURES.items():
        body = body.replace("{png}", base64.b64encode(png).decode())
        (root / name).write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{body}</body></html>")
    pages = sorted(n for n in FIXTURES if n != "index.html")
    result = browser_check.check_book(root, root / "shots", pages=pages, screenshots={"good.html": "good.png"},
                                      timeout=30)
    print(result.report())
    return result


def _errors(result: browser_check.BookResult, page: str, check: str) -> list[str]:
    return next(p for p in result.pages if p.page == page).errors[check]


def test_checker_passes_a_good_page(broken: browser_check.BookResult) -> None:
    good = next(p for p in broken.pages if p.page == "good.html")
    assert good.ok, good.errors
    assert good.math == 1 and good.mathjax_fonts > 0
    assert (good.images, good.images_loaded) == (2, 2)
    assert good.links == 5  # script, ok.png, other.html#there, #top-section, ./ ; data: and mailto: skipped
    assert broken.external_skipped == 2  # good.html's https link, remote_image.html's image
    assert _png_size(broken.screenshots["good.html"])[0] == browser_check.VIEWPORT[0]
    assert not broken.ok


def test_checker_reports_a_broken_image(broken: browser_check.BookResult) -> None:
    assert any("_images/missing.png" in e for e in _errors(broken, "broken_image.html", "images"))
    assert any("failed to load" in e and "missing.png" in e for e in _errors(broken, "broken_image.html", "console"))


def test_checker_reports_a_request_to_the_network(broken: browser_check.BookResult) -> None:
    assert any("example.org/x.png" in e for e in _errors(broken, "remote_image.html", "images"))
    assert any("failed to load" in e and "example.org" in e for e in _errors(broken, "remote_image.html", "console"))


def test_checker_reports_raw_tex(broken: browser_check.BookResult) -> None:
    errors = _errors(broken, "raw_tex.html", "math")
    assert any("raw TeX $$" in e and "$$x$$" in e for e in errors), errors
    assert any("raw TeX $...\\cmd...$" in e and "\\mathrm{KL}" in e for e in errors), errors
    assert not any("fine in code" in e for e in errors), errors


def test_checker_reports_javascript_errors(broken: browser_check.BookResult) -> None:
    errors = _errors(broken, "js_error.html", "console")
    assert any("JavaScript exception" in e and "boom-js" in e for e in errors), errors
    assert any("console.error" in e and "boom-console" in e for e in errors), errors


def test_checker_reports_broken_links(broken: browser_check.BookResult) -> None:
    errors = _errors(broken, "broken_link.html", "links")
    assert len(errors) == 3, errors
    assert any("nowhere.html" in e and "no such file" in e for e in errors)
    assert any("no-such-anchor" in e and "other.html" in e for e in errors)
    assert any("missing-here" in e for e in errors)


def test_checker_reports_math_mathjax_could_not_typeset(broken: browser_check.BookResult) -> None:
    assert any("MathJax error" in e for e in _errors(broken, "tex_error.html", "math"))
    errors = _errors(broken, "no_mathjax.html", "math")
    assert any("no mjx-container" in e for e in errors) and any("math not typeset" in e for e in errors), errors


def test_checker_reports_an_open_solution(broken: browser_check.BookResult) -> None:
    errors = _errors(broken, "open_solution.html", "solutions")
    assert errors == ['dropdown "Solution" is open on load'], errors


def test_chapters_have_closed_solutions(book: browser_check.BookResult) -> None:
    for page in book.pages:
        if page.page.startswith("notebooks/") or page.page == "book/loss_conventions.html":
            assert page.dropdowns >= 3, f"{page.page}: {page.dropdowns} solution dropdowns"


def test_checker_names_the_package_when_chromium_is_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CHROMIUM", raising=False)
    with pytest.raises(browser_check.BrowserError, match="apt-get install chromium"):
        browser_check.check_book(HTML)
