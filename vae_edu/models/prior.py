r"""The prior $p(z)$ of a VAE: the standard normal.

Book: *Training a VAE on digits*.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..distributions import log_standard_normal
from ..kl import kl_normal_std_normal
from ..utils import check_int
from .layers import _check_z

__all__ = ["Prior"]


class Prior(nn.Module):
    r"""The standard normal prior $p(z) = \mathcal N(0, I)$.

    It has no parameters; ``mu_p`` and ``log_var_p`` (zeros) are buffers, so the prior follows
    the model's dtype and device.

    Args:
        z_dim: latent dimension $d$.

    Book: *Training a VAE on digits*.
    """

    mu_p: Tensor
    log_var_p: Tensor

    def __init__(self, z_dim: int) -> None:
        super().__init__()
        check_int("z_dim", z_dim)
        self.z_dim = z_dim
        self.register_buffer("mu_p", torch.zeros(z_dim))
        self.register_buffer("log_var_p", torch.zeros(z_dim))

    def log_prob(self, z: Tensor) -> Tensor:
        r"""$\log p(z) = \log\mathcal N(z;\ 0, I)$.

        Args:
            z: latent codes, shape ``(..., z_dim)``.

        Returns:
            shape ``(...)``.
        """
        _check_z(z, self.z_dim, self.mu_p.dtype)
        return log_standard_normal(z)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        r"""Draw $n$ codes $z \sim \mathcal N(0, I)$.

        Returns:
            shape ``(n, z_dim)``.
        """
        check_int("n", n)
        return torch.randn((n, self.z_dim), dtype=self.mu_p.dtype, device=self.mu_p.device, generator=generator)

    def kl(self, mu_q: Tensor, log_var_q: Tensor) -> Tensor:
        r"""$\mathrm{KL}\big(q(z|x)\,\|\,p(z)\big)$ in closed form, summed over the latent dimensions.

        Args:
            mu_q, log_var_q: parameters of $q$, shape ``(..., z_dim)``.

        Returns:
            shape ``(...)``. Pass ``mu_q[..., None]`` and ``log_var_q[..., None]`` for the KL of
            each latent dimension, shape ``(..., z_dim)``.
        """
        return kl_normal_std_normal(mu_q, log_var_q)
