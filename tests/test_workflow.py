"""The GitHub Pages workflow builds the book exactly as the test command does.

It cannot run here (no GitHub), so its steps are checked against the Makefile: its only build step
is the README's `make book`, which `make test` (what `.ci/run` calls) runs before the tests.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "pages.yml"


def _target(name: str) -> tuple[list[str], list[str]]:
    """A Makefile target's prerequisites and recipe lines."""
    text = (ROOT / "Makefile").read_text()
    match = re.search(rf"^{name}:(.*)\n((?:\t.*\n)*)", text, re.M)
    assert match, f"no target {name!r} in the Makefile"
    return match.group(1).split(), [line.strip() for line in match.group(2).splitlines()]


def test_workflow_builds_with_make_book_and_publishes_its_output() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    build = workflow["jobs"]["build"]["steps"]
    runs = [step["run"].strip() for step in build if "run" in step]
    assert runs == ["make book"]
    uses = [step["uses"].split("@")[0] for step in build if "uses" in step]
    assert uses == ["actions/checkout", "actions/setup-python", "actions/upload-pages-artifact"]
    artifact = next(step for step in build if step.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert artifact["with"]["path"] == "_build/html"
    python = next(step for step in build if step.get("uses", "").startswith("actions/setup-python"))
    ci_python = re.search(r"\((3\.\d+) is what CI uses\)", (ROOT / "README.md").read_text())
    assert ci_python and python["with"]["python-version"] == ci_python.group(1)


def test_the_test_command_runs_the_same_build() -> None:
    prerequisites, _ = _target("test")
    assert "book" in prerequisites
    _, recipe = _target("book")
    assert any(line.startswith("$(BIN)/jupyter-book build . -W -n") for line in recipe)
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("make test")
    assert "make book" in (ROOT / "README.md").read_text()
