r"""Annealed importance sampling (AIS): a second, independent estimate of $\log p(x)$.

The importance-sampled likelihood of :func:`vae_edu.estimators.log_likelihood` uses the encoder
$q(z|x)$ as its proposal; where $q$ misses part of the posterior, $\mathcal L_k$ sits below
$\log p(x)$ by more than its standard error says. AIS (Neal 2001) needs no encoder: it moves
$C$ chains from the prior $p(z)$ to the posterior $p(z|x)$ through the path

$$f_\beta(z) = p(z)\,p(x|z)^{\beta},\qquad 0 = \beta_0 < \beta_1 < \dots < \beta_T = 1,$$

with a Markov transition (Hamiltonian Monte Carlo) that leaves each $f_{\beta_t}$ invariant, and
weights each chain by

$$\log w = \sum_{t=1}^{T} (\beta_t - \beta_{t-1})\,\log p(x|z_{t-1}),\qquad
  \mathbb E[w] = p(x).$$

So $\log\frac1C\sum_c w_c$ is, like $\mathcal L_k$, a stochastic lower bound on $\log p(x)$, with
a bias that vanishes as $T \to \infty$ (Wu et al. 2017 use it for decoder-based models). Run
backwards, from an exact posterior sample to the prior, the same recursion gives
$\mathbb E[w_{\mathrm{rev}}] = 1/p(x)$ and so $-\log\frac1C\sum_c w_{\mathrm{rev},c}$, a
stochastic *upper* bound; on data simulated from the model, where $(z, x)$ drawn together give the
exact posterior sample, the two bracket $\log p(x)$ (bidirectional Monte Carlo, Grosse et al. 2015).

Book: *Training a VAE on digits*.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from ..checks import check_generator, check_int, check_positive_float, check_tensor

__all__ = ["AISResult", "sigmoid_schedule", "annealed_importance_weights"]

#: A log-density of latent codes: ``z`` of shape ``(C, B, z_dim)`` to values of shape ``(C, B)``.
LogDensity = Callable[[Tensor], Tensor]


@dataclass
class AISResult:
    """What one AIS run returns.

    Attributes:
        log_weights: $\\log w_c$ of every chain, shape ``(C, B)``.
        step_size: the HMC step size used at each transition, shape ``(T, B)``.
        acceptance: the Metropolis acceptance rate, averaged over the chains and the
            transitions, shape ``(B,)``.
        z: the chains' final states, shape ``(C, B, z_dim)``.
    """

    log_weights: Tensor
    step_size: Tensor
    acceptance: Tensor
    z: Tensor


def sigmoid_schedule(num_temperatures: int, delta: float = 4.0, dtype: torch.dtype = torch.float64) -> Tensor:
    r"""The sigmoidal annealing schedule of Grosse et al. (2015): dense near $\beta = 0$ and $\beta = 1$.

    $$\beta_t = \frac{\sigma\big(\delta(2t/T - 1)\big) - \sigma(-\delta)}{\sigma(\delta) - \sigma(-\delta)},
      \qquad t = 0, \dots, T$$

    Args:
        num_temperatures: $T$ (>= 1), the number of transitions.
        delta: $\delta > 0$, how strongly the steps crowd at the ends.
        dtype: floating-point dtype of the result.

    Returns:
        $\beta_0 = 0 < \dots < \beta_T = 1$, shape ``(T + 1,)``.

    Book: *Training a VAE on digits*.
    """
    num = check_int("num_temperatures", num_temperatures)
    delta = check_positive_float("delta", delta)
    s = torch.sigmoid(delta * (2 * torch.arange(num + 1, dtype=torch.float64) / num - 1))  # (T + 1,)
    betas = (s - s[0]) / (s[-1] - s[0])
    betas[0], betas[-1] = 0.0, 1.0  # exactly
    return betas.to(dtype)


def _value_and_grad(log_likelihood: LogDensity, z: Tensor) -> tuple[Tensor, Tensor]:
    """$\\log p(x|z)$ and its gradient in $z$: ``(C, B)`` and ``(C, B, z_dim)``."""
    with torch.enable_grad():
        z = z.detach().requires_grad_(True)
        value = log_likelihood(z)  # (C, B)
        (grad,) = torch.autograd.grad(value.sum(), z)
    return value.detach(), grad


def _prior_grad(log_prior: LogDensity, z: Tensor) -> Tensor:
    with torch.enable_grad():
        z = z.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(log_prior(z).sum(), z)
    return grad


def annealed_importance_weights(
    log_prior: LogDensity,
    log_likelihood: LogDensity,
    z: Tensor,
    betas: Tensor,
    *,
    step_size: float | Tensor = 0.1,
    num_leapfrog: int = 5,
    adapt_step_size: bool = False,
    target_acceptance: float = 0.65,
    generator: torch.Generator | None = None,
) -> AISResult:
    r"""Run AIS chains along $f_\beta(z) = p(z)\,p(x|z)^\beta$ with HMC transitions; return their log-weights.

    $$\log w = \sum_{t=1}^{T} (\beta_t - \beta_{t-1})\,\log p(x|z_{t-1}),\qquad
      z_t \sim \mathcal T_t(z_{t-1}, \cdot),\quad \mathcal T_t \text{ leaves } f_{\beta_t} \text{ invariant}$$

    With $\beta$ rising from 0 to 1 and $z$ drawn from the prior, $\mathbb E[w] = p(x)$ (forward
    AIS); with $\beta$ falling from 1 to 0 and $z$ an exact posterior sample, $\mathbb E[w] = 1/p(x)$
    (reverse AIS). Each transition is one HMC step: a momentum $r \sim \mathcal N(0, I)$,
    ``num_leapfrog`` leapfrog steps of size $\epsilon$ and a Metropolis test. With
    ``adapt_step_size`` the step size of each example is multiplied by 1.02 after a transition whose
    acceptance rate (over that example's chains) exceeded ``target_acceptance`` and by 0.98
    otherwise (Wu et al. 2017); the kernels then depend on the chains' past, so the weights are
    not exactly unbiased: use an adapted run to find the step sizes, and a fresh run with those
    step sizes fixed for the estimate (as :func:`ais_log_likelihood` does).

    Args:
        log_prior: $\log p(z)$, ``(C, B, z_dim)`` → ``(C, B)``, differentiable.
        log_likelihood: $\log p(x|z)$ for the $B$ examples, ``(C, B, z_dim)`` → ``(C, B)``,
            differentiable.
        z: the chains' starting points, shape ``(C, B, z_dim)`` (exact samples of $f_{\beta_0}$).
        betas: the schedule $\beta_0, \dots, \beta_T$, shape ``(T + 1,)``, monotone, from 0 to 1
            or from 1 to 0.
        step_size: $\epsilon > 0$: a number, or one per transition and example, shape ``(T, B)``.
        num_leapfrog: leapfrog steps per transition (>= 1).
        adapt_step_size: adapt $\epsilon$ during the run (see above).
        target_acceptance: the acceptance rate the adaptation aims at, in $(0, 1)$.
        generator: optional :class:`torch.Generator` for the momenta and the Metropolis tests.

    Returns:
        :class:`AISResult` with ``log_weights`` ``(C, B)``.

    Book: *Training a VAE on digits*.
    """
    check_tensor("z", z, min_dim=3)
    if z.dim() != 3:
        raise ValueError(f"z must have shape (C, B, z_dim), got {tuple(z.shape)}")
    check_tensor("betas", betas, min_dim=1)
    if betas.dim() != 1 or betas.numel() < 2:
        raise ValueError(f"betas must have shape (T + 1,) with T >= 1, got {tuple(betas.shape)}")
    ends = (float(betas[0]), float(betas[-1]))
    steps = betas.diff()
    if ends not in ((0.0, 1.0), (1.0, 0.0)) or not (bool((steps >= 0).all()) or bool((steps <= 0).all())):
        raise ValueError("betas must run monotonically from 0 to 1 (forward AIS) or from 1 to 0 (reverse AIS)")
    check_int("num_leapfrog", num_leapfrog)
    if not 0 < float(target_acceptance) < 1:
        raise ValueError(f"target_acceptance must be in (0, 1), got {target_acceptance!r}")
    check_generator(generator)
    num_chains, batch, _ = z.shape
    num_steps = betas.numel() - 1
    if isinstance(step_size, Tensor):
        check_tensor("step_size", step_size)
        if step_size.shape != (num_steps, batch) or not bool((step_size > 0).all()):
            raise ValueError(f"step_size must be a number > 0 or a positive tensor of shape ({num_steps}, {batch})")
        schedule = step_size.to(z.dtype).clone()  # (T, B)
    else:
        schedule = torch.full((num_steps, batch), check_positive_float("step_size", step_size), dtype=z.dtype)
    betas = betas.to(z.dtype)

    z = z.detach().clone()
    log_lik, grad_lik = _value_and_grad(log_likelihood, z)  # (C, B), (C, B, z_dim)
    log_w = torch.zeros(num_chains, batch, dtype=z.dtype)
    accepted = torch.zeros(batch, dtype=z.dtype)
    for t in range(1, num_steps + 1):
        beta = betas[t]
        log_w = log_w + (beta - betas[t - 1]) * log_lik  # the weight uses z_{t-1}
        eps = schedule[t - 1].view(1, batch, 1)  # (1, B, 1)

        def grad_f(z_: Tensor, grad_lik_: Tensor) -> Tensor:
            return _prior_grad(log_prior, z_) + beta * grad_lik_  # grad log f_beta, (C, B, z_dim)

        momentum = torch.randn(z.shape, dtype=z.dtype, generator=generator)  # (C, B, z_dim)
        z_new, r = z, momentum + 0.5 * eps * grad_f(z, grad_lik)
        for step in range(num_leapfrog):
            z_new = z_new + eps * r
            lik_new, grad_new = _value_and_grad(log_likelihood, z_new)
            g = grad_f(z_new, grad_new)
            r = r + (eps if step < num_leapfrog - 1 else 0.5 * eps) * g
        with torch.no_grad():
            h_old = -(log_prior(z) + beta * log_lik) + 0.5 * momentum.pow(2).sum(-1)  # (C, B)
            h_new = -(log_prior(z_new) + beta * lik_new) + 0.5 * r.pow(2).sum(-1)
            log_u = torch.log(torch.rand(h_old.shape, dtype=z.dtype, generator=generator))
            accept = (log_u < h_old - h_new) & torch.isfinite(h_new)  # (C, B)
        z = torch.where(accept.unsqueeze(-1), z_new.detach(), z)
        log_lik = torch.where(accept, lik_new, log_lik)
        grad_lik = torch.where(accept.unsqueeze(-1), grad_new, grad_lik)
        rate = accept.to(z.dtype).mean(0)  # (B,)
        accepted += rate
        if adapt_step_size and t < num_steps:
            factor = torch.where(rate > target_acceptance, 1.02, 0.98).to(z.dtype)
            schedule[t] = schedule[t - 1] * factor
    return AISResult(log_weights=log_w, step_size=schedule, acceptance=accepted / num_steps, z=z)
