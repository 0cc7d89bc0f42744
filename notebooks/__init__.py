"""Not a package to import: this file gives ``notebooks/conftest.py`` its own module name.

With ``--doctest-modules`` pytest imports every ``conftest.py`` as a module; without this file,
``notebooks/conftest.py`` and ``tests/conftest.py`` would both be the top-level module ``conftest``.
"""
