"""The examples of ``book/coursework.md`` run, in order, and their asserts hold.

Every ```` ```python ```` block of the page is executed in one namespace, top to bottom, as a reader
pasting them into one notebook would. ``bash`` blocks (the install command) are not run.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[1] / "book" / "coursework.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", PAGE.read_text(), re.M | re.S)


def test_the_page_has_examples() -> None:
    assert len(BLOCKS) >= 6


def test_examples_run_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, object] = {"__name__": "coursework"}
    for number, block in enumerate(BLOCKS, start=1):
        try:
            exec(compile(block, f"{PAGE.name}, python block {number}", "exec"), namespace)
        except Exception as error:  # name the block, keep the traceback
            raise AssertionError(f"python block {number} of {PAGE.name} failed: {error!r}") from error
    printed = capsys.readouterr().out
    # The error-message example prints two messages, each naming the argument.
    assert "log_var" in printed and "mu" in printed
    assert "best validation -ELBO" in printed and "NLL" in printed
