"""The notebooks' first cell: installs vae_edu with its ``book`` extra on Google Colab, from the URL in _config.yml.

The repository URL lives in exactly one place, ``_config.yml`` (``repository.url``). This tool
renders the bootstrap cell from it and checks or rewrites the first code cell of every notebook:

    python tools/bootstrap_cell.py            # print the cell
    python tools/bootstrap_cell.py --check    # exit 1 if a notebook's first cell differs
    python tools/bootstrap_cell.py --write    # rewrite the first cell of every notebook (make sync-bootstrap)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TAGS = ["hide-input"]
#: The extra the chapters need on top of the package (matplotlib, ipywidgets, ipython: pyproject.toml).
EXTRA = "book"


def repository_url(root: Path = ROOT) -> str:
    """The repository URL from ``_config.yml``, without a trailing slash or ``.git``."""
    config = yaml.safe_load((root / "_config.yml").read_text())
    url = str(config["repository"]["url"]).rstrip("/")
    return url[:-4] if url.endswith(".git") else url


def cell_source(url: str) -> str:
    """The bootstrap cell's source for a given repository URL: ``pip install "vae-edu[book] @ git+<url>"``."""
    return (
        "# NBVAL_IGNORE_OUTPUT\n"
        "# On Google Colab only: install the book's package, vae_edu, from its repository,\n"
        f"# with the [{EXTRA}] extra the chapters' figures and sliders need.\n"
        "# Elsewhere (a local clone, the rendered book) this cell does nothing.\n"
        "import subprocess\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f'    package = "vae-edu[{EXTRA}] @ git+{url}"\n'
        "    subprocess.run(\n"
        '        [sys.executable, "-m", "pip", "install", "--quiet", package],\n'
        "        check=True,\n"
        "    )"
    )


def notebooks(root: Path = ROOT) -> list[Path]:
    return sorted((root / "notebooks").glob("*.ipynb"))


def first_code_cell(nb: dict) -> dict | None:
    return next((c for c in nb["cells"] if c["cell_type"] == "code"), None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", action="store_true", help="fail if a notebook's first cell differs")
    group.add_argument("--write", action="store_true", help="rewrite every notebook's first cell")
    args = parser.parse_args(argv)
    source = cell_source(repository_url())
    if not (args.check or args.write):
        print(source)
        return 0
    stale = []
    for path in notebooks():
        nb = json.loads(path.read_text())
        cell = first_code_cell(nb)
        if cell is not None and "".join(cell["source"]) == source and cell.get("metadata", {}).get("tags") == TAGS:
            continue
        stale.append(path)
        if args.write:
            new = {"cell_type": "code", "execution_count": 1, "metadata": {"tags": TAGS}, "outputs": [], "source": source}
            if cell is None or "google.colab" not in "".join(cell["source"]):
                nb["cells"].insert(0, new)  # no bootstrap cell yet: add one (re-run the notebook afterwards)
            else:
                cell.update(source=source, metadata={**cell.get("metadata", {}), "tags": TAGS})
            path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    for path in stale:
        print(f"{'rewrote' if args.write else 'stale'}: {path.relative_to(ROOT)}")
    return 1 if (stale and args.check) else 0


if __name__ == "__main__":
    sys.exit(main())
