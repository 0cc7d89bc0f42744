"""Tests of :mod:`vae_edu.utils`: reproducible set-up, runs and their seeds. The input checks are
tested in ``test_checks.py``."""

from __future__ import annotations

import random
from typing import Iterator

import numpy as np
import pytest
import torch

import vae_edu
from vae_edu.utils import setup


@pytest.fixture
def restore_threads() -> Iterator[int]:
    """Give back torch's thread count (and global RNG states) after a test calls ``setup``."""
    threads = torch.get_num_threads()
    torch_state = torch.get_rng_state()
    np_state = np.random.get_state()
    py_state = random.getstate()
    yield threads
    torch.set_num_threads(threads)
    torch.set_rng_state(torch_state)
    np.random.set_state(np_state)
    random.setstate(py_state)


def _draws() -> tuple[float, float, torch.Tensor]:
    return random.random(), float(np.random.rand()), torch.randn(5)


# ----------------------------------------------------------------------------- setup
def test_setup_is_exported_at_top_level() -> None:
    assert vae_edu.setup is setup


@pytest.mark.usefixtures("restore_threads")
@pytest.mark.parametrize("seed", [0, 7, 2**32 - 1, np.int64(3)])
def test_setup_same_seed_gives_same_draws(seed: int) -> None:
    setup(seed=seed)
    first = _draws()
    setup(seed=seed)
    second = _draws()
    assert first[0] == second[0]
    assert first[1] == second[1]
    assert torch.equal(first[2], second[2])


@pytest.mark.usefixtures("restore_threads")
def test_setup_different_seeds_give_different_draws() -> None:
    setup(seed=0)
    first = _draws()
    setup(seed=1)
    second = _draws()
    assert first[0] != second[0]
    assert first[1] != second[1]
    assert not torch.equal(first[2], second[2])


@pytest.mark.usefixtures("restore_threads")
def test_setup_seeds_like_the_libraries_own_seeders() -> None:
    setup(seed=42)
    got = _draws()
    random.seed(42)
    np.random.seed(42)
    torch.manual_seed(42)
    expected = _draws()
    assert got[0] == expected[0] and got[1] == expected[1]
    assert torch.equal(got[2], expected[2])


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_setup_sets_thread_count(restore_threads: int, threads: int) -> None:
    setup(seed=0, threads=threads)
    assert torch.get_num_threads() == threads


def test_setup_defaults_to_one_thread(restore_threads: int) -> None:
    torch.set_num_threads(2)
    setup()
    assert torch.get_num_threads() == 1


@pytest.mark.parametrize(
    ("kwargs", "error", "argname"),
    [
        ({"seed": "0"}, TypeError, "seed"),
        ({"seed": 1.0}, TypeError, "seed"),
        ({"seed": True}, TypeError, "seed"),
        ({"seed": None}, TypeError, "seed"),
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": 2**32}, ValueError, "seed"),
        ({"threads": 0}, ValueError, "threads"),
        ({"threads": -2}, ValueError, "threads"),
        ({"threads": 2.0}, TypeError, "threads"),
        ({"threads": False}, TypeError, "threads"),
        ({"threads": "1"}, TypeError, "threads"),
    ],
)
def test_setup_rejects_bad_arguments(restore_threads: int, kwargs: dict, error: type, argname: str) -> None:
    torch.set_num_threads(2)
    random.seed(5)
    before = random.random()
    random.seed(5)
    with pytest.raises(error, match=argname):
        setup(**kwargs)
    # nothing was changed before the error
    assert torch.get_num_threads() == 2
    assert random.random() == before


# ----------------------------------------------------------------------------- VAE_EDU_SEED
def test_run_seed_is_the_base_when_vae_edu_seed_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VAE_EDU_SEED", raising=False)
    assert vae_edu.run_number() == 0
    assert [vae_edu.run_seed(b) for b in (0, 3, 999)] == [0, 3, 999]


@pytest.mark.parametrize("run", [1, 2, 17])
def test_run_seed_shifts_every_seed_by_a_thousand_per_run(monkeypatch: pytest.MonkeyPatch, run: int) -> None:
    monkeypatch.setenv("VAE_EDU_SEED", str(run))
    assert vae_edu.run_number() == run
    assert vae_edu.run_seed(0) == 1000 * run and vae_edu.run_seed(5) == 5 + 1000 * run
    assert vae_edu.run_seed(2**32 - 1) == (2**32 - 1 + 1000 * run) % 2**32  # stays in numpy's range


@pytest.mark.usefixtures("restore_threads")
def test_setup_seeds_with_the_runs_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAE_EDU_SEED", "2")
    setup(seed=3)
    got = _draws()
    monkeypatch.delenv("VAE_EDU_SEED")
    setup(seed=2003)  # run 2's seed for 3
    expected = _draws()
    assert got[0] == expected[0] and got[1] == expected[1] and torch.equal(got[2], expected[2])
    setup(seed=3)  # run 0: another stream
    assert not torch.equal(got[2], _draws()[2])


@pytest.mark.parametrize("text", ["one", "1.5", "-1"])
def test_a_malformed_vae_edu_seed_is_named(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv("VAE_EDU_SEED", text)
    with pytest.raises(ValueError, match="VAE_EDU_SEED"):
        vae_edu.run_seed(0)


@pytest.mark.parametrize(("base", "error"), [(-1, ValueError), (2**32, ValueError), (1.0, TypeError), (True, TypeError)])
def test_run_seed_refuses_a_bad_base(base: object, error: type) -> None:
    with pytest.raises(error, match="base"):
        vae_edu.run_seed(base)  # type: ignore[arg-type]
