# The two commands of the README:
#   make book   set up .venv and build the book into _build/html (warnings are errors)
#   make test   set up .venv, build the book, then run every test (package + every chapter under nbval,
#               executed as run 1, another seed than the committed run 0: notebooks/conftest.py)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# One torch/BLAS thread per process: on a 2-core machine, two threads are many times slower
# as soon as the other core is busy (and pytest-xdist keeps it busy).
export OMP_NUM_THREADS := 1
export MKL_NUM_THREADS := 1
# The committed outputs are run 0 (VAE_EDU_SEED unset), drawn by the kernel's own inline backend:
# a caller's MPLBACKEND=Agg would execute the chapters without their figures. Under pytest the
# chapters' kernels get their own run (VAE_EDU_SEED=1: notebooks/conftest.py).
unexport VAE_EDU_SEED
unexport MPLBACKEND

.PHONY: book test test-only execute clean sync-bootstrap api chromium

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

# A clean build every time (it takes seconds): no stale page survives from an earlier build.
book: $(STAMP)
	rm -rf _build
	$(BIN)/jupyter-book build . -W -n --keep-going

test: chromium book test-only

# The browser check of the built book (tests/test_browser.py) needs Debian's chromium package.
# Installed here when it is missing and we may (root with apt-get); otherwise the test command stops
# and says what to install.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "chromium is missing: installing Debian's chromium package (needed by tests/test_browser.py)"; \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "error: install Debian's chromium package (sudo apt-get install chromium), then re-run make test" >&2; \
	    exit 1; \
	  fi; }

# The chapters that tests/test_colab_env.py runs in a reader's new environment, as run 1 with the
# same asserts and the same comparison of their checked cells: nbval does not run them a second time.
COLAB_CHAPTERS := notebooks/04_linear_vae.ipynb notebooks/07_latent_space.ipynb

test-only: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile $(addprefix --ignore=,$(COLAB_CHAPTERS))

# Re-run every chapter top to bottom and store its outputs (what gets committed).
# One notebook: make execute NOTEBOOKS=notebooks/01_gaussian_kl.ipynb
NOTEBOOKS ?= $(sort $(wildcard notebooks/*.ipynb))
execute: $(STAMP)
	for nb in $(NOTEBOOKS); do \
	  echo "$$nb"; \
	  $(BIN)/jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.record_timing=False --ExecutePreprocessor.timeout=600 "$$nb" || exit 1; \
	done

sync-bootstrap: $(STAMP)
	$(BIN)/python tools/bootstrap_cell.py --write

# Regenerate book/api.md from the package's __all__ lists (tests/test_api_reference.py checks it).
api: $(STAMP)
	$(BIN)/python book/_ext/vae_edu_api.py --write

clean:
	rm -rf _build
