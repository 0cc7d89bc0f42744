r"""VQ-VAE parts (van den Oord et al. 2017): a vector quantiser, the encoder it completes, and the uniform code prior.

The encoder's output $z_e(x)$, a grid of $M$ vectors of dimension $D$, is replaced by its
nearest codebook vectors $e_k$ ($K$ codes): $z_q = e_{k^*}$, $k^* = \arg\min_k\|z_e - e_k\|^2$. As a VAE,

$$q(k\,|\,x) = \mathbb 1[k = k^*(x)],\quad p(k) = \tfrac1K\quad\Longrightarrow\quad
  \mathrm{KL}\big(q\,\|\,p\big) = \log K\ \text{per position}$$

so ``VAE(QuantisedEncoder(...), decoder, UniformCodePrior(...))`` computes
$\mathrm{ELBO} = \log p(x|z_q) - M\log K$ itself. The quantiser's two training terms are not in the
bound: the posterior carries them as ``penalty`` (see :class:`QuantisedPosterior`).

Book: *Discrete latents*.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn

from ..checks import check_generator, check_int, check_number, check_tensor

__all__ = ["VectorQuantiser", "Quantised", "QuantisedPosterior", "QuantisedEncoder", "UniformCodePrior",
           "code_perplexity"]  # fmt: skip


class Quantised(NamedTuple):
    r"""What :class:`VectorQuantiser` returns for encoder outputs $z_e$ of shape ``(..., D)``.

    Attributes:
        z_q: $z_e + \operatorname{sg}(e_{k^*} - z_e)$: the nearest codes forward, the identity
            backward (straight-through), shape ``(..., D)``.
        index: $k^*$, shape ``(...)`` (int64).
        codebook_loss: $\|\operatorname{sg}(z_e) - e_{k^*}\|^2$ (gradient to the codebook only), shape ``(...)``.
        commitment_loss: $\|z_e - \operatorname{sg}(e_{k^*})\|^2$ (gradient to the encoder only), shape ``(...)``.
    """

    z_q: Tensor
    index: Tensor
    codebook_loss: Tensor
    commitment_loss: Tensor


class VectorQuantiser(nn.Module):
    r"""Nearest-codebook quantisation with a codebook $e_1, \dots, e_K \in \mathbb R^D$.

    With ``ema_decay=None`` the codebook is a parameter trained by the codebook loss; with
    ``ema_decay=`` $\gamma$ it is a buffer updated, in training mode, by exponential moving averages
    (van den Oord et al. 2017, appendix A.1) with Laplace-smoothed counts:

    $$N_k \leftarrow \gamma N_k + (1-\gamma)\,n_k,\quad m_k \leftarrow \gamma m_k + (1-\gamma)\!\!\sum_{i:\,k^*_i = k}\!\! z_{e,i},
      \quad e_k = m_k\Big/\Big(\frac{N_k + \epsilon}{N + K\epsilon}\,N\Big),\quad N = \sum_k N_k$$

    Args:
        num_codes: $K$.
        code_dim: $D$.
        commitment_weight: $\beta$ of the commitment loss in ``penalty`` (the paper's 0.25).
        ema_decay: $\gamma \in [0, 1)$, or ``None`` for a codebook trained by gradient.
        epsilon: $\epsilon \ge 0$, the Laplace smoothing of the EMA counts.

    Book: *Discrete latents*.
    """

    cluster_size: Tensor
    embed_sum: Tensor

    def __init__(self, num_codes: int, code_dim: int, *, commitment_weight: float = 0.25,
                 ema_decay: float | None = None, epsilon: float = 1e-5) -> None:  # fmt: skip
        super().__init__()
        self.num_codes, self.code_dim = check_int("num_codes", num_codes), check_int("code_dim", code_dim)
        check_number("commitment_weight", commitment_weight, minimum=0)
        check_number("epsilon", epsilon, minimum=0)
        check_number("ema_decay", ema_decay, minimum=0, allow_none=True)
        if ema_decay is not None and not ema_decay < 1:
            raise ValueError(f"ema_decay must be None or in [0, 1), got {ema_decay!r}")
        self.commitment_weight, self.epsilon = float(commitment_weight), float(epsilon)
        self.ema_decay = None if ema_decay is None else float(ema_decay)
        codebook = torch.empty(num_codes, code_dim).uniform_(-1 / num_codes, 1 / num_codes)  # (K, D), small at the start
        if ema_decay is None:
            self.codebook = nn.Parameter(codebook)
        else:
            self.register_buffer("codebook", codebook)
            self.register_buffer("cluster_size", torch.ones(num_codes))  # N_k, one pseudo-count
            self.register_buffer("embed_sum", codebook.clone())  # m_k = N_k e_k

    def nearest(self, z_e: Tensor) -> Tensor:
        r"""$k^* = \arg\min_k \|z_e - e_k\|^2$ (from $\|z_e\|^2 - 2z_e^\top e_k + \|e_k\|^2$), ``(..., D)`` → ``(...)``."""
        flat = z_e.detach().reshape(-1, self.code_dim)  # (N, D)
        dist = (flat**2).sum(-1, keepdim=True) - 2 * flat @ self.codebook.detach().T + (self.codebook.detach() ** 2).sum(-1)  # (N, K)
        return dist.argmin(dim=-1).view(z_e.shape[:-1])

    def check_z_e(self, z_e: Tensor) -> None:
        """Check encoder outputs: a finite tensor ``(..., D)`` in the codebook's dtype (``ValueError`` naming ``z_e``)."""
        check_tensor("z_e", z_e, min_dim=1)
        if z_e.shape[-1] != self.code_dim or z_e.dtype != self.codebook.dtype:
            raise ValueError(f"z_e must have shape (..., code_dim={self.code_dim}) and dtype {self.codebook.dtype}, "
                             f"got {tuple(z_e.shape)} {z_e.dtype}")  # fmt: skip

    def forward(self, z_e: Tensor) -> Quantised:
        r"""Quantise encoder outputs $z_e$ ``(..., D)``; in training mode with EMA, then update the codebook."""
        self.check_z_e(z_e)
        index = self.nearest(z_e)  # (...)
        e = self.codebook[index]  # (..., D), a copy: the codes before this step's EMA update
        if self.training and self.ema_decay is not None:
            self.ema_update(z_e, index)
        codebook_loss = ((z_e.detach() - e) ** 2).sum(dim=-1)
        commitment_loss = ((z_e - e.detach()) ** 2).sum(dim=-1)
        z_q = z_e + (e - z_e).detach()  # straight-through: forward e, gradient to z_e unchanged
        return Quantised(z_q, index, codebook_loss, commitment_loss)

    @torch.no_grad()
    def ema_update(self, z_e: Tensor, index: Tensor) -> None:
        r"""One EMA step of the codebook (the formula of the class docstring) from $z_e$ ``(..., D)``
        and its codes ``(...)``."""
        if self.ema_decay is None:
            raise TypeError("ema_update needs a quantiser built with ema_decay")
        gamma = self.ema_decay
        one_hot = nn.functional.one_hot(index.reshape(-1), self.num_codes).to(z_e.dtype)  # (N, K)
        self.cluster_size.mul_(gamma).add_(one_hot.sum(dim=0), alpha=1 - gamma)  # N_k
        self.embed_sum.mul_(gamma).add_(one_hot.T @ z_e.detach().reshape(-1, self.code_dim), alpha=1 - gamma)  # m_k
        total = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.epsilon) / (total + self.num_codes * self.epsilon) * total  # (K,)
        updated = self.embed_sum / smoothed.clamp_min(torch.finfo(z_e.dtype).tiny)[:, None]
        self.codebook.copy_(torch.where(smoothed[:, None] > 0, updated, self.codebook))

    @torch.no_grad()
    def restart_dead_codes(self, z_e: Tensor, generator: torch.Generator | None = None) -> Tensor:
        r"""Re-initialise every code that no vector of $z_e$ ``(..., D)`` (say, a large batch of encoder
        outputs) is nearest to, as one of those vectors drawn at random (without replacement when
        there are enough); a remedy for index collapse.

        Returns:
            the mask of restarted codes, shape ``(K,)`` (bool).
        """
        self.check_z_e(z_e)
        check_generator(generator)
        flat = z_e.detach().reshape(-1, self.code_dim)  # (N, D)
        dead = torch.bincount(self.nearest(flat), minlength=self.num_codes) == 0  # (K,)
        num_dead = int(dead.sum())
        if num_dead:
            if num_dead <= flat.shape[0]:
                pick = torch.randperm(flat.shape[0], generator=generator)[:num_dead]
            else:
                pick = torch.randint(flat.shape[0], (num_dead,), generator=generator)
            self.codebook[dead] = flat[pick.to(flat.device)]
            if self.ema_decay is not None:
                self.cluster_size[dead] = 1.0
                self.embed_sum[dead] = self.codebook[dead]
        return dead


def code_perplexity(index: Tensor, num_codes: int) -> Tensor:
    r"""The perplexity of code usage, $\exp H(\hat p)$ with $\hat p_k = n_k / N$: the effective number of
    codes in use ($K$ for uniform usage, 1 when one code takes every vector).

    $$\exp\Big(-\sum_{k=1}^K \hat p_k\log\hat p_k\Big)$$

    Args:
        index: codes, any shape, int64 in $[0, K)$.
        num_codes: $K$.

    Returns:
        a scalar (float64).

    Book: *Discrete latents*.
    """
    if not isinstance(index, Tensor) or index.dtype != torch.int64 or index.numel() == 0:
        raise TypeError("index must be a non-empty int64 tensor of codes")
    check_int("num_codes", num_codes)
    if int(index.min()) < 0 or int(index.max()) >= num_codes:
        raise ValueError(f"index must hold codes in [0, num_codes={num_codes})")
    p = torch.bincount(index.reshape(-1), minlength=num_codes).double() / index.numel()  # (K,)
    return torch.exp(-torch.xlogy(p, p).sum())


class QuantisedPosterior(NamedTuple):
    r"""$q(k\,|\,x) = \mathbb 1[k = k^*(x)]$ for a batch: a point mass on the nearest codes.

    Attributes:
        quantised: the :class:`Quantised` grid, ``z_q`` of shape ``(B, M, D)``.
        penalty: the training terms outside the bound, $\sum_m \big(\|\operatorname{sg}(z_e) - e\|^2
            + \beta\|z_e - \operatorname{sg}(e)\|^2\big)$ (without the first with an EMA codebook), shape ``(B,)``.
    """

    quantised: Quantised
    penalty: Tensor

    @property
    def mean(self) -> Tensor:
        r"""$z_q$ flattened, shape ``(B, M * D)``."""
        return self.quantised.z_q.flatten(start_dim=-2)

    @property
    def index(self) -> Tensor:
        """The codes $k^*$, shape ``(B, M)``."""
        return self.quantised.index

    def rsample(self, num_samples: int = 1, generator: torch.Generator | None = None) -> Tensor:
        r"""$z_q$ repeated (there is no noise), shape ``(S, B, M * D)`` for $S$ = ``num_samples``; straight-through gradient."""
        return self.mean.expand(num_samples, *self.mean.shape)

    def rsample_with_log_prob(self, num_samples: int = 1, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        r"""$z_q$ ``(S, B, M * D)`` and $\log q(k^*|x) = 0$ ``(S, B)``."""
        z = self.rsample(num_samples)
        return z, z.new_zeros(z.shape[:-1])


class QuantisedEncoder(nn.Module):
    r"""An encoder completed by a quantiser: ``net`` maps $x$ ``(B, x_dim)`` to $z_e$ ``(B, M * D)``,
    read as $M$ vectors of dimension $D$ and quantised.

    Args:
        net: any module with output width $M D$ (e.g. :func:`~vae_edu.models.mlp`).
        quantiser: a :class:`VectorQuantiser` ($K$ codes of dimension $D$).
        num_positions: $M$.

    Book: *Discrete latents*.
    """

    def __init__(self, net: nn.Module, quantiser: VectorQuantiser, num_positions: int) -> None:
        super().__init__()
        self.net, self.quantiser, self.num_positions = net, quantiser, check_int("num_positions", num_positions)

    def forward(self, x: Tensor) -> QuantisedPosterior:
        """$q(k|x)$ of the batch, as a :class:`QuantisedPosterior`."""
        z_e = self.net(x).unflatten(-1, (self.num_positions, self.quantiser.code_dim))  # (B, M, D)
        out = self.quantiser(z_e)
        penalty = self.quantiser.commitment_weight * out.commitment_loss  # (B, M)
        if self.quantiser.ema_decay is None:
            penalty = penalty + out.codebook_loss
        return QuantisedPosterior(out, penalty.sum(dim=-1))


class UniformCodePrior(nn.Module):
    r"""The uniform prior over the $K^M$ code grids, $p(k_1, \dots, k_M) = K^{-M}$, with the closed-form KL.

    $$\mathrm{KL}\big(q(k|x)\,\|\,p(k)\big) = \sum_{m=1}^M \big(\underbrace{\log 1}_{\log q} - \log\tfrac1K\big) = M\log K$$

    It shares the encoder's quantiser (to sample codebook vectors) without owning it, as
    :class:`~vae_edu.models.VampPrior` shares its encoder: the codebook appears once in
    ``model.state_dict()``, under ``encoder.quantiser``.

    Args:
        quantiser: the encoder's :class:`VectorQuantiser`.
        num_positions: $M$.

    Book: *Discrete latents*.
    """

    quantiser: VectorQuantiser  # set with object.__setattr__: not a submodule

    def __init__(self, quantiser: VectorQuantiser, num_positions: int) -> None:
        super().__init__()
        if not isinstance(quantiser, VectorQuantiser):
            raise TypeError(f"quantiser must be a VectorQuantiser, got {type(quantiser).__name__}")
        object.__setattr__(self, "quantiser", quantiser)  # shared with the encoder, not a submodule
        self.num_positions = check_int("num_positions", num_positions)

    def extra_repr(self) -> str:
        return f"num_positions={self.num_positions}, num_codes={self.quantiser.num_codes} (quantiser shared, not a submodule)"

    def log_prob(self, z: Tensor) -> Tensor:
        r"""$\log p = -M\log K$ for a grid of codebook vectors ``z`` ``(..., M * D)`` → ``(...)``
        (``z`` is taken to be one: the quantiser's output)."""
        return z.new_full(z.shape[:-1], -self.num_positions * math.log(self.quantiser.num_codes))

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        r"""$n$ grids of uniformly drawn codebook vectors, shape ``(n, M * D)``."""
        codebook = self.quantiser.codebook
        index = torch.randint(self.quantiser.num_codes, (check_int("n", n), self.num_positions), generator=generator)
        return codebook[index.to(codebook.device)].flatten(start_dim=-2)  # (n, M * D)

    def kl(self, q: object) -> Tensor | None:
        r"""$M\log K$ for every example of a :class:`QuantisedPosterior` ``q``, shape ``(B,)``; ``None`` otherwise."""
        if not isinstance(q, QuantisedPosterior):
            return None
        return q.penalty.new_full(q.index.shape[:1], self.num_positions * math.log(self.quantiser.num_codes))
