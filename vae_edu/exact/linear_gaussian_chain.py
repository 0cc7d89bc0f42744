r"""A two-layer linear-Gaussian chain $z_2 \to z_1 \to x$: the exact playground of the hierarchical VAE.

$$z_2 \sim \mathcal N(0, I),\qquad z_1 \mid z_2 \sim \mathcal N\big(A z_2 + a,\ \Sigma_1\big),\qquad
  x \mid z_1 \sim \mathcal N\big(B z_1 + b,\ \Sigma_x\big)$$

with diagonal $\Sigma_1 = \operatorname{diag} e^{\ell_1}$ and $\Sigma_x = \operatorname{diag} e^{\ell_x}$
(``log_var_1``, ``log_var_x``). Everything is Gaussian, so everything is exact:

* the evidence $p(x) = \mathcal N\big(x;\ Ba + b,\ B(AA^\top + \Sigma_1)B^\top + \Sigma_x\big)$;
* the posterior $p(z_1, z_2|x)$ of the code $z = [z_1, z_2]$ (the order of
  :mod:`vae_edu.models.hierarchical`), from the prior's precision
  $\Lambda = \begin{pmatrix}\Sigma_1^{-1} & -\Sigma_1^{-1}A\\ -A^\top\Sigma_1^{-1} & I + A^\top\Sigma_1^{-1}A\end{pmatrix}$
  plus the likelihood's $H^\top\Sigma_x^{-1}H$, $H = [B, 0]$;
* for a top-down Gaussian $q(z_2|x) = \mathcal N(m_2, S_2)$, $q(z_1|z_2, x) = \mathcal N(C z_2 + c, S_1)$
  (diagonal $S_1, S_2$), the three terms of the hierarchical ELBO in closed form
  (:meth:`LinearGaussianChain.elbo_terms`) and $\mathrm{KL}\big(q\,\|\,p(z|x)\big)$, so that
  $\log p(x) = \mathrm{ELBO} + \mathrm{KL}\big(q\,\|\,p(z|x)\big)$ can be checked term by term.

The Ladder VAE's posterior (:func:`~vae_edu.models.hierarchical.precision_weighted`) has this form
when its top-down network is this chain's (:meth:`LinearGaussianChain.ladder_conditional`), and it
is *exact* when the bottom-up message is $p(x|z_1)$ read as a Gaussian in $z_1$
(:meth:`LinearGaussianChain.bottom_up_message`) and the covariances it needs are diagonal.

Linear algebra runs in float64; results come back in the chain's dtype.

Book: *A hierarchical VAE*.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..checks import check_event_shapes, check_int, check_tensor, check_vector
from ..distributions.gaussian import log_normal_diag, log_normal_full, log_standard_normal, reparameterize
from ..kl import kl_normal_full, kl_normal_normal, kl_normal_std_normal
from ..models.hierarchical import COMBINE, FirstLayerDecoder, HierarchicalPrior, split_z
from ..models.ladder import LadderEncoder
from ..models.vae import VAE

__all__ = ["LinearGaussianChain", "ChainELBOTerms", "LinearGaussianDecoder"]

F64 = torch.float64


@dataclass(frozen=True)
class ChainELBOTerms:
    r"""The three terms of the two-layer ELBO, exact, per example.

    Attributes:
        reconstruction: $\mathbb E_q[\log p(x|z_1)]$, shape ``(...)``.
        kl_1: $\mathbb E_{q(z_2|x)}\,\mathrm{KL}\big(q(z_1|z_2, x)\,\|\,p(z_1|z_2)\big)$, shape ``(...)``.
        kl_2: $\mathrm{KL}\big(q(z_2|x)\,\|\,p(z_2)\big)$, shape ``(...)``.
    """

    reconstruction: Tensor
    kl_1: Tensor
    kl_2: Tensor

    @property
    def elbo(self) -> Tensor:
        r"""$\mathbb E_q[\log p(x|z_1)] - \mathrm{KL}_1 - \mathrm{KL}_2$, shape ``(...)``."""
        return self.reconstruction - self.kl_1 - self.kl_2


class LinearGaussianDecoder(nn.Module):
    r"""The decoder $p(x|z_1) = \mathcal N(x;\ Bz_1 + b, \operatorname{diag}e^{\ell_x})$ as a VAE part (fixed buffers).

    Args:
        B, b, log_var_x: shapes ``(x_dim, z1_dim)``, ``(x_dim,)``, ``(x_dim,)`` (trusted: the chain checked them).

    Book: *A hierarchical VAE*.
    """

    B: Tensor
    b: Tensor
    log_var_x: Tensor

    def __init__(self, B: Tensor, b: Tensor, log_var_x: Tensor) -> None:
        super().__init__()
        for name, value in (("B", B), ("b", b), ("log_var_x", log_var_x)):
            self.register_buffer(name, value.clone())

    def log_prob(self, x: Tensor, z_1: Tensor) -> Tensor:
        r"""$\log p(x|z_1)$: ``x`` ``(B, x_dim)``, ``z_1`` ``(..., B, z1_dim)`` → ``(..., B)``."""
        return log_normal_diag(x, z_1 @ self.B.T + self.b, self.log_var_x)

    def mean(self, z_1: Tensor) -> Tensor:
        r"""$Bz_1 + b$, shape ``(..., x_dim)``."""
        return z_1 @ self.B.T + self.b

    def sample(self, z_1: Tensor, generator: torch.Generator | None = None) -> Tensor:
        r"""$x \sim p(x|z_1)$, shape ``(..., x_dim)``."""
        return reparameterize(self.mean(z_1), self.log_var_x.expand(*z_1.shape[:-1], -1), generator=generator)


class LinearGaussianChain:
    r"""The chain $z_2\sim\mathcal N(0, I)$, $z_1|z_2\sim\mathcal N(Az_2 + a, \Sigma_1)$, $x|z_1\sim\mathcal N(Bz_1 + b, \Sigma_x)$.

    Args:
        A, a: the top-down map, shapes ``(z1_dim, z2_dim)`` and ``(z1_dim,)``.
        log_var_1: $\log\operatorname{diag}\Sigma_1$, shape ``(z1_dim,)``.
        B, b: the decoder's map, shapes ``(x_dim, z1_dim)`` and ``(x_dim,)``.
        log_var_x: $\log\operatorname{diag}\Sigma_x$, shape ``(x_dim,)``.

    Example:
        >>> chain = LinearGaussianChain(torch.ones(2, 1), torch.zeros(2), torch.zeros(2),
        ...                             torch.ones(3, 2), torch.zeros(3), torch.zeros(3))
        >>> x = chain.sample(4)
        >>> chain.log_marginal(x).shape, chain.posterior(x)[0].shape
        (torch.Size([4]), torch.Size([4, 3]))

    Book: *A hierarchical VAE*.
    """

    def __init__(self, A: Tensor, a: Tensor, log_var_1: Tensor, B: Tensor, b: Tensor, log_var_x: Tensor) -> None:
        for name, value, dim in (("A", A, 2), ("a", a, 1), ("log_var_1", log_var_1, 1), ("B", B, 2), ("b", b, 1),
                                 ("log_var_x", log_var_x, 1)):  # fmt: skip
            check_tensor(name, value, min_dim=dim)
            if value.dim() != dim:
                raise ValueError(f"{name} must have {dim} dimension(s), got shape {tuple(value.shape)}")
            if value.dtype != A.dtype:
                raise TypeError(f"{name} has dtype {value.dtype} but A has dtype {A.dtype}")
        z1_dim, x_dim = A.shape[0], B.shape[0]
        for name, value, shape in (("a", a, (z1_dim,)), ("log_var_1", log_var_1, (z1_dim,)), ("B", B, (x_dim, z1_dim)),
                                   ("b", b, (x_dim,)), ("log_var_x", log_var_x, (x_dim,))):  # fmt: skip
            if tuple(value.shape) != shape:
                raise ValueError(f"{name} must have shape {shape} to match A{tuple(A.shape)} and B, got {tuple(value.shape)}")
        self.A, self.a, self.log_var_1, self.B, self.b, self.log_var_x = A, a, log_var_1, B, b, log_var_x

    # ------------------------------------------------------------------ basics
    @property
    def z1_dim(self) -> int:
        """Width of $z_1$."""
        return self.A.shape[0]

    @property
    def z2_dim(self) -> int:
        """Width of $z_2$."""
        return self.A.shape[1]

    @property
    def z_dim(self) -> int:
        """Width of the code $z = [z_1, z_2]$."""
        return self.z1_dim + self.z2_dim

    @property
    def x_dim(self) -> int:
        """Data dimension $D$."""
        return self.B.shape[0]

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the parameters (and of every result)."""
        return self.A.dtype

    def __repr__(self) -> str:
        return f"LinearGaussianChain(x_dim={self.x_dim}, z1_dim={self.z1_dim}, z2_dim={self.z2_dim})"

    def _p64(self) -> tuple[Tensor, ...]:
        return tuple(t.to(F64) for t in (self.A, self.a, self.log_var_1, self.B, self.b, self.log_var_x))

    def _check_x(self, x: object) -> Tensor:
        check_tensor("x", x, min_dim=1)
        assert isinstance(x, Tensor)
        check_event_shapes(x=x, b=self.b)
        return x

    def _check_vector(self, name: str, value: object, dim: int, dim_name: str) -> Tensor:
        return check_vector(name, value, dim, self.dtype, size_name=dim_name, owner="the chain")

    def _check_q(self, mu_q2: Tensor, log_var_q2: Tensor, C: Tensor, c: Tensor, log_var_q1: Tensor) -> None:
        self._check_vector("mu_q2", mu_q2, self.z2_dim, "z2_dim")
        self._check_vector("log_var_q2", log_var_q2, self.z2_dim, "z2_dim")
        self._check_vector("c", c, self.z1_dim, "z1_dim")
        self._check_vector("log_var_q1", log_var_q1, self.z1_dim, "z1_dim")
        check_tensor("C", C, min_dim=2)
        if C.shape[-2:] != (self.z1_dim, self.z2_dim):
            raise ValueError(f"C must have shape (..., z1_dim={self.z1_dim}, z2_dim={self.z2_dim}), got {tuple(C.shape)}")

    # ------------------------------------------------------------ generative side
    def sample(
        self, n: int, *, generator: torch.Generator | None = None, return_z: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        r"""Ancestral samples: $z_2$, then $z_1|z_2$, then $x|z_1$.

        Returns:
            ``x`` ``(n, x_dim)``, or ``(x, z)`` with ``z = [z_1, z_2]`` of shape ``(n, z_dim)``.
        """
        n = check_int("n", n)
        z_2 = torch.randn((n, self.z2_dim), dtype=self.dtype, generator=generator)
        z_1 = z_2 @ self.A.T + self.a + torch.exp(0.5 * self.log_var_1) * torch.randn(
            (n, self.z1_dim), dtype=self.dtype, generator=generator
        )
        x = z_1 @ self.B.T + self.b + torch.exp(0.5 * self.log_var_x) * torch.randn(
            (n, self.x_dim), dtype=self.dtype, generator=generator
        )
        return (x, torch.cat([z_1, z_2], dim=-1)) if return_z else x

    def log_joint(self, x: Tensor, z: Tensor) -> Tensor:
        r"""$\log p(x, z_1, z_2) = \log p(z_2) + \log p(z_1|z_2) + \log p(x|z_1)$.

        Args:
            x: data ``(..., x_dim)``; z: codes ``[z_1, z_2]`` ``(..., z_dim)``; batch shapes broadcast.

        Returns:
            shape: the broadcast batch shape.
        """
        self._check_x(x)
        self._check_vector("z", z, self.z_dim, "z_dim")
        z_1, z_2 = split_z(z, self.z1_dim)
        log_p_2 = log_standard_normal(z_2)
        log_p_1 = log_normal_diag(z_1, z_2 @ self.A.T + self.a, self.log_var_1)
        log_p_x = log_normal_diag(x, z_1 @ self.B.T + self.b, self.log_var_x)
        return log_p_2 + log_p_1 + log_p_x

    def marginal(self) -> tuple[Tensor, Tensor]:
        r"""The evidence's mean $Ba + b$ ``(x_dim,)`` and covariance $B(AA^\top + \Sigma_1)B^\top + \Sigma_x$ ``(x_dim, x_dim)``."""
        A, a, log_var_1, B, b, log_var_x = self._p64()
        cov_1 = A @ A.T + torch.diag(torch.exp(log_var_1))  # Cov(z_1), (z1, z1)
        cov = B @ cov_1 @ B.T + torch.diag(torch.exp(log_var_x))
        return (B @ a + b).to(self.dtype), (0.5 * (cov + cov.T)).to(self.dtype)

    def log_marginal(self, x: Tensor) -> Tensor:
        r"""Exact $\log p(x)$, shape ``(...)`` for ``x`` ``(..., x_dim)``.

        Book: *A hierarchical VAE*.
        """
        self._check_x(x)
        mean, cov = (t.to(F64) for t in self.marginal())
        return log_normal_full(x.to(F64), mean, cov).to(self.dtype)

    def ladder_vae(self, net: nn.Module, combine: str = "precision") -> VAE:
        r"""This chain as the parts of a hierarchical VAE, with the bottom-up network ``net``.

        ``VAE(LadderEncoder(net, prior), FirstLayerDecoder(LinearGaussianDecoder), prior)`` where
        the prior's top-down network is the linear map $z_2 \mapsto [Az_2 + a,\ \ell_1]$. With a
        linear ``net`` (an ``nn.Linear(x_dim, 2 * z_dim)``) its posterior is of the form of
        :meth:`elbo_terms`, so the VAE's Monte Carlo ELBO can be checked against it. ``combine``
        as in :class:`~vae_edu.models.ladder.LadderEncoder`.

        Returns:
            a :class:`~vae_edu.models.VAE` in the chain's dtype.
        """
        top_down = nn.Linear(self.z2_dim, 2 * self.z1_dim).to(self.dtype)
        with torch.no_grad():
            top_down.weight.copy_(torch.cat([self.A, torch.zeros_like(self.A)]))
            top_down.bias.copy_(torch.cat([self.a, self.log_var_1]))
        prior = HierarchicalPrior(top_down, self.z1_dim, self.z2_dim)
        decoder = FirstLayerDecoder(LinearGaussianDecoder(self.B, self.b, self.log_var_x), self.z1_dim, self.z2_dim)
        return VAE(LadderEncoder(net, prior, self.x_dim, combine), decoder, prior)

    # ------------------------------------------------------------ the exact posterior
    def prior_precision(self) -> Tensor:
        r"""The precision $\Lambda$ of $p(z_1, z_2)$ (module docstring), shape ``(z_dim, z_dim)``, float64."""
        A, _, log_var_1, *_ = self._p64()
        w_1 = torch.exp(-log_var_1)  # Sigma_1^{-1}, diagonal
        top = torch.cat([torch.diag(w_1), -w_1[:, None] * A], dim=1)  # (z1, z_dim)
        bottom = torch.cat([-(w_1[:, None] * A).T, torch.eye(self.z2_dim, dtype=F64) + A.T @ (w_1[:, None] * A)], dim=1)
        return torch.cat([top, bottom], dim=0)

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        r"""The exact posterior $p(z_1, z_2|x) = \mathcal N(\mu, \Sigma)$ of the code $[z_1, z_2]$.

        $$\Sigma^{-1} = \Lambda + H^\top\Sigma_x^{-1}H,\qquad
          \mu = \Sigma\big(\Lambda\,[a, 0] + H^\top\Sigma_x^{-1}(x - b)\big),\qquad H = [B, 0]$$

        Returns:
            ``(mu, cov)``: ``mu`` ``(..., z_dim)``; ``cov`` ``(..., z_dim, z_dim)`` (the same for every ``x``).

        Book: *A hierarchical VAE*.
        """
        self._check_x(x)
        A, a, _, B, b, log_var_x = self._p64()
        H = torch.cat([B, torch.zeros(self.x_dim, self.z2_dim, dtype=F64)], dim=1)  # (D, z_dim)
        w_x = torch.exp(-log_var_x)  # Sigma_x^{-1}
        lam = self.prior_precision()
        chol = torch.linalg.cholesky(lam + H.T @ (w_x[:, None] * H))
        prior_mean = torch.cat([a, torch.zeros(self.z2_dim, dtype=F64)])
        rhs = lam @ prior_mean + ((x.to(F64) - b) * w_x) @ H  # (..., z_dim)
        mu = torch.cholesky_solve(rhs.unsqueeze(-1), chol).squeeze(-1)
        cov = torch.cholesky_inverse(chol)
        cov = 0.5 * (cov + cov.T)
        return mu.to(self.dtype), cov.to(self.dtype).expand(*mu.shape[:-1], self.z_dim, self.z_dim)

    def bottom_up_message(self, x: Tensor) -> tuple[Tensor, Tensor]:
        r"""$p(x|z_1)$ as a Gaussian in $z_1$: $\mathcal N(z_1;\ \hat\mu, \hat\Sigma)$ with
        $\hat\Sigma = (B^\top\Sigma_x^{-1}B)^{-1}$, $\hat\mu = \hat\Sigma B^\top\Sigma_x^{-1}(x - b)$.

        Then $p(z_1|z_2, x) \propto p(z_1|z_2)\,\mathcal N(z_1;\ \hat\mu, \hat\Sigma)$: the Ladder
        VAE's precision weighting is exact with this message (when $\hat\Sigma$ is diagonal).
        Needs $B$ of full column rank.

        Returns:
            ``(mu_hat, cov_hat)``, shapes ``(..., z1_dim)`` and ``(z1_dim, z1_dim)``.
        """
        self._check_x(x)
        _, _, _, B, b, log_var_x = self._p64()
        w_x = torch.exp(-log_var_x)
        chol = torch.linalg.cholesky(B.T @ (w_x[:, None] * B))
        mu_hat = torch.cholesky_solve((((x.to(F64) - b) * w_x) @ B).unsqueeze(-1), chol).squeeze(-1)
        return mu_hat.to(self.dtype), torch.cholesky_inverse(chol).to(self.dtype)

    # ------------------------------------------------------------ a top-down Gaussian q
    def ladder_conditional(
        self, mu_hat_1: Tensor, log_var_hat_1: Tensor, combine: str = "precision"
    ) -> tuple[Tensor, Tensor, Tensor]:
        r"""The ladder posterior $q(z_1|z_2, x)$ with this chain's top-down prior, as $\mathcal N(Cz_2 + c, S_1)$.

        Both combinations of the message $(\hat\mu_1, \hat\sigma_1^2)$ with
        $p(z_1|z_2) = \mathcal N(Az_2 + a, \Sigma_1)$ are affine in the prior mean:
        $C$ is the combination at $\hat\mu = 0$, $\mu_p = A$ (column by column), $c$ the one at
        $\mu_p = a$. Precision weighting
        (:func:`~vae_edu.models.hierarchical.precision_weighted`) gives $C = (1 - w)\odot A$, the
        residual form (:func:`~vae_edu.models.hierarchical.residual_combined`) $C = A$.

        Args:
            mu_hat_1, log_var_hat_1: the message, shape ``(..., z1_dim)``.
            combine: ``"precision"`` or ``"residual"`` (as :class:`~vae_edu.models.ladder.LadderEncoder`).

        Returns:
            ``(C, c, log_var_q1)``, shapes ``(..., z1_dim, z2_dim)``, ``(..., z1_dim)``, ``(..., z1_dim)``.
        """
        self._check_vector("mu_hat_1", mu_hat_1, self.z1_dim, "z1_dim")
        self._check_vector("log_var_hat_1", log_var_hat_1, self.z1_dim, "z1_dim")
        if combine not in COMBINE:
            raise ValueError(f"combine must be one of {tuple(COMBINE)}, got {combine!r}")
        c, log_var_q1 = COMBINE[combine](mu_hat_1, log_var_hat_1, self.a, self.log_var_1)
        C, _ = COMBINE[combine](
            torch.zeros_like(mu_hat_1)[..., None], log_var_hat_1[..., None], self.A, self.log_var_1[:, None]
        )  # (..., z1_dim, z2_dim)
        return C, c, log_var_q1

    def q_moments(self, mu_q2: Tensor, log_var_q2: Tensor, C: Tensor, c: Tensor, log_var_q1: Tensor) -> tuple[Tensor, Tensor]:
        r"""Mean and covariance of $q(z_1, z_2|x)$ for $q(z_2|x) = \mathcal N(m_2, S_2)$, $q(z_1|z_2, x) = \mathcal N(Cz_2 + c, S_1)$.

        $$\mathbb E_q[z] = [Cm_2 + c,\ m_2],\qquad
          \operatorname{Cov}_q(z) = \begin{pmatrix} CS_2C^\top + S_1 & CS_2\\ S_2C^\top & S_2\end{pmatrix}$$

        Returns:
            ``(mean, cov)``, shapes ``(..., z_dim)`` and ``(..., z_dim, z_dim)``.
        """
        self._check_q(mu_q2, log_var_q2, C, c, log_var_q1)
        batch = torch.broadcast_shapes(mu_q2.shape[:-1], log_var_q2.shape[:-1], C.shape[:-2], c.shape[:-1],
                                       log_var_q1.shape[:-1])  # fmt: skip
        z1, z2 = self.z1_dim, self.z2_dim
        m_2, s_2 = mu_q2.to(F64).expand(*batch, z2), torch.exp(log_var_q2.to(F64)).expand(*batch, z2)
        C, c, s_1 = C.to(F64).expand(*batch, z1, z2), c.to(F64).expand(*batch, z1), torch.exp(log_var_q1.to(F64))
        m_1 = (C @ m_2.unsqueeze(-1)).squeeze(-1) + c  # (..., z1)
        CS = C * s_2[..., None, :]  # C S_2, (..., z1, z2)
        cov_11 = CS @ C.transpose(-1, -2) + torch.diag_embed(s_1.expand(*batch, z1))  # (..., z1, z1)
        top = torch.cat([cov_11, CS], dim=-1)  # (..., z1, z_dim)
        bottom = torch.cat([CS.transpose(-1, -2), torch.diag_embed(s_2)], dim=-1)  # (..., z2, z_dim)
        mean, cov = torch.cat([m_1, m_2], dim=-1), torch.cat([top, bottom], dim=-2)
        return mean.to(self.dtype), cov.to(self.dtype)

    def elbo_terms(
        self, x: Tensor, mu_q2: Tensor, log_var_q2: Tensor, C: Tensor, c: Tensor, log_var_q1: Tensor
    ) -> ChainELBOTerms:
        r"""The three terms of the two-layer ELBO in closed form, for $q(z_2|x) = \mathcal N(m_2, S_2)$, $q(z_1|z_2, x) = \mathcal N(Cz_2 + c, S_1)$.

        With $m_1 = Cm_2 + c$, $V_1 = CS_2C^\top + S_1$ (the mean and covariance of $z_1$ under $q$)
        and $G = C - A$:

        $$\begin{aligned}
        \mathbb E_q[\log p(x|z_1)] &= \log\mathcal N(x;\ Bm_1 + b, \Sigma_x) - \tfrac12\operatorname{tr}\big(B^\top\Sigma_x^{-1}B\,V_1\big),\\
        \mathrm{KL}_1 &= \mathrm{KL}\big(\mathcal N(m_1, S_1)\,\|\,\mathcal N(Am_2 + a, \Sigma_1)\big)
           + \tfrac12\operatorname{tr}\big(G^\top\Sigma_1^{-1}G\,S_2\big),\\
        \mathrm{KL}_2 &= \mathrm{KL}\big(\mathcal N(m_2, S_2)\,\|\,\mathcal N(0, I)\big).
        \end{aligned}$$

        Args:
            x: data ``(..., x_dim)``.
            mu_q2, log_var_q2: $q(z_2|x)$, ``(..., z2_dim)``.
            C, c, log_var_q1: $q(z_1|z_2, x)$, ``(..., z1_dim, z2_dim)``, ``(..., z1_dim)``, ``(..., z1_dim)``.

        Returns:
            a :class:`ChainELBOTerms`, each term of the broadcast batch shape.

        Book: *A hierarchical VAE*.
        """
        self._check_x(x)
        self._check_q(mu_q2, log_var_q2, C, c, log_var_q1)
        A, a, log_var_1, B, b, log_var_x = self._p64()
        x, m_2, lv_2, C, c, lv_1q = (t.to(F64) for t in (x, mu_q2, log_var_q2, C, c, log_var_q1))
        s_2 = torch.exp(lv_2)
        m_1 = (C @ m_2.unsqueeze(-1)).squeeze(-1) + c  # (..., z1)
        BC = B @ C  # (..., D, z2)
        spread = ((BC**2 * s_2[..., None, :]).sum(-1) + (B**2 * torch.exp(lv_1q)[..., None, :]).sum(-1))  # diag(B V_1 B^T)
        reconstruction = log_normal_diag(x, m_1 @ B.T + b, log_var_x) - 0.5 * (spread * torch.exp(-log_var_x)).sum(-1)
        G = C - A  # (..., z1, z2)
        mean_p = m_2 @ A.T + a  # (..., z1)
        kl_1 = kl_normal_normal(m_1, lv_1q, mean_p, log_var_1.expand_as(lv_1q)) + 0.5 * (
            (G**2 * s_2[..., None, :]).sum(-1) * torch.exp(-log_var_1)
        ).sum(-1)
        kl_2 = kl_normal_std_normal(m_2, lv_2)
        shape = torch.broadcast_shapes(reconstruction.shape, kl_1.shape, kl_2.shape)
        return ChainELBOTerms(*(t.expand(shape).to(self.dtype) for t in (reconstruction, kl_1, kl_2)))

    def kl_to_posterior(
        self, x: Tensor, mu_q2: Tensor, log_var_q2: Tensor, C: Tensor, c: Tensor, log_var_q1: Tensor
    ) -> Tensor:
        r"""$\mathrm{KL}\big(q(z_1, z_2|x)\,\|\,p(z_1, z_2|x)\big)$, exactly: the gap $\log p(x) - \mathrm{ELBO}$.

        Returns:
            shape: the broadcast batch shape.

        Book: *A hierarchical VAE*.
        """
        mean_q, cov_q = (t.to(F64) for t in self.q_moments(mu_q2, log_var_q2, C, c, log_var_q1))
        mu, cov = (t.to(F64) for t in self.posterior(x))
        return kl_normal_full(mean_q, cov_q, mu, cov).to(self.dtype)
