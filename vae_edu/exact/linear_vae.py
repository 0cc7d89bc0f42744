r"""The linear VAE: a VAE whose encoder and decoder are linear, i.e. probabilistic PCA with an encoder.

$$q(z|x) = \mathcal N\big(W_q x + b_q,\ \operatorname{diag}\sigma_q^2\big),\qquad
  p(z) = \mathcal N(0, I_d),\qquad p(x|z) = \mathcal N\big(W_p z + b_p,\ \sigma_p^2 I_D\big)$$

Its decoder is the linear-Gaussian model of :mod:`vae_edu.exact.linear_gaussian`, so everything a
non-linear VAE can only estimate is exact here: the ELBO in closed form, and the log-likelihood
$\log p(x)$ of the trained decoder (:meth:`LinearVAE.to_linear_gaussian`). Maximising the ELBO
reaches the maximum-likelihood probabilistic PCA solution (Lucas et al., 2019, "Don't blame the
ELBO!").

Book: *The linear VAE is probabilistic PCA*.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..checks import check_generator, check_int, check_tensor, check_vector
from ..distributions.gaussian import log_normal_diag, log_standard_normal, reparameterize
from ..estimators.monte_carlo import mc_elbo
from ..kl import kl_normal_std_normal
from .linear_gaussian import LinearGaussian, expected_log_linear_gaussian

__all__ = ["LinearVAE", "fit_exact_elbo", "fit_monte_carlo_elbo"]


class LinearVAE(nn.Module):
    r"""A VAE with a linear encoder, a linear decoder and a learned decoder variance.

    * encoder: $\mu_q(x) = W_q x + b_q$ and $\log\sigma_q^2$, a free vector **shared by all**
      $x$. The true posterior of a linear-Gaussian decoder has the covariance
      $\sigma_p^2(W_p^\top W_p + \sigma_p^2 I)^{-1}$, the same for every $x$, so an
      $x$-dependent variance would add parameters and nothing else;
    * decoder: $p(x|z) = \mathcal N(W_p z + b_p,\ \sigma_p^2 I)$ with a learned scalar
      $\log\sigma_p^2$; prior $p(z) = \mathcal N(0, I)$.

    Parameters (``nn.Parameter``): ``W_q`` ``(z_dim, x_dim)``, ``b_q`` ``(z_dim,)``,
    ``log_var_q`` ``(z_dim,)``, ``W_p`` ``(x_dim, z_dim)``, ``b_p`` ``(x_dim,)``, ``log_var_p`` ``()``.
    The weights start as $\mathcal N(0, \text{init\_std}^2)$ draws, biases and log-variances at 0.

    Args:
        x_dim: data dimension $D$.
        z_dim: latent dimension $d$.
        dtype: floating-point dtype of the parameters (use ``torch.float64`` to train to
            high precision).
        generator: optional :class:`torch.Generator` for the initial weights.
        init_std: standard deviation of the initial weights (> 0).

    Example:
        >>> model = LinearVAE(x_dim=5, z_dim=2)
        >>> x = torch.randn(3, 5)
        >>> model.elbo_exact(x).shape
        torch.Size([3])

    Book: *The linear VAE is probabilistic PCA*.
    """

    def __init__(
        self,
        x_dim: int,
        z_dim: int,
        *,
        dtype: torch.dtype = torch.float32,
        generator: torch.Generator | None = None,
        init_std: float = 0.1,
    ) -> None:
        super().__init__()
        check_int("x_dim", x_dim)
        check_int("z_dim", z_dim)
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
        check_generator(generator)
        if isinstance(init_std, bool) or not isinstance(init_std, (int, float)) or not 0 < init_std < math.inf:
            raise ValueError(f"init_std must be a positive finite number, got {init_std!r}")
        self.x_dim, self.z_dim = x_dim, z_dim

        def weights(*shape: int) -> nn.Parameter:
            return nn.Parameter(init_std * torch.randn(shape, dtype=dtype, generator=generator))

        self.W_q = weights(z_dim, x_dim)
        self.b_q = nn.Parameter(torch.zeros(z_dim, dtype=dtype))
        self.log_var_q = nn.Parameter(torch.zeros(z_dim, dtype=dtype))
        self.W_p = weights(x_dim, z_dim)
        self.b_p = nn.Parameter(torch.zeros(x_dim, dtype=dtype))
        self.log_var_p = nn.Parameter(torch.zeros((), dtype=dtype))

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the parameters (and of every result)."""
        return self.W_p.dtype

    def extra_repr(self) -> str:
        """The sizes and dtype shown by ``repr(model)``, e.g. ``x_dim=5, z_dim=2, dtype=torch.float32``."""
        return f"x_dim={self.x_dim}, z_dim={self.z_dim}, dtype={self.dtype}"

    def _check(self, name: str, value: Tensor, dim: int, dim_name: str) -> None:
        check_vector(name, value, dim, self.dtype, size_name=dim_name)

    # ------------------------------------------------------------------ the two halves
    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        r"""Parameters of $q(z|x) = \mathcal N\big(W_q x + b_q,\ \operatorname{diag}\sigma_q^2\big)$.

        Args:
            x: data, shape ``(..., x_dim)``.

        Returns:
            ``(mu_q, log_var_q)``, each of shape ``(..., z_dim)`` (``log_var_q`` is the same for
            every ``x``, expanded).
        """
        self._check("x", x, self.x_dim, "x_dim")
        mu_q = x @ self.W_q.T + self.b_q  # (..., z_dim)
        return mu_q, self.log_var_q.expand_as(mu_q)

    def decode(self, z: Tensor) -> Tensor:
        r"""Mean of the decoder, $\mu_p(z) = W_p z + b_p$.

        Args:
            z: latent codes, shape ``(..., z_dim)``.

        Returns:
            ``mu_p``, shape ``(..., x_dim)``.
        """
        self._check("z", z, self.z_dim, "z_dim")
        return z @ self.W_p.T + self.b_p  # (..., x_dim)

    def log_p_x_given_z(self, x: Tensor, z: Tensor) -> Tensor:
        r"""The decoder's log-likelihood $\log p(x|z) = \log\mathcal N(x;\ W_p z + b_p,\ \sigma_p^2 I)$.

        Args:
            x: data, shape ``(..., x_dim)``.
            z: latent codes, shape ``(..., z_dim)``; batch shapes broadcast (e.g. ``z`` of
                shape ``(K, B, z_dim)`` against ``x`` of shape ``(B, x_dim)``).

        Returns:
            shape: the broadcast batch shape.
        """
        self._check("x", x, self.x_dim, "x_dim")
        mu_p = self.decode(z)  # (..., x_dim)
        return log_normal_diag(x, mu_p, self.log_var_p.expand(self.x_dim))

    def to_linear_gaussian(self) -> LinearGaussian:
        r"""The trained decoder as a :class:`LinearGaussian` $(W_p, b_p, \sigma_p^2)$, detached.

        Its :meth:`~LinearGaussian.log_marginal` is the exact $\log p(x)$ of the decoder, its
        :meth:`~LinearGaussian.posterior` the exact $p(z|x)$ that $q(z|x)$ approximates.

        Returns:
            A :class:`LinearGaussian` holding copies of the parameters (no gradients).
        """
        with torch.no_grad():
            W, b = self.W_p.detach().clone(), self.b_p.detach().clone()
            return LinearGaussian(W, b, torch.exp(self.log_var_p.detach()))

    # ------------------------------------------------------------------ the objective
    def elbo_exact(self, x: Tensor) -> Tensor:
        r"""The ELBO in closed form — no sampling, differentiable in every parameter.

        $$\mathrm{ELBO}(x) = -\frac D2\log(2\pi\sigma_p^2)
          - \frac{\|x - W_p\mu_q - b_p\|^2 + \sum_j \|W_{p,:,j}\|^2\sigma_{q,j}^2}{2\sigma_p^2}
          - \mathrm{KL}\big(q(z|x)\,\|\,\mathcal N(0, I)\big)$$

        The first two terms are $\mathbb E_q[\log p(x|z)]$
        (:func:`~vae_edu.exact.linear_gaussian.expected_log_linear_gaussian`, shared with
        :class:`LinearGaussian`), the last one is :func:`vae_edu.kl.kl_normal_std_normal`.

        Args:
            x: data, shape ``(..., x_dim)``.

        Returns:
            The ELBO per example (to be maximised), shape ``(...)``.

        Book: *The linear VAE is probabilistic PCA*.
        """
        mu_q, log_var_q = self.encode(x)  # (..., z_dim) each
        reconstruction = expected_log_linear_gaussian(x, self.W_p, self.b_p, self.log_var_p, mu_q, log_var_q)
        return reconstruction - kl_normal_std_normal(mu_q, log_var_q)

    def elbo_monte_carlo(
        self, x: Tensor, num_samples: int, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        r"""The ELBO by Monte Carlo with reparameterised samples, with its standard error.

        $$\mathrm{ELBO}(x) \approx \frac1K\sum_{k=1}^K\big[\log p(x|z_k) + \log p(z_k) - \log q(z_k|x)\big],
          \qquad z_k = \mu_q + \sigma_q\odot\varepsilon_k,\ \varepsilon_k\sim\mathcal N(0, I)$$

        Differentiable through the samples (the reparameterization trick), so
        ``-estimate.mean()`` is a training loss for a VAE whose ELBO has no closed form.

        Args:
            x: data, shape ``(..., x_dim)``.
            num_samples: $K \ge 2$, samples per example.
            generator: optional :class:`torch.Generator` for $\varepsilon$.

        Returns:
            ``(estimate, stderr)``, each of shape ``(...)``.

        Book: *The linear VAE is probabilistic PCA*; the estimator is derived in *The ELBO, derived and checked*.
        """
        check_int("num_samples", num_samples, minimum=2)
        check_generator(generator)
        mu_q, log_var_q = self.encode(x)  # (..., z_dim)
        eps = torch.randn((num_samples, *mu_q.shape), dtype=self.dtype, device=mu_q.device, generator=generator)
        z = reparameterize(mu_q, log_var_q, eps)  # (K, ..., z_dim)
        return mc_elbo(
            self.log_p_x_given_z(x, z),  # (K, ...)
            log_standard_normal(z),
            log_normal_diag(z, mu_q, log_var_q),
        )


# ---------------------------------------------------------------------- training
def _check_data(model: LinearVAE, x: Tensor) -> None:
    if not isinstance(model, LinearVAE):
        raise TypeError(f"model must be a LinearVAE, got {type(model).__name__}")
    check_tensor("x", x, min_dim=2)
    if x.dim() != 2:
        raise ValueError(f"x must have shape (N, x_dim), got {tuple(x.shape)}")
    model._check("x", x, model.x_dim, "x_dim")


def _mean_elbo(model: LinearVAE, x: Tensor) -> float:
    with torch.no_grad():
        return float(model.elbo_exact(x).mean())


def fit_exact_elbo(
    model: LinearVAE, x: Tensor, *, num_iterations: int, record_every: int = 10, history_size: int = 100
) -> list[float]:
    r"""Maximise the mean exact ELBO over a data set with L-BFGS (strong-Wolfe line search), in place.

    The closed-form ELBO is a smooth, deterministic function of the parameters: the setting
    quasi-Newton methods are made for. They converge far faster and further than Adam.

    Args:
        model: the :class:`LinearVAE` to train (its parameters are updated in place).
        x: the whole data set (full batch), shape ``(N, x_dim)``.
        num_iterations: L-BFGS iterations (each runs a line search of one or a few ELBO evaluations).
        record_every: record the ELBO after every ``record_every`` iterations.
        history_size: number of gradient pairs L-BFGS keeps.

    Returns:
        The mean exact ELBO per example at iterations ``0, record_every, 2 * record_every, ...``
        and at ``num_iterations``.

    Book: *The linear VAE is probabilistic PCA*.
    """
    _check_data(model, x)
    check_int("num_iterations", num_iterations)
    check_int("record_every", record_every)
    check_int("history_size", history_size)

    optimizer = torch.optim.LBFGS(model.parameters(), lr=1.0, history_size=history_size, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = -model.elbo_exact(x).mean()
        loss.backward()
        return loss

    history = [_mean_elbo(model, x)]
    done = 0
    while done < num_iterations:
        chunk = min(record_every, num_iterations - done)  # the L-BFGS memory carries over between chunks
        # up to 25 evaluations per line search (torch's default budget, 1.25 per iteration, cuts it short)
        optimizer.param_groups[0].update(max_iter=chunk, max_eval=25 * chunk + 1)
        optimizer.step(closure)
        done += chunk
        history.append(_mean_elbo(model, x))
    return history


def fit_monte_carlo_elbo(
    model: LinearVAE,
    x: Tensor,
    *,
    num_samples: int | None,
    num_steps: int,
    lr: float,
    decay: bool = True,
    generator: torch.Generator | None = None,
) -> list[float]:
    r"""Maximise the Monte Carlo ELBO with Adam, as a VAE with no closed form must, in place.

    Every step draws fresh $\varepsilon$ (:meth:`LinearVAE.elbo_monte_carlo`), so the gradient
    is unbiased but noisy; the learning rate decays linearly from ``lr`` to 0 so that the
    iterates settle despite the noise. Two switches turn the run into a control experiment:
    ``decay=False`` keeps the learning rate at ``lr`` (the noise is then never damped), and
    ``num_samples=None`` follows the gradient of the exact ELBO (:meth:`LinearVAE.elbo_exact`)
    with the same optimiser and schedule (no noise at all).

    Args:
        model: the :class:`LinearVAE` to train (its parameters are updated in place).
        x: the whole data set (full batch), shape ``(N, x_dim)``.
        num_samples: $K \ge 2$ samples per example and step, or ``None`` for the exact ELBO.
        num_steps: number of Adam steps.
        lr: initial learning rate (> 0).
        decay: decay the learning rate linearly from ``lr`` to 0 over the ``num_steps`` steps
            (``True``) or keep it at ``lr`` (``False``).
        generator: optional :class:`torch.Generator` for the samples.

    Returns:
        The mean **exact** ELBO per example before training and after every step
        (``num_steps + 1`` floats): the quantity being climbed, measured without noise.

    Book: *The linear VAE is probabilistic PCA*.
    """
    _check_data(model, x)
    if num_samples is not None:
        check_int("num_samples", num_samples, minimum=2)
    check_int("num_steps", num_steps)
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr < math.inf:
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")
    if not isinstance(decay, bool):
        raise TypeError(f"decay must be a bool, got {type(decay).__name__}")
    check_generator(generator)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    factor = (lambda step: 1.0 - step / num_steps) if decay else (lambda step: 1.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    history = [_mean_elbo(model, x)]
    for _ in range(num_steps):
        optimizer.zero_grad()
        if num_samples is None:
            estimate = model.elbo_exact(x)  # (N,), no sampling
        else:
            estimate, _ = model.elbo_monte_carlo(x, num_samples, generator)  # (N,)
        (-estimate.mean()).backward()
        optimizer.step()
        schedule.step()
        history.append(_mean_elbo(model, x))
    return history
