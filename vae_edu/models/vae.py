r"""The variational autoencoder: an encoder, a decoder and a prior composed, and its ELBO.

$$\mathrm{ELBO}(x) = \mathbb E_{q(z|x)}\big[\log p(x|z)\big] - \beta\,\mathrm{KL}\big(q(z|x)\,\|\,p(z)\big)
  \le \log p(x)\quad(\beta = 1)$$

:class:`VAE` knows nothing about networks: it asks its parts.

* ``encoder(x)`` returns the posterior $q(z|x)$ of the batch, an object with ``rsample``,
  ``rsample_with_log_prob`` and ``mean`` (:mod:`vae_edu.models.posteriors`);
* ``decoder.log_prob(x, z)`` is $\log p(x|z)$ (plus ``sample(z)`` and ``mean(z)`` to generate);
* ``prior.log_prob(z)``, ``prior.sample(n)``, and ``prior.kl_per_dim(q)``: the closed-form KL
  per latent dimension, or ``None`` when there is none (the VAE then uses the Monte Carlo KL).

A conditional model passes extra inputs (labels) positionally after ``x``; the VAE hands them to
every part: ``encoder(x, y)``, ``decoder.log_prob(x, z, y)``, ``prior.log_prob(z, y)``.

Book: *Training a VAE on digits* and *Posterior collapse and the rate–distortion trade-off*.
"""

from __future__ import annotations

import os

import torch
from torch import Tensor, nn

from .checks import check_beta, check_call
from .config import VAEConfig
from .persistence import load_model, save_model
from .terms import ELBOTerms, closed_form_kl

__all__ = ["VAE"]



class VAE(nn.Module):
    r"""A VAE made of an encoder $q(z|x)$, a decoder $p(x|z)$ and a prior $p(z)$.

    A VAE is created in evaluation mode (``model.training`` is ``False``): with decoder dropout
    switched off, everything it computes is a deterministic function of its parameters and the
    generator passed in. :func:`~vae_edu.training.loop.fit` switches it to training mode for the gradient
    steps only (call ``model.train()`` yourself in a hand-written training loop).

    Its public methods check the data once (``validate_args=True``, through the decoder's
    ``check_data`` when it has one); the parts trust what the VAE passes them.

    Args:
        encoder: returns $q(z|x)$ for a batch (e.g. :class:`~vae_edu.models.Encoder`,
            :class:`~vae_edu.models.IAFEncoder`).
        decoder: has ``log_prob(x, z)``, ``sample(z)``, ``mean(z)`` (e.g.
            :class:`~vae_edu.models.Decoder`, :class:`~vae_edu.models.AutoregressiveDecoder`).
        prior: has ``log_prob(z)``, ``sample(n)``, ``kl_per_dim(q)`` (e.g.
            :class:`~vae_edu.models.StandardNormalPrior`).
        validate_args: check the data passed to the public methods.

    Example:
        >>> import torch
        >>> from vae_edu.models import Decoder, Encoder, StandardNormalPrior, VAE, VAEConfig
        >>> _ = torch.manual_seed(0)
        >>> config = VAEConfig(x_dim=4, z_dim=2, hidden=8, num_levels=3)
        >>> model = VAE(Encoder(config), Decoder(config), StandardNormalPrior(config.z_dim))
        >>> x = torch.tensor([[0.0, 1.0, 2.0, 1.0]])
        >>> model.elbo(x, num_samples=10).shape
        torch.Size([1])

    Book: *Training a VAE on digits*.
    """

    def __init__(
        self, encoder: nn.Module, decoder: nn.Module, prior: nn.Module, *, validate_args: bool = True
    ) -> None:
        super().__init__()
        for name, part in (("encoder", encoder), ("decoder", decoder), ("prior", prior)):
            if not isinstance(part, nn.Module):
                raise TypeError(f"{name} must be an nn.Module, got {type(part).__name__}")
        self.encoder, self.decoder, self.prior = encoder, decoder, prior
        self.validate_args = bool(validate_args)
        self.config: VAEConfig | None = None
        self.eval()  # dropout (if any) only inside fit()

    @classmethod
    def from_config(cls, config: VAEConfig | None = None) -> "VAE":
        """The book's VAE: MLP :class:`Encoder` and :class:`Decoder` from ``config`` and the
        standard normal prior (the default :class:`VAEConfig` is the digits model)."""
        from .layers import Decoder, Encoder  # noqa: PLC0415 (layers imports this module's types)
        from .prior import StandardNormalPrior  # noqa: PLC0415

        config = VAEConfig() if config is None else config
        if not isinstance(config, VAEConfig):
            raise TypeError(f"config must be a VAEConfig, got {type(config).__name__}")
        model = cls(Encoder(config), Decoder(config), StandardNormalPrior(config.z_dim))
        model.config = config
        return model

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save the model with its configuration, so that :meth:`load` rebuilds it: :func:`save_model`."""
        save_model(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "VAE":
        """A model saved by :meth:`save`, in evaluation mode, with its parameters' dtype: :func:`load_model`."""
        return load_model(cls, path)

    config_class: type = VAEConfig

    def init_kwargs(self) -> dict[str, object]:
        """The constructor's arguments besides the config (what :meth:`load` needs to rebuild it)."""
        return {}

    @classmethod
    def rebuild(cls, config: object, **init: object) -> "VAE":
        """The model of ``config`` (and ``init``), freshly initialised: :meth:`load` fills its parameters."""
        return cls.from_config(config)  # type: ignore[arg-type]

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the parameters (data must have it too)."""
        return next(self.parameters()).dtype

    def check_data(self, x: Tensor, *context: Tensor, name: str = "x") -> None:
        """Check a batch for this model (shape, dtype, values the likelihood can score, labels),
        through the decoder's ``check_data`` if it has one.

        Raises:
            TypeError, ValueError: naming ``name``.
        """
        check = getattr(self.decoder, "check_data", None)
        if check is not None:
            check(x, *context, name=name)

    def encode(self, x: Tensor, *context: Tensor):  # type: ignore[no-untyped-def]
        r"""$q(z|x)$ for the batch: the encoder's posterior object (for the Gaussian encoder a
        :class:`~vae_edu.models.DiagonalGaussian`, which unpacks to ``(mu_q, log_var_q)``)."""
        check_call(self, x, context)
        return self.encoder(x, *context)

    def elbo_terms(
        self, x: Tensor, *context: Tensor, num_samples: int = 1, generator: torch.Generator | None = None
    ) -> ELBOTerms:
        r"""The reconstruction term (Monte Carlo, reparameterized) and the KL (closed form if the prior has one).

        $$\mathbb E_{q(z|x)}[\log p(x|z)] \approx \frac1K\sum_{k=1}^K \log p(x|z_k),\qquad
          z_k = \mu_q + \sigma_q\odot\varepsilon_k$$

        Args:
            x: data, shape ``(B, x_dim)``.
            context: extra inputs of a conditional model (e.g. labels ``y``).
            num_samples: $K$, draws of $z$ per example.
            generator: optional :class:`torch.Generator` for $\varepsilon$.

        Returns:
            :class:`ELBOTerms`: ``reconstruction`` and ``kl`` ``(B,)``, ``kl_per_dim`` ``(B, z_dim)`` or ``None``.

        Book: *Posterior collapse and the rate–distortion trade-off*.
        """
        check_call(self, x, context, num_samples)
        q = self.encoder(x, *context)
        kl_per_dim = closed_form_kl(self.prior, q, context, per_dim=True)  # (B, z_dim) or None
        kl = kl_per_dim.sum(dim=-1) if kl_per_dim is not None else closed_form_kl(self.prior, q, context)
        if kl is not None:
            z = q.rsample(num_samples, generator)  # (K, B, z_dim)
        else:  # the Monte Carlo KL on the same draws
            z, log_q = q.rsample_with_log_prob(num_samples, generator)  # (K, B, z_dim), (K, B)
            kl = (log_q - self.prior.log_prob(z, *context)).mean(dim=0)
        reconstruction = self.decoder.log_prob(x, z, *context).mean(dim=0)  # (B,)
        return ELBOTerms(reconstruction, kl, kl_per_dim, getattr(q, "penalty", None))

    def elbo(
        self,
        x: Tensor,
        *context: Tensor,
        num_samples: int = 1,
        beta: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        r"""The evidence lower bound per example, the quantity to maximise.

        $$\mathrm{ELBO}_\beta(x) = \mathbb E_{q(z|x)}\big[\log p(x|z)\big] - \beta\,\mathrm{KL}\big(q(z|x)\,\|\,p(z)\big)$$

        The expectation is a Monte Carlo mean over ``num_samples`` reparameterized draws (an
        unbiased, differentiable estimate); the KL is in closed form when the prior has one. With
        $\beta = 1$ it is a lower bound on $\log p(x)$. The training loss is ``-model.elbo(x).mean()``.

        Args:
            x: data, shape ``(B, x_dim)`` (levels for the categorical decoder, 0/1 for Bernoulli).
            context: extra inputs of a conditional model (e.g. labels ``y``).
            num_samples: $K$, draws of $z$ per example.
            beta: $\beta \ge 0$, the weight of the KL term.
            generator: optional :class:`torch.Generator` for the noise.

        Returns:
            shape ``(B,)``, in nats.

        Book: *Training a VAE on digits*.
        """
        beta = check_beta(beta)
        return self.elbo_terms(x, *context, num_samples=num_samples, generator=generator).elbo(beta)

    def loss(
        self,
        x: Tensor,
        *context: Tensor,
        num_samples: int = 1,
        beta: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        r"""The training loss per example: $-\mathrm{ELBO}_\beta(x)$, plus the posterior's penalty if it
        carries one (VQ-VAE's codebook and commitment losses), shape ``(B,)``.

        Book: *Training a VAE on digits*.
        """
        beta = check_beta(beta)
        terms = self.elbo_terms(x, *context, num_samples=num_samples, generator=generator)
        loss = -terms.elbo(beta)
        return loss if terms.penalty is None else loss + terms.penalty

    def forward(
        self,
        x: Tensor,
        *context: Tensor,
        num_samples: int = 1,
        beta: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        r"""``model(x)`` is ``model.elbo(x)``: the ELBO per example, shape ``(B,)``."""
        return self.elbo(x, *context, num_samples=num_samples, beta=beta, generator=generator)

    def kl_per_dim(self, x: Tensor, *context: Tensor) -> Tensor:
        r"""$\mathrm{KL}\big(q(z_j|x)\,\|\,p(z_j)\big)$ for every latent dimension $j$, in closed form (no sampling).

        A dimension whose KL is ~0 for every $x$ is *inactive*: $q(z_j|x) = p(z_j)$, so it carries
        no information about $x$ (posterior collapse).

        Returns:
            shape ``(B, z_dim)``; the sum over the last dimension is the KL term of the ELBO.

        Raises:
            TypeError: if the prior has no closed-form KL for this encoder's posterior.

        Book: *Posterior collapse and the rate–distortion trade-off*.
        """
        kl = closed_form_kl(self.prior, self.encode(x, *context), context, per_dim=True)
        if kl is None:
            raise TypeError("this model's KL has no closed form per dimension (use elbo_terms(x).kl)")
        return kl

    def log_importance_weights(
        self,
        x: Tensor,
        *context: Tensor,
        num_samples: int = 1,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        r"""Log importance weights $\log w_k = \log p(x|z_k) + \log p(z_k) - \log q(z_k|x)$, $z_k \sim q(z|x)$.

        Their mean is a single-sample ELBO estimate; $\log\frac1K\sum_k w_k$ is the IWAE bound
        $\mathcal L_K$, which tends to $\log p(x)$ as $K\to\infty$ (see
        :func:`vae_edu.estimators.iwae_bound` and :func:`vae_edu.estimators.log_likelihood`).

        Returns:
            shape ``(K, B)``; differentiable (reparameterized).

        Book: *Training a VAE on digits*.
        """
        check_call(self, x, context, num_samples)
        q = self.encoder(x, *context)
        z, log_q = q.rsample_with_log_prob(num_samples, generator)  # (K, B, z_dim), (K, B)
        return self.decoder.log_prob(x, z, *context) + self.prior.log_prob(z, *context) - log_q

    def sample(self, n: int, *context: Tensor, generator: torch.Generator | None = None) -> Tensor:
        r"""Draw $n$ examples by ancestral sampling: $z \sim p(z)$, then $x \sim p(x|z)$.

        For the decoder's expected images instead of sampled pixels, use
        ``model.decoder.mean(model.prior.sample(n))``.

        Returns:
            shape ``(n, x_dim)``, in the data's units.
        """
        z = self.prior.sample(n, *context, generator=generator)  # (n, z_dim)
        return self.decoder.sample(z, *context, generator=generator)

    def reconstruct(self, x: Tensor, *context: Tensor) -> Tensor:
        r"""The decoder's expected image at the posterior's point code, $\mathbb E_{p(x|z)}[x]$ at $z = $ ``q.mean``.

        Returns:
            shape ``(B, x_dim)``, in the data's units.
        """
        return self.decoder.mean(self.encode(x, *context).mean, *context)
