r"""A model's $\log p(x)$ by annealed importance sampling: forward from the prior, and reversed.

* :func:`ais_log_likelihood` — AIS from $p(z)$ to $p(z|x)$ through the tempered densities
  $p(z)\,p(x|z)^{\beta_t}$: a stochastic lower bound on $\log p(x)$ that needs no encoder;
* :func:`reverse_ais_log_likelihood` — the same chain run backwards from an exact posterior sample
  (available for data simulated from the model): a stochastic upper bound. The two together
  sandwich $\log p(x)$ (bidirectional Monte Carlo, Grosse et al. 2015).

Book: *Training a VAE on digits*.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..checks import check_generator, check_int, check_tensor
from .ais import AISResult, LogDensity, annealed_importance_weights, sigmoid_schedule
from .likelihood import eval_mode
from .monte_carlo import importance_log_mean

__all__ = ["ais_log_likelihood", "reverse_ais_log_likelihood"]


def _model_densities(model: torch.nn.Module, x: Tensor) -> tuple[LogDensity, LogDensity]:
    return model.prior.log_prob, lambda z: model.decoder.log_prob(x, z)  # type: ignore[operator, union-attr]


def _tuned_step_sizes(
    model: torch.nn.Module, x: Tensor, betas: Tensor, num_chains: int, num_leapfrog: int,
    generator: torch.Generator | None,
) -> Tensor:
    """Step sizes ``(T, B)`` from a pilot forward run with adaptation (its weights are discarded)."""
    log_prior, log_lik = _model_densities(model, x)
    z = model.prior.sample(num_chains * len(x), generator=generator).view(num_chains, len(x), -1)  # (C, B, z_dim)
    pilot = annealed_importance_weights(
        log_prior, log_lik, z, betas, step_size=0.1, num_leapfrog=num_leapfrog,
        adapt_step_size=True, generator=generator,
    )
    return pilot.step_size


def _check_model_data(model: object, x: object) -> Tensor:
    for part in ("prior", "decoder"):
        if not isinstance(getattr(model, part, None), torch.nn.Module):
            raise TypeError(f"model must have a prior and a decoder (a VAE), got {type(model).__name__}")
    x = check_tensor("x", x, min_dim=2)
    check = getattr(model, "check_data", None)
    if check is not None:
        check(x)
    return x


def ais_log_likelihood(
    model: torch.nn.Module,
    x: Tensor,
    *,
    num_temperatures: int = 1000,
    num_chains: int = 16,
    num_leapfrog: int = 5,
    pilot_chains: int = 2,
    step_size: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor, AISResult]:
    r"""$\log p(x)$ of a VAE by annealed importance sampling from the prior, with its standard error.

    $$\log\hat p(x) = \log\frac1C\sum_{c=1}^{C} w_c,\qquad
      \log w_c = \sum_{t=1}^{T}(\beta_t - \beta_{t-1})\log p(x|z_{c,t-1})$$

    The schedule is :func:`sigmoid_schedule`; the HMC step sizes come from a pilot run of
    ``pilot_chains`` chains that adapts them (unless ``step_size`` is given) and are then held
    fixed, so the estimate's chains are a valid AIS run: $\mathbb E[\hat p] = p(x)$, and
    $\log\hat p$ is a stochastic lower bound whose bias shrinks as $T$ grows. The encoder is not
    used. Runs with the model in evaluation mode (no dropout).

    Args:
        model: a VAE with ``prior`` (``log_prob``, ``sample``) and ``decoder`` (``log_prob(x, z)``).
        x: data, shape ``(B, x_dim)``.
        num_temperatures: $T$, the number of transitions (>= 1).
        num_chains: $C$ (>= 2), the chains per example.
        num_leapfrog: leapfrog steps per HMC transition.
        pilot_chains: chains per example of the pilot run that tunes the step sizes.
        step_size: the step sizes ``(T, B)`` to use instead of a pilot run.
        generator: optional :class:`torch.Generator`.

    Returns:
        ``(log_p_hat, stderr, result)``: $\log\hat p(x)$ and the delta-method standard error over
        the chains (as :func:`~vae_edu.estimators.importance_log_mean`), each ``(B,)``, and the
        :class:`AISResult` (whose ``step_size`` can drive :func:`reverse_ais_log_likelihood`).
        The standard error covers the chains' spread only, not the bias of a finite $T$.

    Book: *Training a VAE on digits*.
    """
    x = _check_model_data(model, x)
    betas = sigmoid_schedule(num_temperatures, dtype=x.dtype)
    check_int("num_chains", num_chains, 2)
    check_int("pilot_chains", pilot_chains)
    check_generator(generator)
    with eval_mode(model):
        if step_size is None:
            step_size = _tuned_step_sizes(model, x, betas, pilot_chains, num_leapfrog, generator)
        log_prior, log_lik = _model_densities(model, x)
        z = model.prior.sample(num_chains * len(x), generator=generator)  # (C * B, z_dim)
        z = z.view(num_chains, len(x), -1)  # (C, B, z_dim)
        result = annealed_importance_weights(
            log_prior, log_lik, z, betas, step_size=step_size, num_leapfrog=num_leapfrog, generator=generator
        )
    log_p, stderr = importance_log_mean(result.log_weights)
    return log_p, stderr, result


def reverse_ais_log_likelihood(
    model: torch.nn.Module,
    x: Tensor,
    z_posterior: Tensor,
    *,
    num_temperatures: int = 1000,
    num_leapfrog: int = 5,
    step_size: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor, AISResult]:
    r"""A stochastic upper bound on $\log p(x)$: AIS run backwards from exact posterior samples (BDMC).

    $$\log\hat p_{\mathrm{rev}}(x) = -\log\frac1C\sum_{c=1}^{C} w_{\mathrm{rev},c},\qquad
      \mathbb E[w_{\mathrm{rev}}] = \frac{1}{p(x)}
      \ \Rightarrow\ \mathbb E\big[\log\hat p_{\mathrm{rev}}(x)\big] \ge \log p(x)$$

    Exact posterior samples are available for data simulated from the model: draw
    $z \sim p(z)$, then $x \sim p(x|z)$; that $z$ is a draw from $p(z|x)$. With the forward
    estimate of :func:`ais_log_likelihood` on the same $x$ this brackets $\log p(x)$ (Grosse et al. 2015).

    Args:
        model: a VAE with ``prior`` and ``decoder``.
        x: simulated data, shape ``(B, x_dim)``.
        z_posterior: exact posterior samples, shape ``(C, B, z_dim)`` with ``C >= 2``.
        num_temperatures: $T$.
        num_leapfrog: leapfrog steps per HMC transition.
        step_size: step sizes ``(T, B)`` in the forward order (e.g. a forward run's
            ``result.step_size``; used reversed), or ``None`` for a fixed 0.1 at every transition.
        generator: optional :class:`torch.Generator`.

    Returns:
        ``(log_p_upper, stderr, result)``, each estimate ``(B,)``.

    Book: *Training a VAE on digits*.
    """
    x = _check_model_data(model, x)
    check_tensor("z_posterior", z_posterior, min_dim=3)
    if z_posterior.dim() != 3 or z_posterior.shape[0] < 2 or z_posterior.shape[1] != len(x):
        raise ValueError(f"z_posterior must have shape (C >= 2, {len(x)}, z_dim), got {tuple(z_posterior.shape)}")
    betas = sigmoid_schedule(num_temperatures, dtype=x.dtype).flip(0)  # 1 -> 0
    steps: float | Tensor = 0.1 if step_size is None else step_size.flip(0)
    with eval_mode(model):
        log_prior, log_lik = _model_densities(model, x)
        result = annealed_importance_weights(
            log_prior, log_lik, z_posterior, betas, step_size=steps, num_leapfrog=num_leapfrog, generator=generator
        )
    log_inv_p, stderr = importance_log_mean(result.log_weights)
    return -log_inv_p, stderr, result
