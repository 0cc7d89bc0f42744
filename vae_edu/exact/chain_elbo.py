r"""The ELBO of a top-down Gaussian posterior on the linear-Gaussian chain, in closed form.

For $q(z_2|x) = \mathcal N(m_2, S_2)$ and $q(z_1|z_2, x) = \mathcal N(Cz_2 + c, S_1)$ (diagonal
$S_1, S_2$) on the chain of :mod:`vae_edu.exact.linear_gaussian_chain`, every term of the
hierarchical ELBO is a Gaussian integral: :meth:`TopDownELBO.elbo_terms` gives the three terms,
:meth:`TopDownELBO.kl_to_posterior` the gap $\mathrm{KL}\big(q\,\|\,p(z|x)\big)$, and
:meth:`TopDownELBO.ladder_conditional` the $(C, c, S_1)$ of the Ladder VAE's posterior on this chain.
:class:`~vae_edu.exact.linear_gaussian_chain.LinearGaussianChain` has these methods.

Book: *A hierarchical VAE*.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..distributions.gaussian import log_normal_diag
from ..kl import kl_normal_full, kl_normal_normal, kl_normal_std_normal
from ..models.hierarchical import COMBINE

__all__ = ["ChainELBOTerms", "TopDownELBO"]

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


class TopDownELBO:
    """The methods of :class:`~vae_edu.exact.linear_gaussian_chain.LinearGaussianChain` for a top-down Gaussian $q$.

    A base class: it reads the chain's parameters through ``params64()``, its sizes and dtype, and
    checks arguments with ``check_x``, ``check_q`` and ``check_vector_arg``.
    """

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
        self.check_vector_arg("mu_hat_1", mu_hat_1, self.z1_dim, "z1_dim")
        self.check_vector_arg("log_var_hat_1", log_var_hat_1, self.z1_dim, "z1_dim")
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
        self.check_q(mu_q2, log_var_q2, C, c, log_var_q1)
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
        self.check_x(x)
        self.check_q(mu_q2, log_var_q2, C, c, log_var_q1)
        A, a, log_var_1, B, b, log_var_x = self.params64()
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
