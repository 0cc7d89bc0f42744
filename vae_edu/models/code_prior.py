r"""An autoregressive prior over VQ-VAE code grids, a part that replaces :class:`~vae_edu.models.UniformCodePrior`.

$$p(k_1, \dots, k_M) = \prod_{m=1}^M \operatorname{Cat}\big(k_m;\ \operatorname{softmax} a_m(k_{<m})\big)$$

The logits of every position come from one :class:`~vae_edu.models.made.MADE` pass over the codes
(each $k_m$ read as the number $k_m/(K-1)$). With the deterministic one-hot $q(k|x)$ of a quantised
encoder the KL of the ELBO is $-\log p(k^*(x))$, so ``VAE(QuantisedEncoder(...), decoder,
AutoregressiveCodePrior(...))`` computes the bound

$$-\log p(x) \le -\log p\big(x\,|\,z_q(x)\big) - \log p\big(k^*(x)\big)$$

and samples new data by drawing a code grid (one MADE pass per position) and decoding it. The
prior is trained after the VQ-VAE, on the codes of the training data (:func:`fit_code_prior`), as
in van den Oord et al. (2017), who used a PixelCNN.

Book: *Discrete latents*.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ..checks import check_generator, check_int, check_number
from .made import MADE
from .quantisers import QuantisedPosterior, VectorQuantiser

__all__ = ["AutoregressiveCodePrior", "CodePriorHistory", "fit_code_prior"]


class AutoregressiveCodePrior(nn.Module):
    r"""$p(k) = \prod_m p(k_m\,|\,k_{<m})$ over grids of $M$ codes from $K$, by a MADE.

    Like :class:`~vae_edu.models.UniformCodePrior` it shares the encoder's quantiser (to map codes
    to codebook vectors and back) without owning it.

    Args:
        quantiser: the encoder's :class:`~vae_edu.models.VectorQuantiser` ($K$ codes of dimension $D$).
        num_positions: $M$.
        hidden_sizes: widths of the MADE's hidden layers.
        direct: include the MADE's masked linear connection from the earlier codes to the logits.

    Book: *Discrete latents*.
    """

    quantiser: VectorQuantiser  # set with object.__setattr__: not a submodule

    def __init__(self, quantiser: VectorQuantiser, num_positions: int, hidden_sizes: Sequence[int] = (256,), *,
                 direct: bool = True) -> None:  # fmt: skip
        super().__init__()
        if not isinstance(quantiser, VectorQuantiser):
            raise TypeError(f"quantiser must be a VectorQuantiser, got {type(quantiser).__name__}")
        if quantiser.num_codes < 2:
            raise ValueError(f"the quantiser must have num_codes >= 2, got {quantiser.num_codes}")
        object.__setattr__(self, "quantiser", quantiser)  # shared with the encoder, not a submodule
        self.num_positions = check_int("num_positions", num_positions)
        self.made = MADE(self.num_positions, hidden_sizes, quantiser.num_codes, direct=direct)

    def extra_repr(self) -> str:
        return f"num_positions={self.num_positions}, num_codes={self.quantiser.num_codes} (quantiser shared, not a submodule)"

    def check_index(self, index: object) -> Tensor:
        """Check code grids: an int64 tensor ``(..., M)`` with entries in ``[0, K)`` (``TypeError``/``ValueError``
        naming ``index``)."""
        if not isinstance(index, Tensor) or index.dtype != torch.int64:
            raise TypeError(f"index must be an int64 tensor of codes, got {type(index).__name__}")
        if index.dim() < 1 or index.shape[-1] != self.num_positions:
            raise ValueError(f"index must have shape (..., num_positions={self.num_positions}), got {tuple(index.shape)}")
        if index.numel() and (int(index.min()) < 0 or int(index.max()) >= self.quantiser.num_codes):
            raise ValueError(f"index must hold codes in [0, num_codes={self.quantiser.num_codes})")
        return index

    def logits(self, index: Tensor) -> Tensor:
        r"""The logits $a_m(k_{<m})$ of every position's conditional, ``(..., M)`` → ``(..., M, K)``."""
        dtype = next(self.made.parameters()).dtype
        return self.made(index.to(dtype) / (self.quantiser.num_codes - 1))  # (..., M, K)

    def log_prob_index(self, index: Tensor) -> Tensor:
        r"""$\log p(k) = \sum_m \log\operatorname{softmax}\big(a_m(k_{<m})\big)_{k_m}$ of code grids ``(..., M)`` → ``(...)``."""
        self.check_index(index)
        log_p = torch.log_softmax(self.logits(index), dim=-1)  # (..., M, K)
        return log_p.gather(-1, index.unsqueeze(-1)).squeeze(-1).sum(dim=-1)

    def index_of(self, z: Tensor) -> Tensor:
        r"""The codes of grids of codebook vectors ``z`` ``(..., M * D)`` (the quantiser's output), shape ``(..., M)``."""
        return self.quantiser.nearest(z.unflatten(-1, (self.num_positions, self.quantiser.code_dim)))

    def log_prob(self, z: Tensor) -> Tensor:
        r"""$\log p(k)$ for grids of codebook vectors ``z`` ``(..., M * D)`` → ``(...)``."""
        return self.log_prob_index(self.index_of(z))

    @torch.no_grad()
    def sample_index(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        r"""$n$ code grids by ancestral sampling, one MADE pass per position, shape ``(n, M)`` (int64)."""
        check_generator(generator)
        index = torch.zeros(check_int("n", n), self.num_positions, dtype=torch.int64)  # (n, M)
        for m in self.made.order.tolist():  # position m sees only the codes already drawn
            probs = torch.softmax(self.logits(index)[:, m, :], dim=-1)  # (n, K)
            index[:, m] = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
        return index

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        r"""$n$ grids of codebook vectors $e_{k_m}$, $k \sim p(k)$, shape ``(n, M * D)``."""
        codebook = self.quantiser.codebook
        return codebook[self.sample_index(n, generator).to(codebook.device)].flatten(start_dim=-2)

    def kl(self, q: object) -> Tensor | None:
        r"""$\mathrm{KL}\big(q(k|x)\,\|\,p(k)\big) = -\log p\big(k^*(x)\big)$ for a :class:`~vae_edu.models.QuantisedPosterior`
        ``q`` (its $\log q = 0$), shape ``(B,)``; ``None`` for any other posterior."""
        if not isinstance(q, QuantisedPosterior):
            return None
        return -self.log_prob_index(q.index)


@dataclass
class CodePriorHistory:
    r"""What :func:`fit_code_prior` did: the mean $-\log p(k)$ in nats per grid, epoch by epoch.

    Attributes:
        train_nll: averaged over each epoch's minibatches.
        val_nll: on the validation codes after each epoch.
        best_epoch: the (0-based) epoch with the lowest ``val_nll``; the prior ends with its parameters.
    """

    train_nll: list[float] = field(default_factory=list)
    val_nll: list[float] = field(default_factory=list)
    best_epoch: int = -1


def fit_code_prior(prior: AutoregressiveCodePrior, train_index: Tensor, val_index: Tensor, *, epochs: int = 200,
                   batch_size: int = 64, lr: float = 1e-3, patience: int = 20, seed: int = 0) -> CodePriorHistory:  # fmt: skip
    r"""Fit a code prior by maximum likelihood on code grids, $\min -\frac1N\sum_i\log p(k_i)$, with Adam and early stopping.

    The encoder and the codebook stay fixed: the codes are computed once (``encoder(x).index``).

    Args:
        prior: an :class:`AutoregressiveCodePrior`, trained in place.
        train_index, val_index: code grids, shape ``(N, M)`` (int64).
        epochs, batch_size, lr: at most this many epochs; examples per step; Adam's learning rate.
        patience: epochs without a validation improvement before stopping.
        seed: seeds the shuffling.

    Returns:
        A :class:`CodePriorHistory`; the prior ends with the parameters of its best validation epoch.

    Book: *Discrete latents*.
    """
    if not isinstance(prior, AutoregressiveCodePrior):
        raise TypeError(f"prior must be an AutoregressiveCodePrior, got {type(prior).__name__}")
    for name, index in (("train_index", train_index), ("val_index", val_index)):
        try:
            prior.check_index(index)
        except (TypeError, ValueError) as error:
            raise type(error)(str(error).replace("index", name, 1)) from None
        if index.dim() != 2 or index.shape[0] == 0:
            raise ValueError(f"{name} must have shape (N, M) with N >= 1, got {tuple(index.shape)}")
    for name, value, minimum in (("epochs", epochs, 1), ("batch_size", batch_size, 1), ("patience", patience, 1),
                                 ("seed", seed, 0)):  # fmt: skip
        check_number(name, value, minimum=minimum, integer=True)
    check_number("lr", lr, minimum=0)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(prior.parameters(), lr=lr)
    history, best, best_state = CodePriorHistory(), float("inf"), copy.deepcopy(prior.state_dict())
    for epoch in range(epochs):
        total = 0.0
        for batch in torch.randperm(len(train_index), generator=gen).split(batch_size):
            loss = -prior.log_prob_index(train_index[batch]).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(batch)
        with torch.no_grad():
            val = -prior.log_prob_index(val_index).mean().item()
        history.train_nll.append(total / len(train_index))
        history.val_nll.append(val)
        if val < best:
            best, history.best_epoch, best_state = val, epoch, copy.deepcopy(prior.state_dict())
        elif epoch - history.best_epoch >= patience:
            break
    prior.load_state_dict(best_state)
    return history
