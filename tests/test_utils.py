"""Tests of :mod:`vae_edu.utils`: reproducible set-up and the input validators."""

from __future__ import annotations

import random
from typing import Iterator

import numpy as np
import pytest
import torch

import vae_edu
from vae_edu.utils import setup
from vae_edu.checks import check_batch, check_event_shapes, check_int, check_labels, check_positive, check_positive_float, check_tensor


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


# ----------------------------------------------------------------------- check_tensor
def test_check_tensor_returns_its_argument() -> None:
    x = torch.randn(2, 3)
    assert check_tensor("x", x, min_dim=2) is x
    assert check_tensor("x", torch.tensor(1.0, dtype=torch.float64)) is not None


@pytest.mark.parametrize(
    ("value", "error", "fragment"),
    [
        ([1.0, 2.0], TypeError, "torch.Tensor"),
        (np.ones(3), TypeError, "torch.Tensor"),
        (1.0, TypeError, "torch.Tensor"),
        (torch.ones(3, dtype=torch.int64), TypeError, "floating-point"),
        (torch.ones(3, dtype=torch.bool), TypeError, "floating-point"),
        (torch.tensor([0.0, float("nan")]), ValueError, "NaN"),
        (torch.tensor([0.0, float("inf")]), ValueError, "infinite"),
        (torch.tensor([float("-inf"), 1.0], dtype=torch.float64), ValueError, "infinite"),
        (torch.tensor(1.0), ValueError, "at least 1 dimension"),
    ],
)
def test_check_tensor_rejects(value: object, error: type, fragment: str) -> None:
    with pytest.raises(error, match="my_arg") as info:
        check_tensor("my_arg", value, min_dim=1)
    assert fragment in str(info.value)


# ----------------------------------------------------------------- check_event_shapes
@pytest.mark.parametrize(
    ("shapes", "expected"),
    [
        ([(3,), (3,)], (3,)),
        ([(4, 3), (3,)], (4, 3)),
        ([(2, 1, 3), (5, 3), (3,)], (2, 5, 3)),
        ([(1, 3), (4, 1, 3)], (4, 1, 3)),
    ],
)
def test_check_event_shapes_returns_broadcast_shape(shapes: list, expected: tuple) -> None:
    tensors = {f"t{i}": torch.zeros(s) for i, s in enumerate(shapes)}
    assert check_event_shapes(**tensors) == torch.Size(expected)


def test_check_event_shapes_never_broadcasts_the_event_dimension() -> None:
    with pytest.raises(ValueError, match="log_var") as info:
        check_event_shapes(mu=torch.zeros(4, 3), log_var=torch.zeros(4, 1))
    assert "mu" in str(info.value)


def test_check_event_shapes_rejects_non_broadcastable_batches() -> None:
    with pytest.raises(ValueError, match=r"mu\(4, 3\).*log_var\(5, 3\)"):
        check_event_shapes(mu=torch.zeros(4, 3), log_var=torch.zeros(5, 3))


def test_check_event_shapes_rejects_mixed_dtypes() -> None:
    with pytest.raises(TypeError, match="log_var has dtype torch.float64 but mu has dtype torch.float32"):
        check_event_shapes(mu=torch.zeros(3), log_var=torch.zeros(3, dtype=torch.float64))


# ------------------------------------------------------------------- check_positive
def test_check_positive() -> None:
    x = torch.tensor([1e-30, 2.0])
    assert check_positive("sigma2", x) is x
    for bad in (torch.tensor([1.0, 0.0]), torch.tensor(-0.5)):
        with pytest.raises(ValueError, match="sigma2 must be strictly positive"):
            check_positive("sigma2", bad)


# ------------------------------------------------------------------------------ check_batch
def test_check_batch_returns_tuples() -> None:
    x, y = torch.zeros(3, 2), torch.arange(3)
    (only,) = check_batch("x", x)
    assert only is x
    assert check_batch("x", (x, y)) == (x, y)
    assert check_batch("x", [x, y]) == (x, y)


@pytest.mark.parametrize(
    ("data", "error", "match"),
    [
        ([[0.0, 1.0]], TypeError, "x must be a tensor"),
        ((), TypeError, "x must be a tensor"),
        ((torch.zeros(3, 2), [1, 2, 3]), TypeError, "x must be a tensor"),
        (torch.zeros(3), ValueError, "x must have at least 2"),
        (torch.zeros(0, 2), ValueError, "x is empty"),
        (torch.full((2, 2), float("nan")), ValueError, "x contains NaN"),
        ((torch.zeros(3, 2), torch.zeros(4)), ValueError, "same first"),
        ((torch.zeros(3, 2), torch.tensor(1)), ValueError, "same first"),
    ],
)
def test_check_batch_rejects_bad_data(data, error, match) -> None:
    with pytest.raises(error, match=match):
        check_batch("x", data)


# --------------------------------------------------------------------------- check_int / check_positive_float
@pytest.mark.parametrize("value", [1, 7, np.int64(3), np.int32(2)])
def test_check_int_accepts_python_and_numpy_ints(value) -> None:
    out = check_int("k", value)
    assert out == int(value) and type(out) is int


@pytest.mark.parametrize(
    "value, minimum, error, message",
    [
        (0, 1, ValueError, r"k must be an int >= 1, got 0"),
        (-3, -2, ValueError, r"k must be an int >= -2"),
        (2.0, 1, TypeError, r"k must be an int, got float"),
        (True, 0, TypeError, r"k must be an int, got bool"),
        (np.bool_(True), 0, TypeError, r"k must be an int, got bool"),
        ("3", 1, TypeError, r"k must be an int, got str"),
        (None, 1, TypeError, r"k must be an int, got NoneType"),
    ],
)
def test_check_int_rejects_and_names_the_argument(value, minimum, error, message) -> None:
    with pytest.raises(error, match=message):
        check_int("k", value, minimum)


@pytest.mark.parametrize("value", [0.5, 3, np.float32(2.5), np.int64(4)])
def test_check_positive_float_accepts_numbers(value) -> None:
    out = check_positive_float("std", value)
    assert out == float(value) and type(out) is float


@pytest.mark.parametrize(
    "value, error",
    [(0.0, ValueError), (-1.0, ValueError), (float("inf"), ValueError), (float("nan"), ValueError), (True, TypeError), ("1", TypeError), (None, TypeError)],
)
def test_check_positive_float_rejects_and_names_the_argument(value, error) -> None:
    with pytest.raises(error, match=r"\bstd\b"):
        check_positive_float("std", value)


# --------------------------------------------------------------------------- check_labels
def test_check_labels_accepts_and_rejects_by_name() -> None:
    y = torch.tensor([0, 3, 9])
    assert check_labels("y", y, 10) is y
    assert check_labels("y", y, 10, batch_size=3) is y
    with pytest.raises(TypeError, match=r"y_to must be a torch.Tensor"):
        check_labels("y_to", [0, 1], 10)
    with pytest.raises(TypeError, match=r"y must have dtype torch.int64"):
        check_labels("y", y.float(), 10)
    with pytest.raises(ValueError, match=r"y must have shape \(4,\) to match x"):
        check_labels("y", y, 10, batch_size=4)
    with pytest.raises(ValueError, match=r"y must have shape \(B,\)"):
        check_labels("y", y[None], 10)
    with pytest.raises(ValueError, match=r"y must hold labels in \[0, 9\), got values in \[0, 9\]"):
        check_labels("y", y, 9)
    with pytest.raises(ValueError, match=r"y must hold labels in \[0, 10\), got values in \[-1, 3\]"):
        check_labels("y", torch.tensor([-1, 3]), 10)


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
