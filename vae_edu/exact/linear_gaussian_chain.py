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
  (:meth:`~vae_edu.exact.chain_elbo.TopDownELBO.elbo_terms`) and $\mathrm{KL}\big(q\,\|\,p(z|x)\big)$, so that
  $\log p(x) = \mathrm{ELBO} + \mathrm{KL}\big(q\,\|\,p(z|x)\big)$ can be checked term by term.

The Ladder VAE's posterior (:func:`~vae_edu.models.hierarchical.precision_weighted`) has this form
when its top-down network is this chain's (:meth:`~vae_edu.exact.chain_elbo.TopDownELBO.ladder_conditional`), and it
is *exact* when the bottom-up message is $p(x|z_1)$ read as a Gaussian in $z_1$
(:meth:`LinearGaussianChain.bottom_up_message`) and the covariances it needs are diagonal.

Linear algebra runs in float64; results come back in the chain's dtype.

Book: *A hierarchical VAE*.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..checks import check_event_shapes, check_int, check_tensor, check_vector
from ..distributions.gaussian import log_normal_diag, log_normal_full, log_standard_normal, reparameterize
from ..models.hierarchical import FirstLayerDecoder, HierarchicalPrior, split_z
from ..models.ladder import LadderEncoder
from ..models.vae import VAE
from .chain_elbo import TopDownELBO

__all__ = ["LinearGaussianChain", "LinearGaussianDecoder"]

F64 = torch.float64


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


class LinearGaussianChain(TopDownELBO):
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

    def params64(self) -> tuple[Tensor, ...]:
        return tuple(t.to(F64) for t in (self.A, self.a, self.log_var_1, self.B, self.b, self.log_var_x))

    def check_x(self, x: object) -> Tensor:
        check_tensor("x", x, min_dim=1)
        assert isinstance(x, Tensor)
        check_event_shapes(x=x, b=self.b)
        return x

    def check_vector_arg(self, name: str, value: object, dim: int, dim_name: str) -> Tensor:
        return check_vector(name, value, dim, self.dtype, size_name=dim_name, owner="the chain")

    def check_q(self, mu_q2: Tensor, log_var_q2: Tensor, C: Tensor, c: Tensor, log_var_q1: Tensor) -> None:
        self.check_vector_arg("mu_q2", mu_q2, self.z2_dim, "z2_dim")
        self.check_vector_arg("log_var_q2", log_var_q2, self.z2_dim, "z2_dim")
        self.check_vector_arg("c", c, self.z1_dim, "z1_dim")
        self.check_vector_arg("log_var_q1", log_var_q1, self.z1_dim, "z1_dim")
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
        self.check_x(x)
        self.check_vector_arg("z", z, self.z_dim, "z_dim")
        z_1, z_2 = split_z(z, self.z1_dim)
        log_p_2 = log_standard_normal(z_2)
        log_p_1 = log_normal_diag(z_1, z_2 @ self.A.T + self.a, self.log_var_1)
        log_p_x = log_normal_diag(x, z_1 @ self.B.T + self.b, self.log_var_x)
        return log_p_2 + log_p_1 + log_p_x

    def marginal(self) -> tuple[Tensor, Tensor]:
        r"""The evidence's mean $Ba + b$ ``(x_dim,)`` and covariance $B(AA^\top + \Sigma_1)B^\top + \Sigma_x$ ``(x_dim, x_dim)``."""
        A, a, log_var_1, B, b, log_var_x = self.params64()
        cov_1 = A @ A.T + torch.diag(torch.exp(log_var_1))  # Cov(z_1), (z1, z1)
        cov = B @ cov_1 @ B.T + torch.diag(torch.exp(log_var_x))
        return (B @ a + b).to(self.dtype), (0.5 * (cov + cov.T)).to(self.dtype)

    def log_marginal(self, x: Tensor) -> Tensor:
        r"""Exact $\log p(x)$, shape ``(...)`` for ``x`` ``(..., x_dim)``.

        Book: *A hierarchical VAE*.
        """
        self.check_x(x)
        mean, cov = (t.to(F64) for t in self.marginal())
        return log_normal_full(x.to(F64), mean, cov).to(self.dtype)

    def ladder_vae(self, net: nn.Module, combine: str = "precision") -> VAE:
        r"""This chain as the parts of a hierarchical VAE, with the bottom-up network ``net``.

        ``VAE(LadderEncoder(net, prior), FirstLayerDecoder(LinearGaussianDecoder), prior)`` where
        the prior's top-down network is the linear map $z_2 \mapsto [Az_2 + a,\ \ell_1]$. With a
        linear ``net`` (an ``nn.Linear(x_dim, 2 * z_dim)``) its posterior is of the form of
        :meth:`~vae_edu.exact.chain_elbo.TopDownELBO.elbo_terms`, so the VAE's Monte Carlo ELBO can be checked against it. ``combine``
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
        A, _, log_var_1, *_ = self.params64()
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
        self.check_x(x)
        A, a, _, B, b, log_var_x = self.params64()
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
        self.check_x(x)
        _, _, _, B, b, log_var_x = self.params64()
        w_x = torch.exp(-log_var_x)
        chol = torch.linalg.cholesky(B.T @ (w_x[:, None] * B))
        mu_hat = torch.cholesky_solve((((x.to(F64) - b) * w_x) @ B).unsqueeze(-1), chol).squeeze(-1)
        return mu_hat.to(self.dtype), torch.cholesky_inverse(chol).to(self.dtype)
