r"""Is a Monte Carlo claim settled? $z$-scores, and the checks the chapters make with them.

Every claim a chapter makes of an estimate is a statement about its standard error:

* :func:`assert_within_se` — the estimate agrees with an exact value, $|\hat\mu - \mu| < k\,\widehat{\mathrm{se}}$
  (a closed form checked against Monte Carlo);
* :func:`assert_above` and :func:`assert_below` — the estimate lies beyond a bound by more than
  $k$ standard errors, $\hat\mu - k\,\widehat{\mathrm{se}} > b$ or $\hat\mu + k\,\widehat{\mathrm{se}} < b$
  (a gain is real, an order holds);
* :func:`combined_se` — the standard error of a sum or difference of independent estimates,
  $\sqrt{\sum_i \widehat{\mathrm{se}}_i^2}$.

For a normally distributed estimate a check at $k$ standard errors fails by chance with
probability $\Phi(-k)$ per side ($3\times10^{-5}$ at $k = 4$).

Book: *The Gaussian KL, derived and checked*.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["z_score", "assert_within_se", "assert_above", "assert_below", "combined_se"]


def _as_float64(name: str, value: object) -> Tensor:
    """A number, NumPy value or tensor as a detached float64 tensor, for comparing estimates."""
    try:
        out = torch.as_tensor(value.detach() if isinstance(value, Tensor) else value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{name} must be a number or a tensor, got {type(value).__name__}") from None
    if torch.isnan(out).any():
        raise ValueError(f"{name} contains NaN")
    return out


def z_score(estimate: Tensor | float, exact: Tensor | float, stderr: Tensor | float) -> Tensor:
    r"""How many standard errors a Monte Carlo estimate lies from the exact value: $z = (\hat\mu - \mu)/\widehat{\mathrm{se}}$.

    Args:
        estimate: the estimate $\hat\mu$, a number or a tensor of any shape.
        exact: the exact value $\mu$; broadcasts against ``estimate``.
        stderr: the estimate's standard error $\widehat{\mathrm{se}} \ge 0$ (from :func:`mc_mean`).

    Returns:
        The signed $z$, float64, of the broadcast shape (``±inf`` where ``stderr`` is 0 and the
        estimate is off).

    Raises:
        TypeError, ValueError: naming the argument (not a number, NaN, a negative ``stderr``).

    Book: *The Gaussian KL, derived and checked*.
    """
    return _operands(estimate, exact, stderr, "exact")[3]


def _operands(estimate: object, other: object, stderr: object, other_name: str) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``estimate``, ``other`` and ``stderr`` as float64 tensors, checked, and $z$ = (estimate - other) / stderr."""
    estimate_, other_, stderr_ = (_as_float64(n, v) for n, v in (("estimate", estimate), (other_name, other), ("stderr", stderr)))
    if (stderr_ < 0).any():
        raise ValueError("stderr must be >= 0")
    return estimate_, other_, stderr_, (estimate_ - other_) / stderr_


def combined_se(*stderrs: Tensor | float) -> Tensor:
    r"""The standard error of a sum or difference of independent estimates: $\sqrt{\sum_i \widehat{\mathrm{se}}_i^2}$.

    Returns a float64 tensor of the broadcast shape.

    Book: *The Gaussian KL, derived and checked*.
    """
    if not stderrs:
        raise ValueError("combined_se needs at least one standard error")
    values = [_as_float64("stderr", s) for s in stderrs]
    if any(bool((v < 0).any()) for v in values):
        raise ValueError("stderr must be >= 0")
    return torch.stack(torch.broadcast_tensors(*(v**2 for v in values))).sum(0).sqrt()


def _check_n_se(n_se: object) -> float:
    if isinstance(n_se, bool) or not isinstance(n_se, (int, float)) or not 0 < n_se < math.inf:
        raise ValueError(f"n_se must be a finite number > 0, got {n_se!r}")
    return float(n_se)


def _fail_where(ok: Tensor, badness: Tensor, z: Tensor, message: str) -> None:
    """Raise ``AssertionError(message)`` for the worst element where ``ok`` is False (if any)."""
    if bool(ok.all()):
        return
    ok, badness, z = torch.broadcast_tensors(ok, badness, z)
    worst = int(torch.where(ok, -math.inf, badness.nan_to_num(nan=math.inf)).reshape(-1).argmax())
    where = "" if z.dim() == 0 else f" (element {tuple(int(i) for i in torch.unravel_index(torch.tensor(worst), z.shape))})"
    raise AssertionError(message.format(z=float(z.reshape(-1)[worst]), where=where))


def assert_within_se(
    estimate: Tensor | float,
    exact: Tensor | float,
    stderr: Tensor | float,
    n_se: float,
    what: str = "estimate",
    *,
    atol: float = 0.0,
) -> None:
    r"""Assert that a Monte Carlo estimate agrees with the exact value: $|\hat\mu - \mu| < k\,\widehat{\mathrm{se}} + a$.

    The check the chapters make of every closed form against its Monte Carlo estimate,
    elementwise for tensors. For a normally distributed estimate it fails by chance with
    probability $2\Phi(-k)$ per element ($6\times10^{-5}$ at $k = 4$).

    Args:
        estimate, exact, stderr: as in :func:`z_score`; shapes broadcast.
        n_se: $k$, the number of standard errors allowed (> 0).
        what: names the estimate in the error message.
        atol: $a \ge 0$, an allowance on top of the standard errors (a known bias, a tolerance).

    Raises:
        AssertionError: if some element lies $k$ or more standard errors away; the message gives
            the worst $z$ and where it is.
        TypeError, ValueError: naming the argument, for bad input.

    Book: *The Gaussian KL, derived and checked*.
    """
    n_se = _check_n_se(n_se)
    if isinstance(atol, bool) or not isinstance(atol, (int, float)) or not 0 <= atol < math.inf:
        raise ValueError(f"atol must be a finite number >= 0, got {atol!r}")
    estimate_, exact_, stderr_, z = _operands(estimate, exact, stderr, "exact")
    within = (estimate_ - exact_).abs() < n_se * stderr_ + atol
    allowed = f"fewer than {n_se:g}" + (f" (plus {atol:g})" if atol else "")
    _fail_where(within, z.abs(), z, f"{what} is {{z:+.2f}} standard errors from the exact value{{where}}; allowed: {allowed}")


def assert_above(
    estimate: Tensor | float, bound: Tensor | float, stderr: Tensor | float, n_se: float, what: str = "estimate"
) -> None:
    r"""Assert that an estimate exceeds a bound by more than $k$ standard errors: $\hat\mu - k\,\widehat{\mathrm{se}} > b$.

    The one-sided check of a claimed gain or order ("$\mathcal L_k$ rises with $k$"), elementwise
    for tensors. For a difference of independent estimates, pass the difference and
    :func:`combined_se` of their standard errors, with ``bound=0``.

    Raises:
        AssertionError: if some element is not $k$ standard errors above ``bound``; the message
            gives the worst $z = (\hat\mu - b)/\widehat{\mathrm{se}}$ and where it is.
        TypeError, ValueError: naming the argument, for bad input.

    Book: *The Gaussian KL, derived and checked*.
    """
    n_se = _check_n_se(n_se)
    estimate_, bound_, stderr_, z = _operands(estimate, bound, stderr, "bound")
    ok = estimate_ - n_se * stderr_ > bound_
    _fail_where(ok, -z, z, f"{what} is {{z:+.2f}} standard errors from the bound{{where}}; needed: more than +{n_se:g}")


def assert_below(
    estimate: Tensor | float, bound: Tensor | float, stderr: Tensor | float, n_se: float, what: str = "estimate"
) -> None:
    r"""Assert that an estimate is below a bound by more than $k$ standard errors: $\hat\mu + k\,\widehat{\mathrm{se}} < b$.

    The mirror image of :func:`assert_above`, elementwise for tensors.

    Raises:
        AssertionError: if some element is not $k$ standard errors below ``bound``; the message
            gives the worst $z = (\hat\mu - b)/\widehat{\mathrm{se}}$ and where it is.
        TypeError, ValueError: naming the argument, for bad input.

    Book: *The Gaussian KL, derived and checked*.
    """
    n_se = _check_n_se(n_se)
    estimate_, bound_, stderr_, z = _operands(estimate, bound, stderr, "bound")
    ok = estimate_ + n_se * stderr_ < bound_
    _fail_where(ok, z, z, f"{what} is {{z:+.2f}} standard errors from the bound{{where}}; needed: less than -{n_se:g}")
