"""The *Loss conventions* page quotes numbers measured in a chapter; these tests keep the two in step.

Every measured number on ``book/loss_conventions.md`` is written right after a marker naming where
it comes from, e.g. ``<!-- nb05:nll -->93.60``: ``nb05`` is the chapter
``notebooks/05_training_a_vae.ipynb``, ``nll`` a key of the tables that the chapter prints under
``Quoted on the Loss conventions page``. It prints two: the numbers that depend on the data alone
(every run prints them alike: a ``# NBVAL_CHECK_OUTPUT`` cell, so nbval checks a re-run against
them) and those of its trained models (they move with ``VAE_EDU_SEED`` and the CPU: a cell without
that marker). The tests read the chapter's *committed* output, run 0, and require

* every marker to name a key the chapter prints, with exactly the value it prints;
* every key the chapter prints to be quoted on the page;
* no decimal number or percentage in the page's prose (outside math and code) without a marker.

After re-executing the chapter, ``python tests/test_loss_conventions.py --update`` rewrites the
quoted values on the page from the chapter's output (check the prose still says what they say).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "book" / "loss_conventions.md"
#: marker prefix → the chapter whose output it quotes
SOURCES = {"nb05": ROOT / "notebooks" / "05_training_a_vae.ipynb"}
HEADER = "Quoted on the Loss conventions page"
#: the heading of each table → whether its cell must be checked by nbval (exact) or not
TABLES = {
    f"{HEADER}, exact (the same in every run):": True,
    f"{HEADER}, from this run's trained models:": False,
}
NUMBER = r"-?\d[\d,]*(?:\.\d+)?%?"
MARKER = re.compile(r"<!-- (?P<source>\w+):(?P<key>\w+) -->(?P<value>" + NUMBER + ")")


def quoted_by_chapter(path: Path) -> dict[str, str]:
    """The ``key value`` tables a chapter prints under :data:`TABLES`, from its committed outputs."""
    nb = json.loads(path.read_text())
    tables: dict[str, list[str]] = {heading: [] for heading in TABLES}
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        text = "".join("".join(o.get("text", "")) for o in cell["outputs"] if o["output_type"] == "stream")
        if not text.startswith(HEADER):
            continue
        heading = text.splitlines()[0]
        assert heading in TABLES, f"{path.name}: unknown heading {heading!r}; known: {list(TABLES)}"
        checked = "".join(cell["source"]).startswith("# NBVAL_CHECK_OUTPUT")
        assert checked == TABLES[heading], (
            f"{path.name}: the cell printing {heading!r} "
            + ("must be checked by nbval (# NBVAL_CHECK_OUTPUT)" if TABLES[heading]
               else "prints numbers that move with the seed and the CPU: no # NBVAL_CHECK_OUTPUT")
        )
        tables[heading].append(text)
    rows = {}
    for heading, texts in tables.items():
        assert len(texts) == 1, f"{path.name}: {len(texts)} cells print {heading!r}, expected one"
        lines = texts[0].splitlines()[1:]
        assert lines, f"{path.name}: the table {heading!r} is empty"
        for line in lines:
            match = re.fullmatch(r"\s+(\w+)\s+(" + NUMBER + r")\s*", line)
            assert match, f"{path.name}: cannot parse the quoted-numbers line {line!r}"
            assert match[1] not in rows, f"{path.name}: key {match[1]} printed twice"
            rows[match[1]] = match[2]
    return rows


def markers(page: str) -> list[re.Match[str]]:
    return list(MARKER.finditer(page))


@pytest.fixture(scope="module")
def page() -> str:
    return PAGE.read_text()


@pytest.fixture(scope="module")
def chapters() -> dict[str, dict[str, str]]:
    return {prefix: quoted_by_chapter(path) for prefix, path in SOURCES.items()}


def test_markers_are_well_formed(page: str) -> None:
    comments = re.finditer(r"<!--.*?-->", page, flags=re.DOTALL)
    loose = [page[c.start() : c.end() + 8] for c in comments if not MARKER.match(page, c.start())]
    assert not loose, f"malformed markers (want '<!-- nb05:key -->value', no space before the value): {loose}"
    assert markers(page), "the page quotes no measured numbers"
    starts = [line for line in page.splitlines() if line.lstrip().startswith("<!--")]
    assert not starts, f"a line starting with '<!--' is an HTML block in Markdown and breaks its paragraph: {starts}"


def test_every_quoted_number_matches_the_chapter(page: str, chapters: dict[str, dict[str, str]]) -> None:
    for match in markers(page):
        source, key, value = match["source"], match["key"], match["value"]
        assert source in chapters, f"unknown source {source!r} in {match[0]!r}; known: {sorted(chapters)}"
        assert key in chapters[source], f"{SOURCES[source].name} prints no number called {key!r}"
        assert value == chapters[source][key], (
            f"the page says {key} = {value}, {SOURCES[source].name} prints {chapters[source][key]}; "
            "run `python tests/test_loss_conventions.py --update` after re-executing the chapter"
        )


def test_every_measured_number_is_quoted(page: str, chapters: dict[str, dict[str, str]]) -> None:
    used = {(m["source"], m["key"]) for m in markers(page)}
    unused = [f"{source}:{key}" for source, rows in chapters.items() for key in rows if (source, key) not in used]
    assert not unused, f"numbers the chapter prints for the page but the page does not quote: {unused}"


def test_no_unmarked_measured_numbers(page: str) -> None:
    prose = MARKER.sub("", page)
    prose = re.sub(r"```.*?```", "", prose, flags=re.DOTALL)  # code blocks
    prose = re.sub(r"\$\$.*?\$\$", "", prose, flags=re.DOTALL)  # display math
    prose = re.sub(r"\$[^$\n]+\$", "", prose)  # inline math
    prose = re.sub(r"`[^`\n]+`", "", prose)  # inline code
    unmarked = re.findall(r"\d+\.\d+|\d+%", prose)
    assert not unmarked, f"decimal numbers or percentages without a marker naming their source: {unmarked}"


def update() -> int:
    """Rewrite every marked value on the page from the chapters' committed outputs."""
    chapters = {prefix: quoted_by_chapter(path) for prefix, path in SOURCES.items()}
    page = PAGE.read_text()
    changed = []

    def replace(match: re.Match[str]) -> str:
        new = chapters[match["source"]][match["key"]]
        if new != match["value"]:
            changed.append(f"{match['source']}:{match['key']}: {match['value']} -> {new}")
        return f"<!-- {match['source']}:{match['key']} -->{new}"

    PAGE.write_text(MARKER.sub(replace, page))
    print("\n".join(changed) or "the page already matches the chapters")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit(f"usage: python {Path(__file__).relative_to(ROOT)} --update")
    sys.exit(update())
