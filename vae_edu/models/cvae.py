r"""The conditional VAE: an encoder $q(z|x,y)$, a decoder $p(x|z,y)$ and a prior $p(z|y)$, all given a label $y$.

$$\log p(x|y) \ge \mathrm{ELBO}(x, y) = \mathbb E_{q(z|x,y)}\big[\log p(x|z,y)\big]
  - \mathrm{KL}\big(q(z|x,y)\,\|\,p(z|y)\big)$$

The label enters every network as a one-hot vector concatenated to its input. The prior is
$\mathcal N(0, I)$ for every class, or (``learned_prior=True``) a learned diagonal Gaussian per
class, $p(z|y) = \mathcal N(\mu_{p,y}, \operatorname{diag}\sigma_{p,y}^2)$. :class:`CVAE` has the
API of :class:`~vae_edu.models.VAE` with ``y`` as an extra positional argument after ``x``, so
``fit(model, (x, y), (x_val, y_val))`` and ``log_likelihood(model, (x, y))`` work unchanged.

Book: *The conditional VAE*.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor, nn

from ..checks import check_int, check_labels
from ..distributions.gaussian import log_normal_diag, log_standard_normal, reparameterize
from ..kl import kl_normal_normal, kl_normal_std_normal
from .checks import check_data, check_z, model_dtype
from .config import VAEConfig
from .layers import Decoder, mlp
from .posteriors import DiagonalGaussian
from .vae import VAE

__all__ = ["check_labels", "one_hot", "ConditionalEncoder", "ConditionalDecoder", "LabelPrior", "CVAE"]


def one_hot(y: Tensor, num_classes: int, dtype: torch.dtype) -> Tensor:
    """The one-hot code of labels ``y`` (shape ``(B,)``): shape ``(B, num_classes)`` in ``dtype``.

    Book: *The conditional VAE*.
    """
    return nn.functional.one_hot(y, num_classes).to(dtype)


class ConditionalEncoder(nn.Module):
    r"""The encoder $q(z|x,y) = \mathcal N\big(z;\ \mu_q(x,y), \operatorname{diag}\sigma_q^2(x,y)\big)$: an MLP on $[x, \mathrm{onehot}(y)]$.

    Args:
        config: a :class:`VAEConfig` (``x_dim``, ``z_dim``, ``hidden``, ``num_hidden_layers``, ``activation``).
        num_classes: the number of labels $C$.

    Book: *The conditional VAE*.
    """

    def __init__(self, config: VAEConfig, num_classes: int) -> None:
        super().__init__()
        self.config, self.num_classes = config, num_classes
        self.net = mlp(config.x_dim + num_classes, config.hidden, config.num_hidden_layers, 2 * config.z_dim, config.activation)

    def forward(self, x: Tensor, y: Tensor) -> DiagonalGaussian:
        r"""$q(z|x,y)$ for ``x`` ``(B, x_dim)`` and ``y`` ``(B,)``: ``mu`` and ``log_var`` of shape ``(B, z_dim)``."""
        out = self.net(torch.cat([x, one_hot(y, self.num_classes, x.dtype)], dim=-1))  # (B, 2 z_dim)
        mu_q, log_var_q = out.chunk(2, dim=-1)  # (B, z_dim) each
        return DiagonalGaussian(mu_q, log_var_q)


class ConditionalDecoder(nn.Module):
    r"""The decoder $p(x|z,y)$: a :class:`~vae_edu.models.Decoder` whose input is $[z, \mathrm{onehot}(y)]$.

    The likelihood (categorical, Bernoulli or Gaussian) and its ``log_prob``, ``mean`` and
    ``sample`` are the plain decoder's; only the input is longer by $C$.

    Args:
        config: a :class:`VAEConfig`.
        num_classes: the number of labels $C$.

    Book: *The conditional VAE*.
    """

    def __init__(self, config: VAEConfig, num_classes: int) -> None:
        super().__init__()
        self.config, self.num_classes = config, num_classes
        self.decoder = Decoder(dataclasses.replace(config, z_dim=config.z_dim + num_classes))

    def _input(self, z: Tensor, y: Tensor) -> Tensor:
        check_z(z, self.config.z_dim, model_dtype(self))
        check_labels("y", y, self.num_classes)
        if z.dim() < 2 or z.shape[-2] != y.shape[0]:
            raise ValueError(f"z must have shape (..., B, z_dim) with B = len(y) = {y.shape[0]}, got {tuple(z.shape)}")
        code = one_hot(y, self.num_classes, z.dtype).expand(*z.shape[:-1], self.num_classes)  # (..., B, C)
        return torch.cat([z, code], dim=-1)  # (..., B, z_dim + C)

    def forward(self, z: Tensor, y: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        """The parameters of $p(x|z,y)$ (see :meth:`vae_edu.models.Decoder.forward`), for ``z`` ``(..., B, z_dim)``, ``y`` ``(B,)``."""
        return self.decoder(self._input(z, y))

    def check_data(self, x: Tensor, y: Tensor, name: str = "x") -> None:
        """Check data and labels for this decoder; ``CVAE`` calls it."""
        check_data(name, x, self.config, model_dtype(self))
        check_labels("y", y, self.num_classes, x.shape[0])

    def log_prob(self, x: Tensor, z: Tensor, y: Tensor) -> Tensor:
        r"""$\log p(x|z,y)$, summed over the pixels: shape ``(K, B)`` for ``z`` ``(K, B, z_dim)`` (or ``(B,)``)."""
        return self.decoder.log_prob(x, self._input(z, y))

    def mean(self, z: Tensor, y: Tensor) -> Tensor:
        r"""The expected image $\mathbb E_{p(x|z,y)}[x]$, shape ``(..., B, x_dim)``."""
        return self.decoder.mean(self._input(z, y))

    def sample(self, z: Tensor, y: Tensor, generator: torch.Generator | None = None) -> Tensor:
        r"""Draw $x \sim p(x|z,y)$, shape ``(..., B, x_dim)``."""
        return self.decoder.sample(self._input(z, y), generator)


class LabelPrior(nn.Module):
    r"""The prior $p(z|y)$: $\mathcal N(0, I)$ for every class, or a learned $\mathcal N(\mu_{p,y}, \operatorname{diag}\sigma_{p,y}^2)$ per class.

    ``mu_p`` and ``log_var_p`` have shape ``(num_classes, z_dim)``; they are zero buffers for the
    standard prior and parameters (initialised at zero, i.e. at $\mathcal N(0, I)$) when ``learned``.

    Args:
        z_dim: latent dimension $d$.
        num_classes: the number of labels $C$.
        learned: learn a Gaussian per class.

    Book: *The conditional VAE*.
    """

    mu_p: Tensor
    log_var_p: Tensor

    def __init__(self, z_dim: int, num_classes: int, learned: bool = False) -> None:
        super().__init__()
        check_int("z_dim", z_dim)
        check_int("num_classes", num_classes)
        self.z_dim, self.num_classes, self.learned = z_dim, num_classes, bool(learned)
        for name in ("mu_p", "log_var_p"):
            value = torch.zeros(num_classes, z_dim)
            if self.learned:
                setattr(self, name, nn.Parameter(value))
            else:
                self.register_buffer(name, value)

    def params(self, y: Tensor) -> tuple[Tensor, Tensor]:
        """``(mu_p, log_var_p)`` of each label's prior, each of shape ``(B, z_dim)``."""
        check_labels("y", y, self.num_classes)
        return self.mu_p[y], self.log_var_p[y]

    def log_prob(self, z: Tensor, y: Tensor) -> Tensor:
        r"""$\log p(z|y)$ for ``z`` of shape ``(..., B, z_dim)`` and ``y`` of shape ``(B,)``: shape ``(..., B)``."""
        check_z(z, self.z_dim, self.mu_p.dtype)
        mu_p, log_var_p = self.params(y)
        if z.dim() < 2 or z.shape[-2] != y.shape[0]:
            raise ValueError(f"z must have shape (..., B, z_dim) with B = len(y) = {y.shape[0]}, got {tuple(z.shape)}")
        if not self.learned:
            return log_standard_normal(z)
        return log_normal_diag(z, mu_p, log_var_p)

    def sample(self, y: Tensor, generator: torch.Generator | None = None) -> Tensor:
        r"""Draw one $z \sim p(z|y_b)$ per label, shape ``(B, z_dim)``."""
        mu_p, log_var_p = self.params(y)
        return reparameterize(mu_p, log_var_p, generator=generator)  # (B, z_dim)

    def kl_per_dim(self, q: object, y: Tensor) -> Tensor | None:
        r"""$\mathrm{KL}\big(q(z_j|x,y)\,\|\,p(z_j|y)\big)$ per dimension, shape ``(B, z_dim)``, in closed form
        for a :class:`~vae_edu.models.DiagonalGaussian` ``q`` (``None`` for any other posterior).
        """
        if not isinstance(q, DiagonalGaussian):
            return None
        mu_q, log_var_q = q.mu[..., None], q.log_var[..., None]  # (B, z_dim, 1)
        if not self.learned:
            return kl_normal_std_normal(mu_q, log_var_q)
        mu_p, log_var_p = self.params(y)
        return kl_normal_normal(mu_q, log_var_q, mu_p[..., None], log_var_p[..., None])


class CVAE(VAE):
    r"""A conditional VAE: $q(z|x,y)$, $p(x|z,y)$ and $p(z|y)$, with the likelihoods of :class:`VAEConfig`.

    A :class:`~vae_edu.models.VAE` made of :class:`ConditionalEncoder`, :class:`ConditionalDecoder`
    and :class:`LabelPrior`: every method takes the labels ``y`` (int64, shape ``(B,)``, values in
    ``[0, num_classes)``) right after ``x``. It adds label-driven generation (:meth:`sample`) and
    style transfer (:meth:`transfer`).

    Args:
        config: the hyper-parameters of the networks (default: the book's digits model).
        num_classes: the number of labels $C$ (10 digits).
        learned_prior: learn $p(z|y) = \mathcal N(\mu_{p,y}, \operatorname{diag}\sigma_{p,y}^2)$ instead of $\mathcal N(0, I)$.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> model = CVAE(VAEConfig(x_dim=4, z_dim=2, hidden=8, num_levels=3), num_classes=2)
        >>> x, y = torch.tensor([[0.0, 1.0, 2.0, 1.0]]), torch.tensor([1])
        >>> model.elbo(x, y, num_samples=10).shape
        torch.Size([1])

    Book: *The conditional VAE*.
    """

    def __init__(self, config: VAEConfig | None = None, *, num_classes: int = 10, learned_prior: bool = False) -> None:
        config = VAEConfig() if config is None else config
        if not isinstance(config, VAEConfig):
            raise TypeError(f"config must be a VAEConfig, got {type(config).__name__}")
        num_classes = check_int("num_classes", num_classes, minimum=2)
        if not isinstance(learned_prior, bool):
            raise TypeError(f"learned_prior must be a bool, got {type(learned_prior).__name__}")
        super().__init__(
            ConditionalEncoder(config, num_classes),
            ConditionalDecoder(config, num_classes),
            LabelPrior(config.z_dim, num_classes, learned_prior),
        )
        self.config, self.num_classes = config, num_classes

    def init_kwargs(self) -> dict[str, object]:
        """``num_classes`` and ``learned_prior``, for :meth:`~vae_edu.models.VAE.load`."""
        return {"num_classes": self.num_classes, "learned_prior": self.prior.learned}

    @classmethod
    def rebuild(cls, config: object, **init: object) -> "CVAE":
        """A fresh CVAE of ``config`` (:meth:`~vae_edu.models.VAE.load` fills its parameters)."""
        return cls(config, **init)  # type: ignore[arg-type]

    def class_labels(self, n_per_class: int) -> Tensor:
        """The labels ``0, ..., 0, 1, ..., C-1``, each ``n_per_class`` times: shape ``(C * n_per_class,)``, int64."""
        check_int("n_per_class", n_per_class)
        return torch.arange(self.num_classes).repeat_interleave(n_per_class)

    def sample(  # type: ignore[override]
        self, y: Tensor, generator: torch.Generator | None = None, *, expected: bool = False
    ) -> Tensor:
        r"""One image per label by ancestral sampling: $z \sim p(z|y)$, then $x \sim p(x|z,y)$ (or $\mathbb E[x|z,y]$ if ``expected``).

        Args:
            y: the requested labels, shape ``(B,)`` (e.g. ``model.class_labels(n)``).
            generator: optional :class:`torch.Generator`.
            expected: return the decoder's expected images instead of sampled pixels.

        Returns:
            shape ``(B, x_dim)``, in the data's units.
        """
        z = self.prior.sample(y, generator)  # (B, z_dim)
        return self.decoder.mean(z, y) if expected else self.decoder.sample(z, y, generator)

    def transfer(self, x: Tensor, y_from: Tensor, y_to: Tensor) -> Tensor:
        r"""Style transfer: encode $x$ with its label, decode the same $z = \mu_q(x, y_{\text{from}})$ with another.

        $$\hat x = \mathbb E_{p(x|z, y_{\text{to}})}[x],\qquad z = \mu_q(x, y_{\text{from}})$$

        Args:
            x: data, shape ``(B, x_dim)``.
            y_from: the labels of ``x``, shape ``(B,)``.
            y_to: the labels to decode with, shape ``(B,)``.

        Returns:
            shape ``(B, x_dim)``, in the data's units.
        """
        if self.validate_args:
            batch_size = x.shape[0] if isinstance(x, Tensor) and x.dim() else None
            check_labels("y_from", y_from, self.num_classes, batch_size)
            check_labels("y_to", y_to, self.num_classes, batch_size)
            self.check_data(x, y_from, name="x")
        return self.decoder.mean(self.encoder(x, y_from).mu, y_to)
