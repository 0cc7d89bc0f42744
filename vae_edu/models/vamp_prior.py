r"""The VampPrior (Tomczak & Welling 2018): the prior as the encoder's posteriors at learned inputs.

$$p(z) = \frac1K\sum_{k=1}^K q(z\,|\,u_k)$$

with $K$ *pseudo-inputs* $u_k$ of the data's shape, learned with the model. Its optimum is the
aggregate posterior $q(z) = \frac1N\sum_n q(z|x_n)$, the prior that makes the KL term's mismatch
part vanish (see :mod:`vae_edu.models.learned_priors`).

Book: *Learned priors: mixtures and the VampPrior*.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..checks import check_int, check_tensor
from .learned_priors import PSEUDO_INPUT_MARGIN, log_mixture_normal_diag, sample_mixture_normal_diag
from .posteriors import DiagonalGaussian

__all__ = ["VampPrior"]


class VampPrior(nn.Module):
    r"""The VampPrior: the encoder's posteriors at $K$ learned pseudo-inputs, averaged (Tomczak & Welling, 2018).

    $$p(z) = \frac1K\sum_{k=1}^K q(z\,|\,u_k),\qquad u_k = x_{\max}\operatorname{sigmoid}(a_k)$$

    It is the aggregate posterior $q(z) = \frac1N\sum_n q(z|x_n)$ with the $N$ training images
    replaced by $K$ learned ones $u_k$, and it changes whenever the encoder does.

    **The encoder is shared, not owned.** The prior calls ``encoder`` but does not register it as
    a submodule: in ``VAE(encoder, decoder, VampPrior(encoder, ...))`` the encoder's parameters
    appear once in ``model.parameters()`` and ``model.state_dict()`` (under ``encoder.``), and
    ``model.prior.parameters()`` is only the pseudo-inputs. ``copy.deepcopy(model)`` keeps the two
    references one encoder. Move or convert the whole model (``model.double()``), not the prior
    alone. The encoder must return a :class:`~vae_edu.models.DiagonalGaussian` (an unconditional
    one: the book's :class:`~vae_edu.models.Encoder`).

    **Pseudo-inputs.** They are images the encoder reads, so they live in the data's units. With
    ``x_max`` (16 for the digits' 17 levels, 1 for binary or $[0, 1]$ data) each is
    $u = x_{\max}\operatorname{sigmoid}(a)$ with a learned $a$ (``pseudo_inputs_raw``), so it
    stays in $[0, x_{\max}]$ and remains an image one can plot. The paper's code squashed with a
    sigmoid at first, then clipped with $\operatorname{hardtanh}$ to $[0, 1]$, starting from
    $\mathcal N(-0.05, 0.01^2)$; a clipped pixel has zero gradient, a sigmoid's gradient never
    vanishes. With ``x_max=None`` (real-valued data) $u = a$, unconstrained. They start at
    ``init`` if given (e.g. $K$ random training images, the paper's ``use_training_data_init``),
    else uniform on $(0.01, 0.99)\,x_{\max}$, close to Tomczak's *Deep Generative Modeling* code
    (uniform on the levels' range, unconstrained; standard normal here when ``x_max`` is
    ``None``). The weights stay equal, $1/K$, as in the paper (that code learns them).

    There is no closed-form KL to a posterior: the VAE estimates it by Monte Carlo.

    Args:
        encoder: the model's encoder; ``encoder(x)`` for ``x`` ``(K, x_dim)`` returns a
            :class:`~vae_edu.models.DiagonalGaussian`.
        num_pseudo_inputs: $K \ge 1$.
        x_dim: the data dimension.
        x_max: the largest data value (pseudo-inputs in $[0, x_{\max}]$), or ``None``.
        init: optional starting pseudo-inputs, shape ``(K, x_dim)``, in $[0, x_{\max}]$ if
            ``x_max`` is set (moved into $[0.01, 0.99]\,x_{\max}$, where the sigmoid is invertible).

    Example:
        >>> from vae_edu.models import Encoder, VAEConfig
        >>> encoder = Encoder(VAEConfig(x_dim=4, z_dim=2, hidden=8, num_levels=3))
        >>> prior = VampPrior(encoder, num_pseudo_inputs=5, x_dim=4, x_max=2.0)
        >>> prior.pseudo_inputs.shape, prior.sample(3).shape
        (torch.Size([5, 4]), torch.Size([3, 2]))

    Book: *Learned priors: mixtures and the VampPrior*.
    """

    encoder: nn.Module  # set with object.__setattr__: not a submodule

    def __init__(
        self,
        encoder: nn.Module,
        num_pseudo_inputs: int,
        x_dim: int,
        *,
        x_max: float | None = None,
        init: Tensor | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(encoder, nn.Module):
            raise TypeError(f"encoder must be an nn.Module, got {type(encoder).__name__}")
        num_pseudo_inputs = check_int("num_pseudo_inputs", num_pseudo_inputs)
        x_dim = check_int("x_dim", x_dim)
        if x_max is not None and (isinstance(x_max, bool) or not isinstance(x_max, (int, float))):
            raise TypeError(f"x_max must be a number or None, got {type(x_max).__name__} {x_max!r}")
        if x_max is not None and not 0 < x_max < math.inf:
            raise ValueError(f"x_max must be a finite number > 0 or None, got {x_max!r}")
        first = next(encoder.parameters(), None)
        dtype = first.dtype if first is not None else torch.get_default_dtype()
        shape = (num_pseudo_inputs, x_dim)
        margin = PSEUDO_INPUT_MARGIN
        if init is not None:
            check_tensor("init", init, min_dim=2)
            if init.shape != shape:
                raise ValueError(f"init must have shape (num_pseudo_inputs, x_dim) = {shape}, got {tuple(init.shape)}")
            if x_max is not None and not bool(((init >= 0) & (init <= x_max)).all()):
                low, high = init.min().item(), init.max().item()
                raise ValueError(f"init must hold values in [0, x_max={x_max:g}], got values in [{low:g}, {high:g}]")
            start = init.detach().to(dtype)
        elif x_max is None:  # real-valued data: no scale to follow
            start = torch.randn(shape, dtype=dtype)
        else:  # uniform inside (0, x_max), as intro_dgm's rand * num_vals
            start = x_max * (margin + (1 - 2 * margin) * torch.rand(shape, dtype=dtype))
        if x_max is None:
            raw = start.clone()
        else:  # u = x_max * sigmoid(raw)
            raw = torch.logit((start / x_max).clamp(margin, 1 - margin))
        self.pseudo_inputs_raw = nn.Parameter(raw)  # (K, x_dim)
        self.x_max = None if x_max is None else float(x_max)
        self.num_pseudo_inputs, self.x_dim = num_pseudo_inputs, x_dim
        object.__setattr__(self, "encoder", encoder)  # shared with the VAE, not a submodule
        try:
            with torch.no_grad():
                q = encoder(self.pseudo_inputs)
        except RuntimeError as err:  # e.g. a matrix product of the wrong width
            raise ValueError(f"x_dim={x_dim}: the encoder cannot read pseudo-inputs of shape {shape} ({err})") from err
        if not isinstance(q, DiagonalGaussian) or q.mu.dim() != 2 or q.mu.shape[0] != num_pseudo_inputs:
            raise TypeError(
                f"encoder must map (K, x_dim) inputs to a DiagonalGaussian with mu of shape (K, z_dim), "
                f"got {type(q).__name__}"
            )
        self.z_dim = q.mu.shape[1]

    @property
    def pseudo_inputs(self) -> Tensor:
        r"""The pseudo-inputs $u_k$ in the data's units, shape ``(K, x_dim)``."""
        if self.x_max is None:
            return self.pseudo_inputs_raw
        return self.x_max * torch.sigmoid(self.pseudo_inputs_raw)

    def components(self) -> DiagonalGaussian:
        r"""$q(z|u_k)$ for every pseudo-input: ``mu`` and ``log_var`` of shape ``(K, z_dim)``."""
        return self.encoder(self.pseudo_inputs)

    def log_prob(self, z: Tensor) -> Tensor:
        r"""$\log p(z) = \operatorname{logsumexp}_k \log q(z|u_k) - \log K$: ``z`` ``(..., z_dim)`` → ``(...)``."""
        mu, log_var = self.components()  # (K, z_dim) each
        log_pi = mu.new_full((self.num_pseudo_inputs,), -math.log(self.num_pseudo_inputs))  # equal weights 1/K
        return log_mixture_normal_diag(z, log_pi, mu, log_var)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        r"""$n$ draws: a pseudo-input $k$ uniformly, then $z \sim q(z|u_k)$; shape ``(n, z_dim)``."""
        check_int("n", n)
        mu, log_var = self.components()  # (K, z_dim) each
        log_pi = mu.new_zeros(self.num_pseudo_inputs)  # equal weights (normalised by the softmax)
        return sample_mixture_normal_diag(n, log_pi, mu, log_var, generator)

    def extra_repr(self) -> str:
        return (
            f"num_pseudo_inputs={self.num_pseudo_inputs}, x_dim={self.x_dim}, z_dim={self.z_dim}, "
            f"x_max={self.x_max}, encoder={type(self.encoder).__name__} (shared, not a submodule)"
        )
