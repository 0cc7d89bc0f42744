"""Structural checks of the chapters: the Colab bootstrap cell, the toc, and clean committed outputs.

The notebooks themselves are executed by nbval (``pytest --nbval-lax`` collects ``notebooks/``).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import bootstrap_cell  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


def test_there_are_chapters() -> None:
    assert len(NOTEBOOKS) >= 2


def test_repository_url_lives_in_config() -> None:
    url = bootstrap_cell.repository_url()
    assert url.startswith("https://github.com/")
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["launch_buttons"]["colab_url"] == "https://colab.research.google.com"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_cell_is_the_colab_bootstrap(path: Path) -> None:
    nb = json.loads(path.read_text())
    first = bootstrap_cell.first_code_cell(nb)
    assert first is not None
    assert "".join(first["source"]) == bootstrap_cell.cell_source(bootstrap_cell.repository_url()), (
        f"{path.name}: first code cell differs from the bootstrap cell; run `make sync-bootstrap`"
    )
    assert first["metadata"].get("tags") == ["hide-input"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_second_cell_calls_setup(path: Path) -> None:
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert "vae_edu.setup(seed=0)" in "".join(code[1]["source"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_outputs_come_from_a_clean_run(path: Path) -> None:
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    counts = [c["execution_count"] for c in code]
    assert counts == list(range(1, len(code) + 1)), f"{path.name}: execution counts {counts}"
    errors = [o for c in code for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors, f"{path.name}: stored error output"
    source = "\n".join("".join(c["source"]) for c in code)
    assert "assert " in source, f"{path.name}: asserts none of its claims"
    assert "NBVAL_CHECK_OUTPUT" in source, f"{path.name}: checks none of its printed figures"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_is_in_the_toc_and_ends_with_exercises(path: Path) -> None:
    assert f"notebooks/{path.stem}" in _toc_files()
    nb = json.loads(path.read_text())
    markdown = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert re.search(r"^##+ .*Exercises", markdown, flags=re.MULTILINE), f"{path.name}: no Exercises section"
    assert ":class: dropdown" in markdown, f"{path.name}: exercises need hidden (dropdown) solutions"


def test_toc_files_exist() -> None:
    for entry in _toc_files():
        assert any((ROOT / f"{entry}{ext}").exists() for ext in (".md", ".ipynb")), entry


def _chapter_markdown(path: Path) -> str:
    if path.suffix == ".md":
        return path.read_text()
    nb = json.loads(path.read_text())
    return "\n\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


CHAPTERS = NOTEBOOKS + [ROOT / "book" / "loss_conventions.md"]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_ends_with_exercises_and_closed_solutions(path: Path) -> None:
    text = _chapter_markdown(path)
    sections = re.findall(r"^## (.+)$", text, re.M)
    assert sections and sections[-1].strip() == "Exercises", f"{path.name}: last section is {sections[-1:]}"
    exercises = text[text.rindex("\n## Exercises") :]
    # "### Exercise 1: ..." headings, or a numbered list of bold titles ("1. **Standardising.**").
    count = len(re.findall(r"^(?:### Exercise \d+|\d+\. \*\*)", exercises, re.M))
    solutions = re.findall(r"^(`{3,}|:{3,})\{admonition\} Solution\n((?::\w[\w-]*:.*\n)+)", exercises, re.M)
    assert count >= 3, f"{path.name}: {count} exercises"
    assert len(solutions) == count, f"{path.name}: {count} exercises but {len(solutions)} solution blocks"
    for _, options in solutions:
        assert re.search(r"^:class: .*\bdropdown\b", options, re.M), f"{path.name}: a solution is not a dropdown"
        assert ":open:" not in options, f"{path.name}: a solution starts open"
